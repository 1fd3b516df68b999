import { describe, expect, it } from "vitest";
import { parseErrorBody } from "../../src/comms/errors.js";

const parse = (body: unknown) => parseErrorBody(400, typeof body === "string" ? body : JSON.stringify(body));

describe("parseErrorBody: every shape, exactly", () => {
  it("Comms errors[]: field prefixes, fallbacks for the message, per-item codes only when there are several", () => {
    expect(parse({ errors: [{ code: 20001, message: " bad ", field: "appName" }] })).toEqual({ code: 20001, message: "appName: bad" });
    expect(parse({ errors: [{ code: "20001", detail: "d", pointer: "/content" }, { code: 20002, title: "t", path: "x" }] })).toEqual({
      code: 20001,
      message: "/content: d (code 20001); x: t (code 20002)",
    });
    expect(parse({ errors: [{}, "plain", null, 7] })).toEqual({ code: undefined, message: "error; plain" });
    expect(parse({ errors: [{ code: 1.5, message: "m" }] })).toEqual({ code: undefined, message: "m" });
    expect(parse({ errors: [{ code: "12a", message: "m" }] })).toEqual({ code: undefined, message: "m" });
  });

  it("an empty or useless errors[] falls back to the top-level fields", () => {
    expect(parse({ errors: [], code: 20003, message: "top" })).toEqual({ code: 20003, message: "top" });
    expect(parse({ errors: [null], message: "top" })).toEqual({ code: undefined, message: "top" });
  });

  it("problem details: title and detail, either, and the same text once", () => {
    expect(parse({ title: "Bad", detail: "Worse", code: 1 })).toEqual({ code: 1, message: "Bad: Worse" });
    expect(parse({ title: "Same", detail: "Same" })).toEqual({ code: undefined, message: "Same" });
    expect(parse({ title: "Only" })).toEqual({ code: undefined, message: "Only" });
    expect(parse({ detail: "Only detail" })).toEqual({ code: undefined, message: "Only detail" });
  });

  it("classic and OAuth-style messages, then the status", () => {
    expect(parse({ message: "classic" })).toEqual({ code: undefined, message: "classic" });
    expect(parse({ error_description: "oauth" })).toEqual({ code: undefined, message: "oauth" });
    expect(parse({ error: "short" })).toEqual({ code: undefined, message: "short" });
    expect(parse({ message: "  " })).toEqual({ code: undefined, message: "HTTP 400" });
  });

  it("text, HTML and empty bodies, clipped to one line", () => {
    expect(parse("<html><b>Bad</b>\n gateway</html>")).toEqual({ code: undefined, message: "HTTP 400: Bad gateway" });
    expect(parse("   ")).toEqual({ code: undefined, message: "HTTP 400 with an empty body" });
    expect(parse("[1,2]")).toEqual({ code: undefined, message: "HTTP 400: [1,2]" });
    const long = parse("x".repeat(400)).message;
    expect(long).toBe(`HTTP 400: ${"x".repeat(300)}…`);
    expect(parse("y".repeat(300)).message).toBe(`HTTP 400: ${"y".repeat(300)}`);
  });
});
