import { describe, expect, it } from "vitest";
import { Cr2commsError, EXIT } from "../../src/errors.js";
import { NetworkError, stripUrl } from "../../src/http/errors.js";
import { parseBaseUrl } from "../../src/http/url.js";

describe("NetworkError", () => {
  it("names the API, method and URL without query or userinfo, and the error code", () => {
    const cause = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" });
    const err = new NetworkError("Comms", "get", "https://user:fake-pass@comms.example/v1/Credentials?PageSize=50", cause);
    expect(err.message).toBe("Comms API unreachable: GET https://comms.example/v1/Credentials failed (ECONNREFUSED)");
    expect(err).toMatchObject({ url: "https://comms.example/v1/Credentials", code: "ECONNREFUSED", exitCode: EXIT.failure, cause });
  });

  it("without a code, says what the cause says", () => {
    expect(new NetworkError("Comms", "POST", "https://comms.example/x", new Error("socket hang up")).message).toMatch(/failed \(socket hang up\)$/);
    expect(new NetworkError("Comms", "POST", "https://comms.example/x", "plain text").message).toMatch(/failed \(plain text\)$/);
  });
});

describe("stripUrl", () => {
  it("keeps what is not a URL up to its query", () => {
    expect(stripUrl("not a url?token=x")).toBe("not a url");
    expect(stripUrl("")).toBe("");
  });
});

describe("parseBaseUrl", () => {
  it("accepts http and https", () => {
    expect(parseBaseUrl("https://comms.twilio.com", "Comms").host).toBe("comms.twilio.com");
    expect(parseBaseUrl("http://127.0.0.1:8080", "Comms").port).toBe("8080");
  });

  it("refuses anything else as a usage error naming the API", () => {
    for (const bad of ["not a url", "ftp://comms.twilio.com"]) {
      let caught: unknown;
      try {
        parseBaseUrl(bad, "Comms");
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(Cr2commsError);
      expect(caught).toMatchObject({ exitCode: EXIT.usage, message: expect.stringMatching(/Comms base URL/) });
    }
  });
});
