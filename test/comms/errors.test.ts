import { describe, expect, it } from "vitest";
import { parseErrorBody } from "../../src/comms/errors.js";

describe("parseErrorBody", () => {
  it("reads the Comms errors[] shape", () => {
    const body = JSON.stringify({
      errors: [{ code: 20404, message: "Credential not found", infoUrl: "https://www.twilio.com/docs/api/errors/20404" }],
    });
    expect(parseErrorBody(404, body)).toEqual({ code: 20404, message: "Credential not found" });
  });

  it("joins several errors[] entries with their fields and codes", () => {
    const body = JSON.stringify({
      errors: [
        { code: 21001, message: "must match ^[a-z0-9_]+$", field: "appName" },
        { code: 21002, message: "is required", field: "content.privateKey" },
      ],
    });
    expect(parseErrorBody(400, body)).toEqual({
      code: 21001,
      message: "appName: must match ^[a-z0-9_]+$ (code 21001); content.privateKey: is required (code 21002)",
    });
  });

  it("reads the classic Twilio shape", () => {
    const body = JSON.stringify({ code: 20003, message: "Authenticate", more_info: "https://…", status: 401 });
    expect(parseErrorBody(401, body)).toEqual({ code: 20003, message: "Authenticate" });
  });

  it("reads RFC 9457 problem details", () => {
    const body = JSON.stringify({ type: "https://x/limit", title: "Limit exceeded", status: 400, detail: "App has 10 credentials", code: 45001 });
    expect(parseErrorBody(400, body)).toEqual({ code: 45001, message: "Limit exceeded: App has 10 credentials" });
  });

  it("survives non-JSON and empty bodies", () => {
    expect(parseErrorBody(502, "<html><body><h1>502 Bad Gateway</h1></body></html>")).toEqual({
      code: undefined,
      message: "HTTP 502: 502 Bad Gateway",
    });
    expect(parseErrorBody(500, "")).toEqual({ code: undefined, message: "HTTP 500 with an empty body" });
    expect(parseErrorBody(400, "[1,2]").message).toBe("HTTP 400: [1,2]");
    expect(parseErrorBody(400, "{}")).toEqual({ code: undefined, message: "HTTP 400" });
  });

  it("clips very long bodies", () => {
    expect(parseErrorBody(500, "x".repeat(5000)).message.length).toBeLessThan(400);
  });
});
