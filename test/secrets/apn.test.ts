import { createHash, createPrivateKey, generateKeyPairSync, X509Certificate } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  APPLE_PUSH_DEVELOPMENT_OID,
  APPLE_PUSH_PRODUCTION_OID,
  apnEnvironment,
  normalisePrivateKey,
  readCertificateFacts,
  validateApn,
} from "../../src/secrets/index.js";
import { certTimes, fixture } from "./helpers.js";

const pair = (name: string) => [fixture(`${name}.cert.pem`), fixture(`${name}.key.pem`)] as const;
const at = (name: string) => certTimes(`${name}.cert.pem`).midlife;

describe("validateApn", () => {
  it("accepts a production certificate for APN and fingerprints it", () => {
    const [cert, key] = pair("apn-prod");
    const r = validateApn(cert, key, "APN", at("apn-prod"));
    expect(r.problems).toEqual([]);
    expect(r.warnings).toEqual([]);
    expect(r.secret?.kind).toBe("apn");
    const x = new X509Certificate(cert);
    const fp = r.secret!.fingerprint;
    expect(fp.kind).toBe("apn");
    expect(fp.certSha256).toBe(createHash("sha256").update(x.raw).digest("hex"));
    expect(fp.subject).toContain("CN=FAKE cr2comms test fixture production");
    expect(fp.notAfter).toBe(new Date(x.validTo).toISOString());
    expect(fp.environment).toBe("production");
    if (r.secret?.kind !== "apn") throw new Error("unreachable");
    expect(fp.contentSha256).toBe(createHash("sha256").update(r.secret.certificatePem + r.secret.privateKeyPem).digest("hex"));
  });

  it("reads the environment from Apple's extension OIDs: development, production, both", () => {
    expect(validateApn(...pair("apn-dev"), "APN_SANDBOX", at("apn-dev")).fingerprint?.environment).toBe("development");
    expect(validateApn(...pair("apn-both"), "APN", at("apn-both")).fingerprint?.environment).toBe("both");
    expect(validateApn(...pair("apn-both"), "APN_SANDBOX", at("apn-both")).problems).toEqual([]);
    expect(validateApn(...pair("apn-both"), "APN", at("apn-both")).problems).toEqual([]);
  });

  it("falls back to the subject CN prefixes when the certificate has no Apple extension", () => {
    expect(validateApn(...pair("apn-cn-dev"), "APN_SANDBOX", at("apn-cn-dev")).fingerprint?.environment).toBe("development");
    expect(validateApn(...pair("apn-cn-prod"), "APN", at("apn-cn-prod")).fingerprint?.environment).toBe("production");
    expect(validateApn(...pair("apn-cn-both"), "APN", at("apn-cn-both")).fingerprint?.environment).toBe("both");
  });

  it("blocks an environment mismatch and suggests credentialType in the mapping", () => {
    const dev = validateApn(...pair("apn-dev"), "APN", at("apn-dev"));
    expect(dev.secret).toBeUndefined();
    expect(dev.problems).toHaveLength(1);
    expect(dev.problems[0]).toMatch(/development \(sandbox\).*target type is APN/);
    expect(dev.problems[0]).toContain("credentialType: APN_SANDBOX");
    expect(dev.fingerprint?.environment).toBe("development");

    const prod = validateApn(...pair("apn-prod"), "APN_SANDBOX", at("apn-prod"));
    expect(prod.problems[0]).toContain("credentialType: APN");
    expect(prod.problems[0]).toMatch(/production push environment/);
  });

  it("warns (does not block) when the environment is unknown", () => {
    const r = validateApn(...pair("apn-noext"), "APN", at("apn-noext"));
    expect(r.problems).toEqual([]);
    expect(r.secret).toBeDefined();
    expect(r.fingerprint?.environment).toBe("unknown");
    expect(r.warnings.join("\n")).toMatch(/push environment could not be read/);
  });

  it("blocks an expired certificate, judged at the given instant", () => {
    const t = certTimes("apn-expired.cert.pem");
    const expired = validateApn(...pair("apn-expired"), "APN", new Date(t.notAfter.getTime() + 1000));
    expect(expired.secret).toBeUndefined();
    expect(expired.problems.join("\n")).toMatch(/expired on/);
    expect(expired.fingerprint?.notAfter).toBe(t.notAfter.toISOString());
    // The same certificate at a time it was valid and far from expiry passes.
    expect(validateApn(...pair("apn-expired"), "APN", t.daysBeforeExpiry(100)).problems).toEqual([]);
  });

  it("warns when the certificate expires within 30 days, and not before", () => {
    const t = certTimes("apn-expiring.cert.pem");
    const soon = validateApn(...pair("apn-expiring"), "APN", t.daysBeforeExpiry(10));
    expect(soon.problems).toEqual([]);
    expect(soon.warnings.join("\n")).toMatch(/expires on .* \(in (9|10) days\)/);
    expect(validateApn(...pair("apn-expiring"), "APN", t.daysBeforeExpiry(29.5)).warnings).toHaveLength(1);
    expect(validateApn(...pair("apn-expiring"), "APN", t.daysBeforeExpiry(31)).warnings).toEqual([]);
  });

  it("blocks a key that does not match the certificate", () => {
    const r = validateApn(fixture("apn-prod.cert.pem"), fixture("other.key.pem"), "APN", at("apn-prod"));
    expect(r.secret).toBeUndefined();
    expect(r.problems).toEqual([expect.stringMatching(/private key does not match the certificate/)]);
  });

  it("reports unparseable, swapped and missing material", () => {
    const now = at("apn-prod");
    const [cert, key] = pair("apn-prod");
    expect(validateApn(key, cert, "APN", now).problems).toEqual([
      expect.stringMatching(/certificate holds a private key.*swapped/),
      expect.stringMatching(/privateKey holds a certificate.*swapped/),
    ]);
    const garbage = fixture("garbage.bin");
    expect(validateApn(garbage, key, "APN", now).problems).toEqual([expect.stringMatching(/not a PEM certificate/)]);
    expect(validateApn(cert, garbage, "APN", now).problems).toEqual([expect.stringMatching(/not a PEM private key/)]);
    const broken = cert.replace(/\r?\n[A-Za-z0-9+/]{64}\r?\n/, "\nAAAA\n");
    expect(broken).not.toBe(cert);
    expect(validateApn(broken, key, "APN", now).problems).toEqual([expect.stringMatching(/does not parse as X\.509/)]);
    const brokenKey = "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n";
    expect(validateApn(cert, brokenKey, "APN", now).problems).toEqual([expect.stringMatching(/private key does not parse/)]);
    expect(validateApn(cert, key, "FCM", now).problems).toEqual([expect.stringMatching(/FCM needs the service-account JSON/)]);
  });

  it("strips Bag Attributes and normalises an RSA PKCS#8 key to PKCS#1", () => {
    const now = at("apn-prod");
    const clean = validateApn(...pair("apn-prod"), "APN", now);
    const bag = validateApn(fixture("apn-prod-bag.cert.pem"), fixture("apn-prod-bag.key.pem"), "APN", now);
    expect(bag.problems).toEqual([]);
    if (bag.secret?.kind !== "apn" || clean.secret?.kind !== "apn") throw new Error("expected APN secrets");
    expect(bag.secret.certificatePem).not.toContain("Bag Attributes");
    expect(bag.secret.certificatePem.startsWith("-----BEGIN CERTIFICATE-----\n")).toBe(true);
    expect(bag.secret.privateKeyPem.startsWith("-----BEGIN RSA PRIVATE KEY-----\n")).toBe(true);
    expect(bag.secret.certificatePem).toBe(clean.secret.certificatePem);
    expect(bag.secret.privateKeyPem).toBe(clean.secret.privateKeyPem);
    expect(bag.fingerprint?.contentSha256).toBe(clean.fingerprint?.contentSha256);
  });

  it("keeps non-RSA keys in PKCS#8", () => {
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    expect(normalisePrivateKey(privateKey).startsWith("-----BEGIN PRIVATE KEY-----")).toBe(true);
    const rsa = createPrivateKey(fixture("apn-prod.key-pkcs8.pem"));
    expect(normalisePrivateKey(rsa).startsWith("-----BEGIN RSA PRIVATE KEY-----")).toBe(true);
  });

  it("repairs PEM whose newlines were escaped (as in an environment variable) or flattened", () => {
    const [cert, key] = pair("apn-prod");
    const now = at("apn-prod");
    const escaped = validateApn(cert.replace(/\n/g, "\\n"), key.replace(/\n/g, "\\n"), "APN", now);
    expect(escaped.problems).toEqual([]);
    const flat = validateApn(cert.replace(/\n/g, " "), key.replace(/\n/g, " "), "APN", now);
    expect(flat.problems).toEqual([]);
    expect(flat.fingerprint?.contentSha256).toBe(validateApn(cert, key, "APN", now).fingerprint?.contentSha256);
  });

  it("sends only the certificate matching the key when the file also holds the CA", () => {
    const r = validateApn(fixture("apn-prod-chain.cert.pem"), fixture("apn-prod.key.pem"), "APN", at("apn-prod"));
    expect(r.problems).toEqual([]);
    if (r.secret?.kind !== "apn") throw new Error("expected an APN secret");
    expect(r.secret.certificatePem.match(/BEGIN CERTIFICATE/g)).toHaveLength(1);
    expect(r.fingerprint?.subject).toContain("production");
  });

  it("decrypts an encrypted key with the passphrase, and says when it is missing or wrong", () => {
    const cert = fixture("apn-prod.cert.pem");
    const enc = fixture("apn-prod.key-encrypted.pem");
    const now = at("apn-prod");
    const ok = validateApn(cert, enc, "APN", now, { passphrase: "fake-passphrase" });
    expect(ok.problems).toEqual([]);
    if (ok.secret?.kind !== "apn") throw new Error("expected an APN secret");
    expect(ok.secret.privateKeyPem.startsWith("-----BEGIN RSA PRIVATE KEY-----")).toBe(true);
    expect(validateApn(cert, enc, "APN", now).problems).toEqual([expect.stringMatching(/encrypted: add a passphrase/)]);
    expect(validateApn(cert, enc, "APN", now, { passphrase: "nope" }).problems).toEqual([expect.stringMatching(/wrong passphrase/)]);
  });
});

