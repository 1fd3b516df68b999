import { createRequire } from "node:module";
import type forge from "node-forge";
import { derToPem } from "./pem.js";

/** node-forge is large (about 12 MiB and 200 modules): loaded when a .p12 is opened, not before. */
let forgeModule: typeof forge | undefined;
const loadForge = (): typeof forge => (forgeModule ??= createRequire(import.meta.url)("node-forge") as typeof forge);

/** Certificate(s) and private key taken out of a PKCS#12 bundle, as PEM text. */
export interface P12Contents {
  /** Every certificate in the bundle (the push certificate and possibly Apple's intermediate). */
  certificatePem: string;
  privateKeyPem: string;
}

/**
 * "No passphrase" is written two ways: OpenSSL MACs with the empty password, node-forge (and some
 * other tools) with an absent one. Without a passphrase, both are tried.
 */
function openWith(asn1: forge.asn1.Asn1, passphrase: string | undefined): forge.pkcs12.Pkcs12Pfx {
  const forge = loadForge();
  if (passphrase !== undefined && passphrase !== "") return forge.pkcs12.pkcs12FromAsn1(asn1, false, passphrase);
  try {
    return forge.pkcs12.pkcs12FromAsn1(asn1, false, "");
  } catch {
    return forge.pkcs12.pkcs12FromAsn1(asn1, false, undefined);
  }
}

/**
 * Opens a `.p12` (as exported by Keychain Access or `openssl pkcs12 -export`) with node-forge, which
 * reads the legacy RC2-40 / 3DES bags older exports use as well as PBES2/AES ones.
 * Returns a problem (never the passphrase or any content) when it cannot be opened.
 */
export function readP12(data: Uint8Array, passphrase: string | undefined): P12Contents | { problem: string } {
  const forge = loadForge();
  let p12: forge.pkcs12.Pkcs12Pfx;
  try {
    // Strict: a file cut short must not parse, or its truncated bags read as a wrong passphrase.
    const asn1 = forge.asn1.fromDer(forge.util.createBuffer(Buffer.from(data).toString("binary")), true);
    p12 = openWith(asn1, passphrase);
  } catch (err) {
    const msg = err instanceof Error ? err.message : "";
    if (/password/i.test(msg)) {
      return {
        problem:
          passphrase === undefined || passphrase === ""
            ? "the .p12 is protected by a passphrase: add a passphrase reference (env:<VAR> or prompt) to this mapping entry"
            : "the passphrase does not open the .p12 (wrong passphrase?)",
      };
    }
    if (/unsupported/i.test(msg)) return { problem: `the .p12 uses an encryption or MAC algorithm that cannot be read (${msg}); re-export it, or convert it to PEM with openssl` };
    return { problem: "the p12 file is not a PKCS#12 bundle (it does not parse)" };
  }

  const certs: string[] = [];
  for (const bag of p12.getBags({ bagType: forge.pki.oids.certBag })[forge.pki.oids.certBag!] ?? []) {
    if (bag.cert) certs.push(forge.pki.certificateToPem(bag.cert));
    else if (bag.asn1) certs.push(derToPem("CERTIFICATE", Buffer.from(forge.asn1.toDer(bag.asn1).getBytes(), "binary")));
  }
  const keys: string[] = [];
  for (const type of [forge.pki.oids.pkcs8ShroudedKeyBag!, forge.pki.oids.keyBag!]) {
    for (const bag of p12.getBags({ bagType: type })[type] ?? []) {
      if (bag.key) keys.push(forge.pki.privateKeyToPem(bag.key));
      else if (bag.asn1) keys.push(derToPem("PRIVATE KEY", Buffer.from(forge.asn1.toDer(bag.asn1).getBytes(), "binary")));
    }
  }
  if (certs.length === 0) return { problem: "the .p12 holds no certificate" };
  const key = keys[0];
  if (key === undefined) return { problem: "the .p12 holds no private key (export the certificate together with its key from Keychain Access)" };
  return { certificatePem: certs.join(""), privateKeyPem: key };
}
