import { createPrivateKey, createPublicKey, X509Certificate } from "node:crypto";
import { describe, expect, it } from "vitest";
import { APPLE_PUSH_PRODUCTION_OID, apnEnvironment, derToPem, validateApn } from "../../src/secrets/index.js";
import { fakeSubject, makeCert } from "./certs.js";
import { certTimes, fixture } from "./helpers.js";

const DAY = 86_400_000;
const NOT_BEFORE = new Date(Date.UTC(2030, 0, 1));
const NOT_AFTER = new Date(Date.UTC(2031, 0, 1));
const prodCert = makeCert({ subject: fakeSubject("FAKE production"), oids: [APPLE_PUSH_PRODUCTION_OID], notBefore: NOT_BEFORE, notAfter: NOT_AFTER });
const validate = (now: Date) => validateApn(prodCert.certPem, prodCert.keyPem, "APN", now);
const beforeExpiry = (days: number) => new Date(NOT_AFTER.getTime() - days * DAY);

describe("validateApn: certificate dates, at the edges", () => {
  it("a certificate is expired from the very instant of its notAfter", () => {
    const at = validate(NOT_AFTER);
    expect(at.secret).toBeUndefined();
    expect(at.problems).toEqual([`the certificate expired on ${NOT_AFTER.toISOString()}; renew it in the Apple Developer portal and export a new one`]);
    const justBefore = validate(new Date(NOT_AFTER.getTime() - 1000));
    expect(justBefore.problems).toEqual([]);
    expect(justBefore.secret).toBeDefined();
  });

  it("warns from 30 days before expiry (not at exactly 30), counting whole days left", () => {
    expect(validate(beforeExpiry(30)).warnings).toEqual([]);
    expect(validate(beforeExpiry(29.9)).warnings).toEqual([`the certificate expires on ${NOT_AFTER.toISOString()} (in 29 days); renew it soon`]);
    expect(validate(beforeExpiry(9.5)).warnings).toEqual([`the certificate expires on ${NOT_AFTER.toISOString()} (in 9 days); renew it soon`]);
    expect(validate(beforeExpiry(1.5)).warnings).toEqual([`the certificate expires on ${NOT_AFTER.toISOString()} (in 1 day); renew it soon`]);
    expect(validate(beforeExpiry(0.5)).warnings).toEqual([`the certificate expires on ${NOT_AFTER.toISOString()} (in 0 days); renew it soon`]);
    for (const days of [29.9, 1.5, 0.5]) expect(validate(beforeExpiry(days)).problems).toEqual([]);
  });

  it("warns (does not block) for a certificate not yet valid, and not from its notBefore on", () => {
    const early = validate(new Date(NOT_BEFORE.getTime() - DAY));
    expect(early.problems).toEqual([]);
    expect(early.warnings).toEqual([`the certificate is not valid before ${NOT_BEFORE.toISOString()}`]);
    expect(validate(NOT_BEFORE).warnings).toEqual([]);
  });

  it("a certificate Node reads but whose validity cannot be read is a problem, not a crash", () => {
    const raw = Buffer.from(new X509Certificate(prodCert.certPem).raw);
    const time = raw.indexOf(Buffer.from([0x17, 0x0d])); // notBefore, a 13-byte UTCTime
    raw[time + 14] = 0x30; // its final "Z" becomes "0"
    const r = validateApn(derToPem("CERTIFICATE", raw), prodCert.keyPem, "APN", new Date(NOT_BEFORE.getTime() + DAY));
    expect(r.secret).toBeUndefined();
    expect(r.fingerprint).toBeUndefined();
    expect(r.problems).toEqual(["certificate does not parse as X.509 (unreadable validity or extensions)"]);
  });
});

