import { describe, expect, it } from "vitest";
import { readCertificateFacts } from "../../src/secrets/der.js";
import { derToPem, extractPemBlocks } from "../../src/secrets/pem.js";

/** A DER TLV (short or long length form). */
function tlv(tag: number, ...content: Uint8Array[]): Uint8Array {
  const body = Buffer.concat(content);
  const len = body.length < 0x80 ? Buffer.from([body.length]) : body.length < 0x100 ? Buffer.from([0x81, body.length]) : Buffer.from([0x82, body.length >> 8, body.length & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, body]);
}
const seq = (...c: Uint8Array[]) => tlv(0x30, ...c);
const int = (n: number) => tlv(0x02, Buffer.from([n]));
const utc = (s: string) => tlv(0x17, Buffer.from(s, "latin1"));
const gen = (s: string) => tlv(0x18, Buffer.from(s, "latin1"));
const oid = (...bytes: number[]) => tlv(0x06, Buffer.from(bytes));
const name = seq();
const algo = seq(oid(0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b));

/** A minimal certificate: tbs (optional [0] version, serial, algorithm, issuer, validity, subject, key, [3] extensions). */
function cert(validity: Uint8Array, opts: { version?: boolean; extOids?: Uint8Array[] } = {}): Uint8Array {
  const fields = [int(1), algo, name, validity, name, seq()];
  if (opts.version !== false) fields.unshift(tlv(0xa0, int(2)));
  if (opts.extOids) fields.push(tlv(0xa3, seq(...opts.extOids.map((o) => seq(o, tlv(0x04, Buffer.from([0x05, 0x00])))))));
  return seq(seq(...fields), algo, tlv(0x03, Buffer.from([0x00])));
}

describe("readCertificateFacts: the DER walk", () => {
  it("reads UTCTime (50..99 → 19xx, else 20xx, seconds optional) and GeneralizedTime", () => {
    const facts = readCertificateFacts(cert(seq(utc("991231235959Z"), utc("4901021504Z"))));
    expect(facts.notBefore.toISOString()).toBe("1999-12-31T23:59:59.000Z");
    expect(facts.notAfter.toISOString()).toBe("2049-01-02T15:04:00.000Z");
    const g = readCertificateFacts(cert(seq(gen("20500101000000Z"), gen("21000101000000Z"))));
    expect(g.notAfter.toISOString()).toBe("2100-01-01T00:00:00.000Z");
  });

  it("reads a v1 certificate (no explicit version) and one without extensions", () => {
    const facts = readCertificateFacts(cert(seq(utc("250101000000Z"), utc("260101000000Z")), { version: false }));
    expect(facts.notBefore.toISOString()).toBe("2025-01-01T00:00:00.000Z");
    expect(facts.extensionOids).toEqual([]);
  });

  it("decodes extension OIDs, including 2.x arcs and multi-byte components", () => {
    const apple = oid(0x2a, 0x86, 0x48, 0x86, 0xf7, 0x63, 0x64, 0x06, 0x03, 0x01); // 1.2.840.113635.100.6.3.1
    const joint = oid(0x55, 0x1d, 0x13); // 2.5.29.19 (basicConstraints)
    const big = oid(0x88, 0x37, 0x01); // 2.999.1
    const facts = readCertificateFacts(cert(seq(utc("250101000000Z"), utc("260101000000Z")), { extOids: [apple, joint, big] }));
    expect(facts.extensionOids).toEqual(["1.2.840.113635.100.6.3.1", "2.5.29.19", "2.999.1"]);
  });

  it("reads long-form lengths", () => {
    const padded = cert(seq(utc("250101000000Z"), utc("260101000000Z")), { extOids: Array.from({ length: 40 }, () => oid(0x55, 0x1d, 0x0e)) });
    expect(padded.length).toBeGreaterThan(256);
    expect(readCertificateFacts(padded).extensionOids).toHaveLength(40);
  });

  it.each([
    ["empty input", Buffer.from([]), /truncated/],
    ["a high tag number", Buffer.from([0x1f, 0x00]), /high-tag/],
    ["an indefinite length", Buffer.from([0x30, 0x80, 0x00, 0x00]), /bad DER length/],
    ["a length of more than 4 bytes", Buffer.from([0x30, 0x85, 1, 1, 1, 1, 1]), /bad DER length/],
    ["a length past the end", Buffer.from([0x30, 0x05, 0x00]), /truncated/],
    ["a long length past the end", Buffer.from([0x30, 0x82, 0x01]), /bad DER length/],
    ["something that is not a SEQUENCE", Buffer.from([0x02, 0x01, 0x00]), /not a DER certificate/],
    ["an empty SEQUENCE", Buffer.from([0x30, 0x00]), /no tbsCertificate/],
    ["a tbs without validity", seq(seq(tlv(0xa0, int(2)), int(1))), /no validity/],
    ["a validity with one date", cert(seq(utc("250101000000Z"))), /bad validity/],
    ["a time in another format", cert(seq(utc("2501010000Z0"), utc("260101000000Z"))), /time format/],
  ])("refuses %s", (_what, der, message) => {
    expect(() => readCertificateFacts(der)).toThrow(message);
  });
});

describe("PEM helpers", () => {
  it("derToPem wraps at 64 columns and extractPemBlocks reads it back", () => {
    const der = Buffer.alloc(100, 7);
    const pem = derToPem("CERTIFICATE", der);
    expect(pem.split("\n").slice(1, -2).every((l) => l.length <= 64)).toBe(true);
    expect(extractPemBlocks(pem)).toEqual([{ label: "CERTIFICATE", pem, der }]);
  });

  it("skips a block whose body is not base64", () => {
    expect(extractPemBlocks("-----BEGIN CERTIFICATE-----\n*** not base64 ***\n-----END CERTIFICATE-----\n")).toEqual([]);
  });
});
