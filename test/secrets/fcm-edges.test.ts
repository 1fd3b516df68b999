import { describe, expect, it } from "vitest";
import { validateFcm } from "../../src/secrets/index.js";
import { fixture } from "./helpers.js";

const sa = () => JSON.parse(fixture("fcm-service-account.json")) as Record<string, unknown>;
const validate = (over: Record<string, unknown>) => validateFcm(JSON.stringify({ ...sa(), ...over }));
const WHERE = "download the service-account key: Firebase console → Project settings → Service accounts → Generate new private key";

describe("validateFcm: what is sent", () => {
  it("only a leading byte-order mark is dropped; one inside a value is sent as it is", () => {
    const text = JSON.stringify({ ...sa(), _comment: "FAKE \uFEFF fixture" });
    const r = validateFcm(text);
    expect(r.problems).toEqual([]);
    expect(r.secret?.kind === "fcm" && r.secret.serviceAccountJson).toBe(text);
  });
});

describe("validateFcm: what is not a service-account key", () => {
  it("a Google API key (AIza…), even after blank space, is recognised as a legacy key", () => {
    expect(validateFcm("  AIzaFAKE-cr2comms-test-fixture\n").problems).toEqual([
      `serviceAccount looks like a legacy FCM server key, which Comms cannot use: it needs the service-account JSON (FCM HTTP v1); ${WHERE}`,
    ]);
  });

  it("text that only contains a key-like run later on is plain invalid JSON", () => {
    expect(validateFcm("key: AIzaFAKE").problems).toEqual([`serviceAccount is not valid JSON; ${WHERE}`]);
    expect(validateFcm("AAAA:APA91bFAKE").problems).toEqual([`serviceAccount is not valid JSON; ${WHERE}`]);
  });

  it("either half of a google-services.json marks it as the Firebase app configuration", () => {
    const gs = JSON.parse(fixture("google-services.json")) as Record<string, unknown>;
    for (const half of [{ project_info: gs.project_info }, { client: gs.client }]) {
      expect(validateFcm(JSON.stringify({ ...sa(), ...half })).problems).toEqual([expect.stringMatching(/is a google-services\.json/)]);
    }
  });

  it.each(["null", '"service_account"', "42"])("JSON %s is not an object", (text) => {
    expect(validateFcm(text)).toEqual({ problems: [`serviceAccount is JSON but not an object; ${WHERE}`], warnings: [] });
  });
});

describe("validateFcm: the type field is shown only when it is a plain word", () => {
  it.each([
    [42, "not a known value"],
    ["Service Account", "not a known value"],
    ["-----BEGIN PRIVATE KEY-----", "not a known value"],
    ["x".repeat(41), "not a known value"],
    ["x".repeat(40), `"${"x".repeat(40)}"`],
    ["external_account", '"external_account"'],
  ])("type %j reads as %s", (type, shown) => {
    const r = validate({ type });
    expect(r.secret).toBeUndefined();
    expect(r.problems).toEqual([`serviceAccount: type must be "service_account" (it is ${shown}); ${WHERE}`]);
  });
});

describe("validateFcm: identity fields", () => {
  it("a client_email that is not a string is missing", () => {
    expect(validate({ client_email: 42 }).problems).toEqual(["serviceAccount: client_email is missing or not an e-mail address"]);
    expect(validate({ client_email: "   " }).problems).toEqual(["serviceAccount: client_email is missing or not an e-mail address"]);
  });

  it("a private_key that is blank is missing", () => {
    expect(validate({ private_key: " " }).problems).toEqual(["serviceAccount: private_key is missing"]);
  });

  it("the fingerprint names only the identity fields that are present", () => {
    const r = validate({ project_id: " ", client_email: 7, private_key_id: undefined });
    expect(r.fingerprint).toEqual({ kind: "fcm", contentSha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
  });

  it.each([
    ["a short id", "0f377e8"],
    ["text around a hex id", "key-0f377e86d767fa2586a81b63e49e3356936f443f"],
    ["a hex id followed by more", "0f377e86d767fa2586a81b63e49e3356936f443f!"],
    ["an id over 128 digits", "a".repeat(129)],
  ])("a private_key_id that is %s is not recorded", (_what, id) => {
    const r = validate({ private_key_id: id });
    expect(r.problems).toEqual([]);
    expect(r.fingerprint).not.toHaveProperty("keyId");
  });

  it("a private_key_id of 8 to 128 hex digits, any case, is recorded", () => {
    expect(validate({ private_key_id: "ABCDEF01" }).fingerprint?.keyId).toBe("ABCDEF01");
    expect(validate({ private_key_id: "a".repeat(128) }).fingerprint?.keyId).toBe("a".repeat(128));
  });
});
