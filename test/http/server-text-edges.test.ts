/** Edges of cleaning server text: what counts as secret-looking, what counts as sent. */
import { describe, expect, it } from "vitest";
import { cleanServerText, parseErrorBody, rememberSecret } from "../../src/http/server-text.js";

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");

describe("cleanServerText: secret-looking runs", () => {
  it("a long run of letters alone, or lowercase with digits, is a word or an id and is kept", () => {
    const camel = "ThisIsAVeryLongCamelCaseIdentifierName";
    expect(cleanServerText(`field ${camel} bad`)).toBe(`field ${camel} bad`);
    const lower = "abcdefghijklmnopqrstuvwxyz0123456789";
    expect(cleanServerText(`id ${lower}`)).toBe(`id ${lower}`);
  });

  it("mixed case with digits, or hex, 32+ long is removed; 31 is kept", () => {
    expect(cleanServerText("k Ab1Ab1Ab1Ab1Ab1Ab1Ab1Ab1Ab1Ab1Ab x")).toBe("k [redacted] x");
    expect(cleanServerText("k Ab1Ab1Ab1Ab1Ab1Ab1Ab1Ab1Ab1Ab1A x")).toBe("k Ab1Ab1Ab1Ab1Ab1Ab1Ab1Ab1Ab1Ab1A x");
    expect(cleanServerText(`h ${"0123456789abcdef".repeat(2)} x`)).toBe("h [redacted] x");
  });

  it("a path of SIDs and short names is kept; a path with a secret-looking segment is not", () => {
    const sidPath = "/v1/Accounts/AC0123456789abcdef0123456789abcdef/Credentials";
    expect(cleanServerText(`at ${sidPath}`)).toBe(`at ${sidPath}`);
    expect(cleanServerText("at /v1/Keys/Ab1Ab1Ab1Ab1Ab1Ab1Ab1Ab1Ab1Ab1Ab1Ab1")).toBe("at [redacted]");
    expect(cleanServerText("at /v1/Keys/ThisSegmentIsLongerThanThirtyTwoLetters")).toBe("at [redacted]");
  });
});

describe("cleanServerText: what was sent", () => {
  it("a sent value shorter than 8 characters is not looked for; from 8 on it is", () => {
    expect(cleanServerText("the value abcdefg is wrong", { sent: ["abcdefg"] })).toBe("the value abcdefg is wrong");
    expect(cleanServerText("the value abcdefgh is wrong", { sent: ["abcdefgh"] })).toBe("the value [redacted] is wrong");
  });

  it("JSON sent as is: its string values count as sent", () => {
    const json = JSON.stringify({ client_email: "robot@proj.iam.gserviceaccount.com", note: ["nested-value-1"] });
    expect(cleanServerText("who robot@proj.iam.gserviceaccount.com and nested-value-1", { sent: [json] })).toBe("who [redacted] and [redacted]");
  });

  it("a PEM body inside what was sent counts, line breaks escaped or not", () => {
    const body = "QUJDREVGR0hJSktMTU5PUA";
    const pem = `-----BEGIN PRIVATE KEY-----\\n${body}\\n-----END PRIVATE KEY-----`;
    expect(cleanServerText(`echo ${body.slice(2, 14)}`, { sent: [JSON.stringify({ private_key: pem })] })).toBe("echo [redacted]");
  });

  it("base64 that decodes to binary is looked for only as sent", () => {
    const binary = Buffer.from([0xff, 0xfe, 0xfd, 0x00, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x8c]).toString("base64");
    expect(cleanServerText(`got ${binary.slice(0, 10)}`, { sent: [binary] })).toBe("got [redacted]");
  });

  it("base64 of base64 of a secret: each layer is looked for", () => {
    const secret = "very-secret-service-account-key";
    const twice = b64(b64(secret));
    expect(cleanServerText(`echo ${secret}`, { sent: [twice] })).toBe("echo [redacted]");
  });
});

describe("parseErrorBody: codes", () => {
  it("takes a numeric string code and the first item's code; ignores non-integer codes", () => {
    expect(parseErrorBody(400, JSON.stringify({ code: "20001", message: "bad" }))).toEqual({ code: 20001, message: "bad" });
    expect(parseErrorBody(400, JSON.stringify({ code: 1.5, message: "bad" }))).toEqual({ code: undefined, message: "bad" });
    expect(parseErrorBody(400, JSON.stringify({ code: "20a", message: "bad" }))).toEqual({ code: undefined, message: "bad" });
    expect(parseErrorBody(400, JSON.stringify({ errors: [{ message: "a" }, { code: 7, message: "b" }, { code: 8, message: "c" }] }))).toEqual({ code: 7, message: "a; b (code 7); c (code 8)" });
  });

  it("skips items that are neither text nor objects; a JSON array body is read as text", () => {
    expect(parseErrorBody(400, JSON.stringify({ errors: [null, 3, "plain"] }))).toEqual({ code: undefined, message: "plain" });
    expect(parseErrorBody(400, JSON.stringify(["x"]))).toEqual({ code: undefined, message: 'HTTP 400: ["x"]' });
    expect(parseErrorBody(400, "   ")).toEqual({ code: undefined, message: "HTTP 400 with an empty body" });
  });
});

