import { describe, expect, it } from "vitest";
import forge from "node-forge";
import { readP12, validateApn } from "../../src/secrets/index.js";
import { certTimes, fixture, fixtureBytes } from "./helpers.js";

const now = () => certTimes("apn-dev.cert.pem").midlife;

describe("readP12", () => {
  for (const [file, what] of [
    ["apn-dev.p12", "3DES key bag (node-forge's writer)"],
    ["apn-dev-aes256.p12", "PBES2/AES-256 key bag"],
    ["apn-dev-legacy-rc2.p12", "legacy RC2-40 certificate bag + 3DES key bag"],
  ] as const) {
    it(`opens a ${what} with its passphrase and yields a valid development pair`, () => {
      const out = readP12(fixtureBytes(file), "fake-passphrase");
      if ("problem" in out) throw new Error(out.problem);
      expect(out.certificatePem).toContain("-----BEGIN CERTIFICATE-----");
      const r = validateApn(out.certificatePem, out.privateKeyPem, "APN_SANDBOX", now());
      expect(r.problems).toEqual([]);
      expect(r.fingerprint?.environment).toBe("development");
      expect(r.fingerprint?.subject).toContain("development p12");
      if (r.secret?.kind !== "apn") throw new Error("expected an APN secret");
      // The bundle also carries the fake CA; only the push certificate is sent.
      expect(r.secret.certificatePem.match(/BEGIN CERTIFICATE/g)).toHaveLength(1);
      expect(r.secret.privateKeyPem.startsWith("-----BEGIN RSA PRIVATE KEY-----")).toBe(true);
    });
  }

  it("opens a bundle that has no passphrase, whether its MAC uses an absent or an empty password", () => {
    for (const file of ["apn-dev-nopass.p12", "apn-dev-emptypass.p12"]) {
      const out = readP12(fixtureBytes(file), undefined);
      if ("problem" in out) throw new Error(`${file}: ${out.problem}`);
      expect(validateApn(out.certificatePem, out.privateKeyPem, "APN_SANDBOX", now()).problems).toEqual([]);
    }
  });

  it("says clearly when the passphrase is wrong or missing", () => {
    expect(readP12(fixtureBytes("apn-dev.p12"), "wrong-passphrase")).toEqual({ problem: expect.stringMatching(/passphrase does not open the \.p12/) });
    expect(readP12(fixtureBytes("apn-dev-legacy-rc2.p12"), "wrong-passphrase")).toEqual({ problem: expect.stringMatching(/wrong passphrase/) });
    expect(readP12(fixtureBytes("apn-dev.p12"), undefined)).toEqual({ problem: expect.stringMatching(/protected by a passphrase: add a passphrase reference/) });
  });

  it("refuses something that is not PKCS#12", () => {
    expect(readP12(fixtureBytes("garbage.bin"), "x")).toEqual({ problem: expect.stringMatching(/not a PKCS#12 bundle/) });
    expect(readP12(Buffer.from(fixture("apn-prod.cert.pem")), "x")).toEqual({ problem: expect.stringMatching(/not a PKCS#12 bundle/) });
  });
});

describe("readP12: incomplete bundles", () => {
  const key = forge.pki.privateKeyFromPem(fixture("apn-dev.key.pem")) as forge.pki.rsa.PrivateKey;
  const cert = forge.pki.certificateFromPem(fixture("apn-dev.cert.pem"));
  const bundle = (k: forge.pki.rsa.PrivateKey | null, certs: forge.pki.Certificate[]): Buffer =>
    Buffer.from(forge.asn1.toDer(forge.pkcs12.toPkcs12Asn1(k, certs, "fake-p12-pass", { algorithm: "3des", generateLocalKeyId: certs.length > 0 })).getBytes(), "binary");

  it("a bundle with a key but no certificate is a problem naming the certificate", () => {
    expect(readP12(bundle(key, []), "fake-p12-pass")).toEqual({ problem: expect.stringMatching(/no certificate/) });
  });

  it("a bundle with a certificate but no key is a problem saying to export the key too", () => {
    expect(readP12(bundle(null, [cert]), "fake-p12-pass")).toEqual({ problem: expect.stringMatching(/no private key/) });
  });

  it("a complete bundle made the same way opens (the two above fail for what is missing, not how they were made)", () => {
    const opened = readP12(bundle(key, [cert]), "fake-p12-pass");
    expect(opened).toMatchObject({ certificatePem: expect.stringMatching(/BEGIN CERTIFICATE/), privateKeyPem: expect.stringMatching(/PRIVATE KEY/) });
  });

  it("an empty passphrase on a protected bundle asks for a passphrase reference", () => {
    expect(readP12(bundle(key, [cert]), "")).toEqual({ problem: expect.stringMatching(/add a passphrase reference/) });
  });
});