describe("validateApn: the push environment and the target type", () => {
  const now = new Date(NOT_BEFORE.getTime() + DAY);

  it("reads the CN wherever it sits in the subject, as in Apple's own (UID first)", () => {
    const apple = makeCert({
      subject: [
        { type: "0.9.2342.19200300.100.1.1", value: "com.example.fake" },
        { name: "commonName", value: "Apple Development IOS Push Services: com.example.fake" },
        { shortName: "OU", value: "FAKE0TEAM0" },
        { name: "organizationName", value: "FAKE cr2comms test fixture" },
      ],
      notBefore: NOT_BEFORE,
      notAfter: NOT_AFTER,
    });
    const r = validateApn(apple.certPem, apple.keyPem, "APN_SANDBOX", now);
    expect(r.problems).toEqual([]);
    expect(r.warnings).toEqual([]);
    expect(r.fingerprint?.environment).toBe("development");
    expect(r.fingerprint?.subject).toBe("UID=com.example.fake, CN=Apple Development IOS Push Services: com.example.fake, OU=FAKE0TEAM0, O=FAKE cr2comms test fixture");
  });

  it("a certificate with neither Apple extension nor CN has an unknown environment (a warning naming what the target needs)", () => {
    const noCn = makeCert({ subject: fakeSubject(), notBefore: NOT_BEFORE, notAfter: NOT_AFTER });
    const sandbox = validateApn(noCn.certPem, noCn.keyPem, "APN_SANDBOX", now);
    expect(sandbox.problems).toEqual([]);
    expect(sandbox.fingerprint?.environment).toBe("unknown");
    expect(sandbox.warnings).toEqual([expect.stringMatching(/could not be read .*check that it is an APNs certificate for development \(sandbox\)$/)]);
    const prod = validateApn(noCn.certPem, noCn.keyPem, "APN", now);
    expect(prod.warnings).toEqual([expect.stringMatching(/check that it is an APNs certificate for production$/)]);
    expect(apnEnvironment([], undefined)).toBe("unknown");
  });

  it("a CN prefix counts only at the start of the CN", () => {
    expect(apnEnvironment([], "FAKE Apple Push Services: com.x")).toBe("unknown");
    expect(apnEnvironment([], "Apple Development IOS Push Services: com.x")).toBe("development");
  });

  it("a mismatch says which type the certificate suits and which certificate the target needs", () => {
    const devOnProd = validateApn(fixture("apn-dev.cert.pem"), fixture("apn-dev.key.pem"), "APN", certTimes("apn-dev.cert.pem").midlife);
    expect(devOnProd.problems).toEqual([
      "the certificate is for Apple's development (sandbox) push environment but the target type is APN (production); if the certificate is right, set `credentialType: APN_SANDBOX` on this entry in the mapping, otherwise supply the production certificate",
    ]);
    const prodOnDev = validateApn(fixture("apn-prod.cert.pem"), fixture("apn-prod.key.pem"), "APN_SANDBOX", certTimes("apn-prod.cert.pem").midlife);
    expect(prodOnDev.problems).toEqual([
      "the certificate is for Apple's production push environment but the target type is APN_SANDBOX (sandbox); if the certificate is right, set `credentialType: APN` on this entry in the mapping, otherwise supply the development certificate",
    ]);
  });
});

describe("validateApn: what the privateKey holds", () => {
  const [cert, key] = [fixture("apn-prod.cert.pem"), fixture("apn-prod.key.pem")];
  const now = certTimes("apn-prod.cert.pem").midlife;

  it("a public key instead of the private key is named as such", () => {
    const pub = createPublicKey(createPrivateKey(key)).export({ type: "spki", format: "pem" }).toString();
    const r = validateApn(cert, pub, "APN", now);
    expect(r.secret).toBeUndefined();
    expect(r.problems).toEqual(["privateKey holds a public key; the private key is needed"]);
    const rsaPub = createPublicKey(createPrivateKey(key)).export({ type: "pkcs1", format: "pem" }).toString();
    expect(rsaPub).toMatch(/BEGIN RSA PUBLIC KEY/);
    expect(validateApn(cert, rsaPub, "APN", now).problems).toEqual(["privateKey holds a public key; the private key is needed"]);
  });

  it("another kind of PEM block (a certificate request) is not a private key", () => {
    const csr = "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n";
    expect(validateApn(cert, csr, "APN", now).problems).toEqual(["privateKey is not a PEM private key (no -----BEGIN … PRIVATE KEY----- block found)"]);
  });

  it("a file with two private keys uses the first and warns", () => {
    const r = validateApn(cert, key + fixture("other.key.pem"), "APN", now);
    expect(r.problems).toEqual([]);
    expect(r.warnings).toEqual(["privateKey holds 2 private keys; only the first is used"]);
    const swapped = validateApn(cert, fixture("other.key.pem") + key, "APN", now);
    expect(swapped.problems).toEqual(["the private key does not match the certificate (it belongs to another certificate)"]);
  });

  it("an empty passphrase for an unencrypted key is no passphrase: no warning", () => {
    expect(validateApn(cert, key, "APN", now, { passphrase: "" }).warnings).toEqual([]);
  });

  it("an empty passphrase does not open an encrypted key", () => {
    const r = validateApn(cert, fixture("apn-prod.key-encrypted.pem"), "APN", now, { passphrase: "" });
    expect(r.problems).toEqual(["the private key could not be decrypted with the passphrase (wrong passphrase?)"]);
  });

  it("a blocked key still reports the certificate's facts (for the plan and report)", () => {
    const r = validateApn(cert, fixture("other.key.pem"), "APN", now);
    const x = new X509Certificate(cert);
    expect(r.fingerprint).toMatchObject({ kind: "apn", subject: expect.stringContaining("production"), notAfter: new Date(x.validTo).toISOString(), environment: "production" });
  });

  it("reads a certificate under the old `X509 CERTIFICATE` label and sends it as a CERTIFICATE", () => {
    const old = cert.replace(/BEGIN CERTIFICATE/, "BEGIN X509 CERTIFICATE").replace(/END CERTIFICATE/, "END X509 CERTIFICATE");
    const r = validateApn(old, key, "APN", now);
    expect(r.problems).toEqual([]);
    if (r.secret?.kind !== "apn") throw new Error("expected an APN secret");
    expect(r.secret.certificatePem).toBe(new X509Certificate(cert).toString());
  });
});
