import { describe, expect, it } from "vitest";
import { resolveCredentials, resolveSettings } from "../../src/cli/config.js";
import { UsageError } from "../../src/errors.js";

const AC = "AC0123456789abcdef0123456789abcdef";

describe("resolveSettings", () => {
  it("uses SPEC defaults", () => {
    const s = resolveSettings({}, {}, "/work");
    expect(s).toMatchObject({
      conversationsUrl: "https://conversations.twilio.com",
      commsUrl: "https://comms.twilio.com",
      commsApiVersion: "v1",
      mappingPath: "/work/mappings/migration.yaml",
      reportsDir: "/work/reports",
      ledgerPath: "/work/reports/ledger.jsonl",
      concurrency: 4,
      logLevel: "info",
    });
  });
  it("prefers flags over environment variables", () => {
    const env = { CR2COMMS_COMMS_URL: "http://127.0.0.1:1", CR2COMMS_REPORTS_DIR: "out", CR2COMMS_CONCURRENCY: "8", CR2COMMS_COMMS_API_VERSION: "preview" };
    const s = resolveSettings({ commsUrl: "http://127.0.0.1:2/" }, env, "/w");
    expect(s.commsUrl).toBe("http://127.0.0.1:2");
    expect(s.reportsDir).toBe("/w/out");
    expect(s.ledgerPath).toBe("/w/out/ledger.jsonl");
    expect(s.concurrency).toBe(8);
    expect(s.commsApiVersion).toBe("preview");
  });
  it("rejects bad values as usage errors", () => {
    expect(() => resolveSettings({ commsApiVersion: "v2" }, {})).toThrow(UsageError);
    expect(() => resolveSettings({ concurrency: 0 }, {})).toThrow(/concurrency/);
    expect(() => resolveSettings({}, { CR2COMMS_CONVERSATIONS_URL: "ftp://x" })).toThrow(/CR2COMMS_CONVERSATIONS_URL/);
  });
});

describe("resolveCredentials", () => {
  it("names the missing variable", () => {
    expect(() => resolveCredentials({}, {})).toThrow(/TWILIO_ACCOUNT_SID/);
    expect(() => resolveCredentials({}, { TWILIO_ACCOUNT_SID: AC })).toThrow(/TWILIO_AUTH_TOKEN/);
    expect(() => resolveCredentials({}, { TWILIO_ACCOUNT_SID: AC, TWILIO_API_KEY: "SKx" })).toThrow(/TWILIO_API_SECRET/);
    expect(() => resolveCredentials({}, { TWILIO_ACCOUNT_SID: "nope", TWILIO_AUTH_TOKEN: "t" })).toThrow(/AC followed by 32 hex/);
  });
  it("uses the auth token or the API key pair", () => {
    expect(resolveCredentials({}, { TWILIO_ACCOUNT_SID: AC, TWILIO_AUTH_TOKEN: "tok" })).toEqual({ accountSid: AC, username: AC, password: "tok", kind: "auth-token", label: `TWILIO_AUTH_TOKEN for ${AC}` });
    expect(resolveCredentials({ apiKey: "SK1", apiSecret: "sec" }, { TWILIO_ACCOUNT_SID: AC, TWILIO_AUTH_TOKEN: "tok" })).toEqual({ accountSid: AC, username: "SK1", password: "sec", kind: "api-key", label: "API key SK1 (--api-key/--api-secret)" });
  });
  it("does not echo the secret in errors", () => {
    let message = "";
    try {
      resolveCredentials({ accountSid: "ACbad-value" }, { TWILIO_AUTH_TOKEN: "super-secret" });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/account SID/);
    expect(message).not.toContain("super-secret");
  });
});
