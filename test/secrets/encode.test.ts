import { describe, expect, it } from "vitest";
import { encodeContent, validateApn, validateFcm } from "../../src/secrets/index.js";
import { certTimes, fixture } from "./helpers.js";

describe("encodeContent", () => {
  it("APN: base64 of the certificate PEM and of the PKCS#1 key PEM", () => {
    const r = validateApn(fixture("apn-prod.cert.pem"), fixture("apn-prod.key-pkcs8.pem"), "APN", certTimes("apn-prod.cert.pem").midlife);
    if (r.secret?.kind !== "apn") throw new Error("expected an APN secret");
    const content = encodeContent(r.secret);
    expect(Object.keys(content).sort()).toEqual(["certificate", "privateKey"]);
    if (!("certificate" in content)) throw new Error("unreachable");
    const cert = Buffer.from(content.certificate, "base64").toString("utf8");
    const key = Buffer.from(content.privateKey, "base64").toString("utf8");
    expect(cert).toBe(r.secret.certificatePem);
    expect(cert).toMatch(/^-----BEGIN CERTIFICATE-----\n[\s\S]+\n-----END CERTIFICATE-----\n$/);
    expect(key).toMatch(/^-----BEGIN RSA PRIVATE KEY-----\n/);
  });

  it("FCM: base64 of the whole JSON file, byte for byte", () => {
    const text = fixture("fcm-service-account.json");
    const r = validateFcm(text);
    if (!r.secret) throw new Error(r.problems.join("; "));
    expect(encodeContent(r.secret)).toEqual({ privateKey: Buffer.from(text, "utf8").toString("base64") });
  });
});
