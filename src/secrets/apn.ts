import { createHash, createPrivateKey, X509Certificate, type KeyObject } from "node:crypto";
import type { ApnEnvironment, CredentialType, SecretFingerprint, SecretResult } from "../domain.js";
import { CERT_EXPIRY_WARNING_DAYS } from "../limits.js";
import { readCertificateFacts } from "./der.js";
import { extractPemBlocks, isCertificateLabel, isPrivateKeyLabel } from "./pem.js";

/** Apple extension OIDs marking a push certificate's environment (Apple WWDR CPS). */
export const APPLE_PUSH_DEVELOPMENT_OID = "1.2.840.113635.100.6.3.1";
export const APPLE_PUSH_PRODUCTION_OID = "1.2.840.113635.100.6.3.2";

const CN_PREFIXES: readonly [string, ApnEnvironment][] = [
  ["Apple Development IOS Push Services:", "development"],
  ["Apple Production IOS Push Services:", "production"],
  ["Apple Push Services:", "both"],
];

const DAY_MS = 86_400_000;

export const sha256Hex = (data: string | Uint8Array): string => createHash("sha256").update(data).digest("hex");

/**
 * The Apple push environment a certificate is valid for: from the Apple extensions when present
 * (both = "both"), otherwise from the subject CN prefix, otherwise "unknown".
 */
export function apnEnvironment(extensionOids: readonly string[], subjectCn: string | undefined): ApnEnvironment {
  const dev = extensionOids.includes(APPLE_PUSH_DEVELOPMENT_OID);
  const prod = extensionOids.includes(APPLE_PUSH_PRODUCTION_OID);
  if (dev && prod) return "both";
  if (dev) return "development";
  if (prod) return "production";
  for (const [prefix, env] of CN_PREFIXES) if (subjectCn?.startsWith(prefix)) return env;
  return "unknown";
}

/** Which environments a target type can use. */
function accepts(target: CredentialType, env: ApnEnvironment): boolean {
  if (env === "both") return true;
  return target === "APN" ? env === "production" : env === "development";
}

const ENV_WORDS: Record<ApnEnvironment, string> = {
  development: "Apple's development (sandbox) push environment",
  production: "Apple's production push environment",
  both: "both Apple push environments",
  unknown: "an unknown push environment",
};

/** X509Certificate.subject is one `K=V` per line; reports want one line. */
function subjectLine(cert: X509Certificate): string {
  return cert.subject.replaceAll("\n", ", ");
}

function subjectCn(cert: X509Certificate): string | undefined {
  return cert.subject.split("\n").find((l) => l.startsWith("CN="))?.slice(3);
}

/**
 * A private key exported the way Comms' sample shows it: PKCS#1 (the "RSA PRIVATE KEY" PEM label) for
 * RSA keys, PKCS#8 otherwise; always unencrypted (Comms takes no passphrase).
 */
export function normalisePrivateKey(key: KeyObject): string {
  // A PEM export is always a string; `String` only narrows the declared `string | Buffer`.
  return String(key.asymmetricKeyType === "rsa" ? key.export({ type: "pkcs1", format: "pem" }) : key.export({ type: "pkcs8", format: "pem" }));
}

function parseKey(keyPem: string, passphrase: string | undefined, problems: string[], warnings: string[]): KeyObject | undefined {
  const blocks = extractPemBlocks(keyPem);
  const keyBlocks = blocks.filter((b) => isPrivateKeyLabel(b.label));
  const keyBlock = keyBlocks[0];
  if (!keyBlock) {
    if (blocks.some((b) => isCertificateLabel(b.label))) {
      problems.push("privateKey holds a certificate, not a private key (are certificate and privateKey swapped?)");
    } else if (blocks.some((b) => b.label.endsWith("PUBLIC KEY"))) {
      problems.push("privateKey holds a public key; the private key is needed");
    } else {
      problems.push("privateKey is not a PEM private key (no -----BEGIN … PRIVATE KEY----- block found)");
    }
    return undefined;
  }
  if (keyBlocks.length > 1) warnings.push(`privateKey holds ${keyBlocks.length} private keys; only the first is used`);
  const encrypted = keyBlock.label === "ENCRYPTED PRIVATE KEY" || keyBlock.pem.includes("ENCRYPTED");
  if (encrypted && passphrase === undefined) {
    problems.push("the private key is encrypted: add a passphrase reference to this mapping entry (Comms needs it unencrypted; it is decrypted locally)");
    return undefined;
  }
  if (!encrypted && passphrase !== undefined && passphrase !== "") {
    warnings.push("a passphrase was given but the private key is not encrypted; the passphrase is not used");
  }
  try {
    return createPrivateKey(encrypted ? { key: keyBlock.pem, format: "pem", passphrase: passphrase ?? "" } : { key: keyBlock.pem, format: "pem" });
  } catch {
    problems.push(encrypted ? "the private key could not be decrypted with the passphrase (wrong passphrase?)" : "the private key does not parse");
    return undefined;
  }
}

