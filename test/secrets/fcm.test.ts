import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { validateFcm } from "../../src/secrets/index.js";
import { fixture } from "./helpers.js";

const sa = () => JSON.parse(fixture("fcm-service-account.json")) as Record<string, unknown>;

describe("validateFcm", () => {
  it("accepts a service-account JSON, keeps the whole text and fingerprints it", () => {
    const text = fixture("fcm-service-account.json");
    const r = validateFcm(text);
    expect(r.problems).toEqual([]);
    expect(r.secret).toEqual({ kind: "fcm", serviceAccountJson: text, fingerprint: r.fingerprint });
    expect(r.fingerprint).toEqual({
      kind: "fcm",
      contentSha256: createHash("sha256").update(text).digest("hex"),
      projectId: "fake-cr2comms-fixture",
      clientEmail: "fake-fixture@fake-cr2comms-fixture.iam.gserviceaccount.com",
      keyId: "0f377e86d767fa2586a81b63e49e3356936f443f",
    });
  });

  it("drops a byte-order mark from what is sent", () => {
    const text = fixture("fcm-service-account.json");
    const r = validateFcm("\uFEFF" + text);
    expect(r.secret?.kind === "fcm" && r.secret.serviceAccountJson).toBe(text);
  });

  it("recognises google-services.json as the wrong file", () => {
    const r = validateFcm(fixture("google-services.json"));
    expect(r.secret).toBeUndefined();
    expect(r.problems).toEqual([expect.stringMatching(/google-services\.json .*not a service-account key.*Generate new private key/)]);
  });

  it("recognises a legacy FCM server key and says Comms needs the service-account JSON (HTTP v1)", () => {
    const r = validateFcm(fixture("fcm-server-key.txt"));
    expect(r.problems).toEqual([expect.stringMatching(/legacy FCM server key, which Comms cannot use: it needs the service-account JSON \(FCM HTTP v1\)/)]);
  });

  it("refuses non-JSON and non-object JSON", () => {
    expect(validateFcm(fixture("garbage.bin")).problems).toEqual([expect.stringMatching(/not valid JSON/)]);
    expect(validateFcm("[1,2]").problems).toEqual([expect.stringMatching(/not an object/)]);
  });

  it("checks type, project_id, client_email and that private_key parses — all at once", () => {
    const doc = { ...sa(), type: "authorized_user", project_id: "", client_email: "nobody", private_key: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n" };
    const r = validateFcm(JSON.stringify(doc));
    expect(r.secret).toBeUndefined();
    expect(r.problems).toEqual([
      expect.stringMatching(/type must be "service_account" \(it is "authorized_user"\)/),
      expect.stringMatching(/project_id is missing/),
      expect.stringMatching(/client_email is missing/),
      expect.stringMatching(/private_key does not parse/),
    ]);
    const { private_key: _ignored, ...noKey } = sa();
    expect(validateFcm(JSON.stringify(noKey)).problems).toEqual([expect.stringMatching(/private_key is missing/)]);
    const { type: _t, ...noType } = sa();
    expect(validateFcm(JSON.stringify(noType)).problems).toEqual([expect.stringMatching(/it is missing/)]);
  });
});