describe("cleanServerText: sent JSON, PEM and base64 in every form the server may echo", () => {
  it("JSON string values count as sent as the parser reads them (escaped slashes, \\u escapes), nested or at the top", () => {
    const sent = ['{"token":"abcd\\/efgh\\/ijkl","list":["x\\u0041yyyyyyyy"],"deep":{"k":"p\\u0041ssword-123"}}'];
    expect(cleanServerText("echo abcd/efgh/ijkl | xAyyyyyyyy | pAssword-123", { sent })).toBe("echo [redacted] | [redacted] | [redacted]");
    expect(cleanServerText("echo s3cret-value", { sent: [' ["s3cr\\u0065t-value"]'] })).toBe("echo [redacted]");
    // Nulls, numbers and booleans among the values are no text, and do not stop the search.
    expect(cleanServerText("echo secret-value-x", { sent: ['{"a":null,"n":1,"b":true,"k":"secret\\u002dvalue-x"}'] })).toBe("echo [redacted]");
  });

  it("a PEM body counts across its line breaks, from JSON (escaped \\n) and from base64", () => {
    const lines = ["QUJDREVGR0hJSktMTU5PUFFSU1RV", "V1hZWmFiY2RlZmdoaWprbG1ub3Bx"];
    const pem = `-----BEGIN PRIVATE KEY-----\n${lines.join("\n")}\n-----END PRIVATE KEY-----\n`;
    const across = `${lines[0]!.slice(-6)}${lines[1]!.slice(0, 6)}`;
    expect(cleanServerText(`got ${across}`, { sent: [JSON.stringify({ private_key: pem })] })).toBe("got [redacted]");
    expect(cleanServerText(`got ${across}`, { sent: [b64(pem)] })).toBe("got [redacted]");
    expect(cleanServerText(`got ${across}`)).toBe(`got ${across}`);
  });

  it("base64 wrapped over lines is decoded; 16 characters of base64 already are", () => {
    const wrapped = b64(JSON.stringify({ client_email: "wrapped@proj.iam.gserviceaccount.com", pad: "x".repeat(60) })).replace(/(.{40})/g, "$1\n");
    expect(cleanServerText("who wrapped@proj.iam.gserviceaccount.com", { sent: [wrapped] })).toBe("who [redacted]");
    expect(b64("secret-word1")).toHaveLength(16);
    expect(cleanServerText("saw secret-word1", { sent: [b64("secret-word1")] })).toBe("saw [redacted]");
  });
});

describe("cleanServerText: paths and case", () => {
  it("a path segment of exactly 32 characters, or one starting with a digit or holding a +, is not a plain name", () => {
    expect(cleanServerText("at /v1/Keys/Ab1Ab1Ab1Ab1Ab1Ab1Ab1Ab1Ab1Ab1Ab")).toBe("at [redacted]");
    expect(cleanServerText("at /v1/Keys/1Ab1Ab1Ab1Ab1Ab1Ab1Ab1Ab1")).toBe("at [redacted]");
    expect(cleanServerText("at /v1/Keys/Ab1+Ab1+Ab1+Ab1+Ab1+Ab1+Ab")).toBe("at [redacted]");
  });

  it("upper case with digits but no lower case (an error code, a ticket id) is kept", () => {
    expect(cleanServerText("ref AB12CD34EF56GH78IJ90KL12MN34OP56QR")).toBe("ref AB12CD34EF56GH78IJ90KL12MN34OP56QR");
  });
});

describe("parseErrorBody: odd bodies", () => {
  it("a JSON number or string body is quoted as text", () => {
    expect(parseErrorBody(400, "42")).toEqual({ code: undefined, message: "HTTP 400: 42" });
    expect(parseErrorBody(400, '"just text"')).toEqual({ code: undefined, message: 'HTTP 400: "just text"' });
  });

  it("blank fields are skipped; title and detail equal once trimmed are said once", () => {
    expect(parseErrorBody(400, JSON.stringify({ message: "   ", error: "real reason" })).message).toBe("real reason");
    expect(parseErrorBody(400, JSON.stringify({ title: "Bad Request ", detail: "Bad Request" })).message).toBe("Bad Request");
  });

  it("HTML tags become spaces between words", () => {
    expect(parseErrorBody(500, "<p>one</p><p>two</p>").message).toBe("HTTP 500: one two");
  });
});

describe("cleanServerText: remembered secrets, however many (one token per account over many accounts)", () => {
  it("finds any run of 8+ characters of any of thousands of remembered secrets, and only those", () => {
    const tokens = Array.from({ length: 3000 }, (_, i) => `acct${i}-verdant-meadow-${i}`);
    rememberSecret(...tokens);
    expect(cleanServerText(`echo ${tokens[2999]} end`)).toBe("echo [redacted] end");
    expect(cleanServerText("echo verdant-meadow-1234 end")).toBe("echo [redacted] end"); // the middle of token 1234
    expect(cleanServerText("echo acct7-verdant end")).toBe("echo [redacted] end"); // the start of token 7
    // Shares its first 8 characters with every token, but occurs in none.
    expect(cleanServerText("echo verdant-meadow-99999 end")).toBe("echo verdant-meadow-99999 end");
    expect(cleanServerText("echo meadow-77 end")).toBe("echo [redacted] end"); // inside tokens 77 and 770–779
    expect(cleanServerText("echo meadow-3000 end")).toBe("echo meadow-3000 end");
  });
});