describe("apnEnvironment and the DER reader", () => {
  it("prefers the OIDs over the CN and treats both OIDs as both", () => {
    expect(apnEnvironment([APPLE_PUSH_DEVELOPMENT_OID], "Apple Production IOS Push Services: x")).toBe("development");
    expect(apnEnvironment([APPLE_PUSH_PRODUCTION_OID, APPLE_PUSH_DEVELOPMENT_OID], undefined)).toBe("both");
    expect(apnEnvironment([], "Apple Push Services: com.x")).toBe("both");
    expect(apnEnvironment([], "Pass Type ID: com.x")).toBe("unknown");
  });

  it("reads extension OIDs and validity from DER", () => {
    const x = new X509Certificate(fixture("apn-both.cert.pem"));
    const facts = readCertificateFacts(x.raw);
    expect(facts.extensionOids).toEqual(expect.arrayContaining([APPLE_PUSH_DEVELOPMENT_OID, APPLE_PUSH_PRODUCTION_OID, "1.2.840.113635.100.6.3.6", "2.5.29.19"]));
    expect(facts.notAfter.getTime()).toBe(new Date(x.validTo).getTime());
    expect(facts.notBefore.getTime()).toBe(new Date(x.validFrom).getTime());
    expect(readCertificateFacts(new X509Certificate(fixture("apn-noext.cert.pem")).raw).extensionOids).not.toContain(APPLE_PUSH_PRODUCTION_OID);
    expect(() => readCertificateFacts(Buffer.from([0x30, 0x05, 0x01]))).toThrow();
  });
});

