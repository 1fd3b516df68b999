import { createPrivateKey, X509Certificate } from "node:crypto";
import forge from "node-forge";
import { describe, expect, it } from "vitest";
import { derToPem, readP12, validateApn } from "../../src/secrets/index.js";
import { makeEcPushCert, plainP12 } from "./certs.js";
import { certTimes, fixture, fixtureBytes } from "./helpers.js";

const DAY = 86_400_000;

describe("readP12: bundles node-forge cannot fully decode", () => {
  it("a .p12 with a P-256 key and certificate opens, validates, and keeps the key as PKCS#8", () => {
    const notBefore = new Date(Date.UTC(2030, 0, 1));
    const { certDer, key } = makeEcPushCert(notBefore, new Date(notBefore.getTime() + 365 * DAY));
    const opened = readP12(plainP12([certDer], [key]), undefined);
    if ("problem" in opened) throw new Error(opened.problem);
    expect(opened.certificatePem).toBe(derToPem("CERTIFICATE", certDer));
    expect(createPrivateKey(opened.privateKeyPem).asymmetricKeyType).toBe("ec");

    const r = validateApn(opened.certificatePem, opened.privateKeyPem, "APN_SANDBOX", new Date(notBefore.getTime() + 10 * DAY));
    expect(r.problems).toEqual([]);
    expect(r.fingerprint?.environment).toBe("development");
    if (r.secret?.kind !== "apn") throw new Error("expected an APN secret");
    expect(r.secret.privateKeyPem.startsWith("-----BEGIN PRIVATE KEY-----\n")).toBe(true);
    expect(r.secret.certificatePem).toBe(new X509Certificate(certDer).toString());
  });

  it("an unprotected bundle with an RSA key in a plain key bag opens with no passphrase", () => {
    const certDer = new X509Certificate(fixture("apn-dev.cert.pem")).raw;
    const opened = readP12(plainP12([certDer], [createPrivateKey(fixture("apn-dev.key.pem"))]), undefined);
    if ("problem" in opened) throw new Error(opened.problem);
    const r = validateApn(opened.certificatePem, opened.privateKeyPem, "APN_SANDBOX", certTimes("apn-dev.cert.pem").midlife);
    expect(r.problems).toEqual([]);
  });

  it("every certificate of the bundle is returned (the push certificate is picked later by its key)", () => {
    const ca = new X509Certificate(fixture("fake-ca.cert.pem")).raw;
    const leaf = new X509Certificate(fixture("apn-dev.cert.pem")).raw;
    const opened = readP12(plainP12([ca, leaf], [createPrivateKey(fixture("apn-dev.key.pem"))]), undefined);
    if ("problem" in opened) throw new Error(opened.problem);
    expect(opened.certificatePem).toMatch(/^(-----BEGIN CERTIFICATE-----\r?\n[\s\S]+?-----END CERTIFICATE-----\r?\n){2}$/);
    expect(validateApn(opened.certificatePem, opened.privateKeyPem, "APN_SANDBOX", certTimes("apn-dev.cert.pem").midlife).fingerprint?.subject).toContain("development");
  });

  it("the first key of a bundle holding two is the one returned", () => {
    const certDer = new X509Certificate(fixture("apn-dev.cert.pem")).raw;
    const first = createPrivateKey(fixture("apn-dev.key.pem"));
    const opened = readP12(plainP12([certDer], [first, createPrivateKey(fixture("other.key.pem"))]), undefined);
    if ("problem" in opened) throw new Error(opened.problem);
    expect(createPrivateKey(opened.privateKeyPem).export({ type: "pkcs1", format: "pem" })).toBe(first.export({ type: "pkcs1", format: "pem" }));
  });
});

describe("readP12: algorithms that cannot be read", () => {
  it("a MAC algorithm node-forge does not know is named, with what to do instead", () => {
    // A forge-made bundle whose MAC digest algorithm is swapped for SHA-224 (which forge does not implement).
    const asn1 = forge.asn1.fromDer(fixtureBytes("apn-dev.p12").toString("binary"));
    const macAlgorithm = (((asn1.value as forge.asn1.Asn1[])[2]!.value as forge.asn1.Asn1[])[0]!.value as forge.asn1.Asn1[])[0]!.value as forge.asn1.Asn1[];
    macAlgorithm[0] = forge.asn1.create(forge.asn1.Class.UNIVERSAL, forge.asn1.Type.OID, false, forge.asn1.oidToDer("2.16.840.1.101.3.4.2.4").getBytes());
    const bytes = Buffer.from(forge.asn1.toDer(asn1).getBytes(), "binary");
    const r = readP12(bytes, "fake-passphrase");
    expect(r).toEqual({
      problem: "the .p12 uses an encryption or MAC algorithm that cannot be read (PKCS#12 uses unsupported MAC algorithm: 2.16.840.1.101.3.4.2.4); re-export it, or convert it to PEM with openssl",
    });
  });
});
