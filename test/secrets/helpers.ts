import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** Folder of the committed fake fixtures (made by test/fixtures/make-fixtures.mjs). */
export const FIXTURES = fileURLToPath(new URL("../fixtures/secrets/", import.meta.url));
export const fixture = (name: string): string => readFileSync(FIXTURES + name, "utf8");
export const fixtureBytes = (name: string): Buffer => readFileSync(FIXTURES + name);

const DAY = 86_400_000;

/**
 * Instants relative to a fixture certificate's own validity, read with Node's parser (independent of
 * the DER reader under test), so tests keep passing however long ago the fixtures were made.
 */
export function certTimes(name: string): { notBefore: Date; notAfter: Date; midlife: Date; daysBeforeExpiry: (d: number) => Date } {
  const cert = new X509Certificate(fixture(name));
  const notBefore = new Date(cert.validFrom);
  const notAfter = new Date(cert.validTo);
  return {
    notBefore,
    notAfter,
    midlife: new Date(notBefore.getTime() + 2 * DAY),
    daysBeforeExpiry: (d: number) => new Date(notAfter.getTime() - d * DAY),
  };
}

/** Secret texts a message must never contain: PEM bodies (each line, and whole), their base64, passphrases. */
export function secretNeedles(...texts: string[]): string[] {
  const out: string[] = [];
  for (const t of texts) {
    out.push(Buffer.from(t).toString("base64"));
    for (const m of t.matchAll(/-----BEGIN [A-Z ]+-----([\s\S]*?)-----END/g)) {
      const body = m[1]!.replace(/\\n|\s/g, "");
      out.push(body);
    }
    if (!t.includes("-----BEGIN")) out.push(t);
  }
  return out;
}

/** Throws when any message shares a 16-character run with any needle. */
export function expectNoSecretIn(messages: readonly string[], needles: readonly string[]): void {
  for (const msg of messages) {
    for (let i = 0; i + 16 <= msg.length; i++) {
      const window = msg.slice(i, i + 16);
      for (const n of needles) {
        if (n.length >= 16 && n.includes(window)) throw new Error(`message leaks secret material: ${msg.slice(0, 60)}…`);
      }
    }
    for (const n of needles) {
      if (n.length >= 8 && n.length < 16 && msg.includes(n)) throw new Error(`message leaks a short secret: ${msg.slice(0, 60)}…`);
    }
    if (msg.includes("-----BEGIN")) throw new Error("message contains a PEM marker");
  }
}
