import { createPublicKey, generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import forge from "node-forge";
import { APPLE_PUSH_DEVELOPMENT_OID } from "../../src/secrets/index.js";
import { fixture } from "./helpers.js";

/**
 * Fake certificates made on the spot (self-signed with a committed fake fixture key), for the shapes
 * the committed fixtures do not have: a subject laid out like Apple's, no CN, chosen validity dates.
 */
const FAKE = "FAKE cr2comms test fixture";
const keyPem = fixture("apn-noext.key.pem");
const forgeKey = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;

/** Apple's push extensions carry an ASN.1 NULL. */
const appleExt = (id: string) => ({ id, critical: false, value: forge.asn1.toDer(forge.asn1.create(forge.asn1.Class.UNIVERSAL, forge.asn1.Type.NULL, false, "")).getBytes() });

export interface MadeCert {
  certPem: string;
  keyPem: string;
}

export function makeCert(opts: { subject: { shortName?: string; name?: string; type?: string; value: string }[]; oids?: string[]; notBefore: Date; notAfter: Date }): MadeCert {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e);
  cert.serialNumber = "01";
  cert.validity.notBefore = opts.notBefore;
  cert.validity.notAfter = opts.notAfter;
  cert.setSubject(opts.subject);
  cert.setIssuer([{ name: "commonName", value: `${FAKE} CA` }]);
  cert.setExtensions((opts.oids ?? []).map(appleExt));
  cert.sign(forgeKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem };
}

/** A fake subject with the given CN (or none). */
export const fakeSubject = (cn?: string) => [...(cn === undefined ? [] : [{ name: "commonName", value: cn }]), { name: "organizationName", value: FAKE }];

// --- A non-RSA (P-256) push certificate, which node-forge cannot decode ------------------------------

const { create, Class: C, Type: T } = forge.asn1;
const seq = (v: forge.asn1.Asn1[]) => create(C.UNIVERSAL, T.SEQUENCE, true, v);
const oid = (o: string) => create(C.UNIVERSAL, T.OID, false, forge.asn1.oidToDer(o).getBytes());
const octets = (b: string) => create(C.UNIVERSAL, T.OCTETSTRING, false, b);
const int = (n: number) => create(C.UNIVERSAL, T.INTEGER, false, forge.asn1.integerToDer(n).getBytes());
const explicit = (n: number, v: forge.asn1.Asn1) => create(C.CONTEXT_SPECIFIC, n, true, [v]);
const fromDer = (b: Buffer) => forge.asn1.fromDer(b.toString("binary"));
const toBuf = (a: forge.asn1.Asn1) => Buffer.from(forge.asn1.toDer(a).getBytes(), "binary");
const utc = (d: Date) => create(C.UNIVERSAL, T.UTCTIME, false, forge.asn1.dateToUtcTime(d));
const name = (cn: string) => seq([create(C.UNIVERSAL, T.SET, true, [seq([oid("2.5.4.3"), create(C.UNIVERSAL, T.UTF8, false, forge.util.encodeUtf8(cn))])])]);

/** A self-signed ECDSA P-256 certificate with Apple's development push extension. */
export function makeEcPushCert(notBefore: Date, notAfter: Date): { certDer: Buffer; key: KeyObject } {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const spki = createPublicKey(privateKey).export({ type: "spki", format: "der" });
  const ecdsaSha256 = seq([oid("1.2.840.10045.4.3.2")]);
  const subject = name(`${FAKE} EC development`);
  const tbs = seq([
    explicit(0, int(2)),
    int(7),
    ecdsaSha256,
    subject,
    seq([utc(notBefore), utc(notAfter)]),
    subject,
    fromDer(spki),
    explicit(3, seq([seq([oid(APPLE_PUSH_DEVELOPMENT_OID), octets(forge.asn1.toDer(create(C.UNIVERSAL, T.NULL, false, "")).getBytes())])])),
  ]);
  const signature = sign("sha256", toBuf(tbs), privateKey);
  const cert = seq([tbs, ecdsaSha256, create(C.UNIVERSAL, T.BITSTRING, false, "\x00" + signature.toString("binary"))]);
  return { certDer: toBuf(cert), key: privateKey };
}

/**
 * An unprotected PKCS#12 (no MAC, no encryption: as `openssl pkcs12 -export -nodes -nomac` writes)
 * holding the given certificates and PKCS#8 keys in plain cert and key bags.
 */
export function plainP12(certDers: Buffer[], keys: KeyObject[]): Buffer {
  const certBags = certDers.map((der) => seq([oid(forge.pki.oids.certBag!), explicit(0, seq([oid(forge.pki.oids.x509Certificate!), explicit(0, octets(der.toString("binary")))]))]));
  const keyBags = keys.map((k) => seq([oid(forge.pki.oids.keyBag!), explicit(0, fromDer(k.export({ type: "pkcs8", format: "der" })))]));
  const data = (bags: forge.asn1.Asn1[]) => seq([oid(forge.pki.oids.data!), explicit(0, octets(forge.asn1.toDer(seq(bags)).getBytes()))]);
  const safe = seq([data(certBags), data(keyBags)]);
  return toBuf(seq([int(3), seq([oid(forge.pki.oids.data!), explicit(0, octets(forge.asn1.toDer(safe).getBytes()))])]));
}
