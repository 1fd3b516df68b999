/**
 * PEM handling. Files exported from Keychain or `openssl pkcs12` carry "Bag Attributes" and other
 * text outside the markers; values pasted at a prompt or stored in an environment variable often
 * lose their newlines or carry literal `\n` escapes. Everything outside the markers is dropped and
 * the body is re-wrapped, so what is sent is a clean PEM.
 */

/** One `-----BEGIN X----- … -----END X-----` block. */
export interface PemBlock {
  /** `CERTIFICATE`, `RSA PRIVATE KEY`, `PRIVATE KEY`, `ENCRYPTED PRIVATE KEY`, … */
  label: string;
  /** The block alone, re-wrapped at 64 columns (RFC 7468), with a trailing newline. */
  pem: string;
  /** The decoded body (empty for legacy encrypted PEM, whose body has headers). */
  der: Buffer;
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

/** Undoes the `\n` escaping common in `.env` files and JSON-ish values. */
function unescapeNewlines(text: string): string {
  return text.includes("\n") ? text : text.replace(/\\r\\n|\\n/g, "\n");
}

/** Every PEM block in `text`, in order; text around and between the blocks is ignored. */
export function extractPemBlocks(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  for (const m of unescapeNewlines(text).matchAll(BLOCK)) {
    const label = m[1]!;
    const body = m[2]!;
    if (body.includes(":")) {
      // Legacy OpenSSL encrypted key (`Proc-Type: 4,ENCRYPTED` headers): keep the lines as they are.
      const lines = body.split(/\r?\n/).map((l) => l.trim());
      blocks.push({ label, pem: `-----BEGIN ${label}-----\n${lines.filter((l, i) => l !== "" || (i > 0 && i < lines.length - 1)).join("\n")}\n-----END ${label}-----\n`, der: Buffer.alloc(0) });
      continue;
    }
    const b64 = body.replace(/\s+/g, "");
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) continue;
    const wrapped = b64.match(/.{1,64}/g)?.join("\n") ?? "";
    blocks.push({ label, pem: `-----BEGIN ${label}-----\n${wrapped}\n-----END ${label}-----\n`, der: Buffer.from(b64, "base64") });
  }
  return blocks;
}

/** PEM text for a DER body. */
export function derToPem(label: string, der: Uint8Array): string {
  const wrapped = Buffer.from(der).toString("base64").match(/.{1,64}/g)?.join("\n") ?? "";
  return `-----BEGIN ${label}-----\n${wrapped}\n-----END ${label}-----\n`;
}

export const isCertificateLabel = (label: string): boolean => label === "CERTIFICATE" || label === "X509 CERTIFICATE";
export const isPrivateKeyLabel = (label: string): boolean => label.endsWith("PRIVATE KEY");