function parseCertificates(certPem: string, problems: string[]): X509Certificate[] {
  const blocks = extractPemBlocks(certPem);
  const certBlocks = blocks.filter((b) => isCertificateLabel(b.label));
  if (certBlocks.length === 0) {
    if (blocks.some((b) => isPrivateKeyLabel(b.label))) {
      problems.push("certificate holds a private key, not a certificate (are certificate and privateKey swapped?)");
    } else {
      problems.push("certificate is not a PEM certificate (no -----BEGIN CERTIFICATE----- block found)");
    }
    return [];
  }
  const certs: X509Certificate[] = [];
  for (const b of certBlocks) {
    try {
      certs.push(new X509Certificate(b.der));
    } catch {
      problems.push("certificate does not parse as X.509");
      return [];
    }
  }
  return certs;
}

/**
 * Validates an APNs certificate and key for `target` (APN or APN_SANDBOX) at `now`: both parse, the
 * key matches, the certificate is in date, and its Apple push environment suits the target.
 * Returns the normalised PEMs (exactly what will be base64-encoded and sent) when every check passes.
 * `passphrase` decrypts an encrypted PEM key.
 */
export function validateApn(certPem: string, keyPem: string, target: CredentialType, now: Date, opts: { passphrase?: string } = {}): SecretResult {
  const problems: string[] = [];
  const warnings: string[] = [];
  if (target === "FCM") {
    return { problems: ["an APNs certificate and key were given for an FCM credential (FCM needs the service-account JSON)"], warnings };
  }
  const certs = parseCertificates(certPem, problems);
  const key = parseKey(keyPem, opts.passphrase, problems, warnings);

  // The push certificate is the one the key belongs to; a file or .p12 may also carry the issuer's
  // certificate, which is harmless and not sent.
  let cert = certs[0];
  if (cert && key) {
    const matching = certs.find((c) => c.checkPrivateKey(key));
    if (matching) {
      cert = matching;
    } else {
      problems.push("the private key does not match the certificate (it belongs to another certificate)");
    }
  }
  if (!cert) return { problems, warnings };

  let facts;
  try {
    facts = readCertificateFacts(cert.raw);
  } catch {
    problems.push("certificate does not parse as X.509 (unreadable validity or extensions)");
    return { problems, warnings };
  }
  const environment = apnEnvironment(facts.extensionOids, subjectCn(cert));
  const notAfter = facts.notAfter.toISOString();
  const subject = subjectLine(cert);

  if (facts.notAfter.getTime() <= now.getTime()) {
    problems.push(`the certificate expired on ${notAfter}; renew it in the Apple Developer portal and export a new one`);
  } else {
    const days = Math.floor((facts.notAfter.getTime() - now.getTime()) / DAY_MS);
    if (days < CERT_EXPIRY_WARNING_DAYS) warnings.push(`the certificate expires on ${notAfter} (in ${days} day${days === 1 ? "" : "s"}); renew it soon`);
  }
  if (facts.notBefore.getTime() > now.getTime()) {
    warnings.push(`the certificate is not valid before ${facts.notBefore.toISOString()}`);
  }

  if (environment === "unknown") {
    warnings.push(
      `the Apple push environment could not be read from the certificate (no Apple push extension, subject is not an Apple push certificate); check that it is an APNs certificate for ${target === "APN" ? "production" : "development (sandbox)"}`,
    );
  } else if (!accepts(target, environment)) {
    const other: CredentialType = target === "APN" ? "APN_SANDBOX" : "APN";
    problems.push(
      `the certificate is for ${ENV_WORDS[environment]} but the target type is ${target} (${target === "APN" ? "production" : "sandbox"}); if the certificate is right, set \`credentialType: ${other}\` on this entry in the mapping, otherwise supply the ${target === "APN" ? "production" : "development"} certificate`,
    );
  }

  const certificatePem = cert.toString();
  const privateKeyPem = key ? normalisePrivateKey(key) : undefined;
  const fingerprint: SecretFingerprint = {
    kind: "apn",
    // Certificate then key, exactly the bytes that are base64-encoded into the request body.
    contentSha256: sha256Hex(certificatePem + (privateKeyPem ?? "")),
    certSha256: sha256Hex(cert.raw),
    subject,
    notAfter,
    environment,
  };
  if (problems.length > 0 || privateKeyPem === undefined) return { fingerprint, problems, warnings };
  return { secret: { kind: "apn", certificatePem, privateKeyPem, fingerprint }, fingerprint, problems, warnings };
}
