import { describe, expect, it } from "vitest";
import { parseSecretRef, SecretRefError, tryParseSecretRef } from "../../src/secrets/index.js";
import { fixture } from "./helpers.js";

describe("parseSecretRef", () => {
  it("reads file:, env: and prompt references", () => {
    expect(parseSecretRef("file:secrets/ios.cert.pem")).toEqual({ kind: "file", path: "secrets/ios.cert.pem" });
    expect(parseSecretRef("env:IOS_P12_PASSPHRASE")).toEqual({ kind: "env", name: "IOS_P12_PASSPHRASE" });
    expect(parseSecretRef("prompt")).toEqual({ kind: "prompt" });
    expect(parseSecretRef("  file: /abs/key.pem ")).toEqual({ kind: "file", path: "/abs/key.pem" });
  });

  it("refuses literal secrets, explaining why, without echoing the value", () => {
    const pem = fixture("apn-prod.key.pem");
    for (const literal of [pem, "AAAAfake:APA91bSomeServerKeyValue", "hunter2-passphrase", "promptly", "ENV:X"]) {
      let error: unknown;
      try {
        parseSecretRef(literal);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(SecretRefError);
      const msg = (error as Error).message;
      expect(msg).toMatch(/literal secrets are refused because mapping files are meant to be committed/);
      expect(msg).toMatch(/file:<path>, env:<VAR> or prompt/);
      expect(msg).not.toContain(literal.trim().slice(0, 12));
      expect(msg).not.toContain("BEGIN");
    }
  });

  it("refuses an empty file: path and a malformed env: name", () => {
    expect(() => parseSecretRef("file:")).toThrow(/no path/);
    expect(tryParseSecretRef("env:")).toEqual({ error: expect.stringMatching(/environment variable name/) });
    const bad = tryParseSecretRef("env:MIIEvQIBADANBgkqhkiG9w0BAQEFAASC/abc+");
    expect("error" in bad && bad.error).not.toContain("MIIEvQ");
  });
});