describe("validateApn: legacy OpenSSL encrypted PEM keys (Proc-Type: 4,ENCRYPTED)", () => {
  const cert = fixture("apn-prod.cert.pem");
  const legacyEncrypted = createPrivateKey(fixture("apn-prod.key.pem")).export({ type: "pkcs1", format: "pem", cipher: "aes-256-cbc", passphrase: "fake-legacy-pass" }).toString();
  const now = certTimes("apn-prod.cert.pem").midlife;

  it("is recognised as encrypted (the fixture really has the headers)", () => {
    expect(legacyEncrypted).toMatch(/Proc-Type: 4,ENCRYPTED/);
    expect(validateApn(cert, legacyEncrypted, "APN", now).problems).toEqual([expect.stringMatching(/encrypted: add a passphrase/)]);
  });

  it("is decrypted with its passphrase, and the key sent is the unencrypted one", () => {
    const ok = validateApn(cert, legacyEncrypted, "APN", now, { passphrase: "fake-legacy-pass" });
    expect(ok.problems).toEqual([]);
    if (ok.secret?.kind !== "apn") throw new Error("expected an APN secret");
    expect(ok.secret.privateKeyPem).toBe(normalisePrivateKey(createPrivateKey(fixture("apn-prod.key.pem"))));
    expect(ok.secret.privateKeyPem).not.toMatch(/ENCRYPTED/);
  });

  it("survives escaped newlines (as in an environment variable)", () => {
    const flat = legacyEncrypted.replace(/\n/g, "\\n");
    expect(validateApn(cert, flat, "APN", now, { passphrase: "fake-legacy-pass" }).problems).toEqual([]);
  });

  it("a wrong passphrase is a problem that does not echo the passphrase or the key", () => {
    const bad = validateApn(cert, legacyEncrypted, "APN", now, { passphrase: "fake-wrong-pass" });
    expect(bad.problems).toEqual([expect.stringMatching(/wrong passphrase/)]);
    expect(bad.secret).toBeUndefined();
    const text = JSON.stringify(bad);
    expect(text).not.toMatch(/fake-wrong-pass|fake-legacy-pass/);
    expect(text).not.toContain(legacyEncrypted.split("\n")[4]!);
  });

  it("a passphrase given for a key that is not encrypted is a warning, not a problem", () => {
    const r = validateApn(cert, fixture("apn-prod.key.pem"), "APN", now, { passphrase: "unused" });
    expect(r.problems).toEqual([]);
    expect(r.warnings).toEqual([expect.stringMatching(/not encrypted/)]);
  });
});
