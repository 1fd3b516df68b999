import { createPrivateKey } from "node:crypto";
import { describe, expect, it } from "vitest";
import { readCertificateFacts } from "../../src/secrets/der.js";
import { derToPem, extractPemBlocks } from "../../src/secrets/pem.js";
import { validateApn } from "../../src/secrets/index.js";
import { certTimes, fixture } from "./helpers.js";

/** A DER TLV with a short-form length. */
const tlv = (tag: number, ...content: Uint8Array[]) => {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag, body.length]), body]);
};
const seq = (...c: Uint8Array[]) => tlv(0x30, ...c);
const time = (tag: number, s: string) => tlv(tag, Buffer.from(s, "latin1"));
const cert = (validity: Uint8Array) => seq(seq(tlv(0xa0, tlv(0x02, Buffer.from([2]))), tlv(0x02, Buffer.from([1])), seq(), seq(), validity, seq(), seq()));

describe("readCertificateFacts: dates", () => {
  it("UTCTime year 50 is 1950 (RFC 5280), GeneralizedTime may omit the seconds", () => {
    const facts = readCertificateFacts(cert(seq(time(0x17, "500101000000Z"), time(0x18, "205001021504Z"))));
    expect(facts.notBefore.toISOString()).toBe("1950-01-01T00:00:00.000Z");
    expect(facts.notAfter.toISOString()).toBe("2050-01-02T15:04:00.000Z");
  });

  it.each([
    ["a UTCTime with a digit too many", time(0x17, "9912312359590Z")],
    ["a UTCTime with a leading character", time(0x17, "x991231235959Z")],
    ["a UTCTime with a trailing character", time(0x17, "991231235959Zx")],
    ["a GeneralizedTime with a leading character", time(0x18, "x20991231235959Z")],
    ["a GeneralizedTime without its Z", time(0x18, "20991231235959")],
    ["a GeneralizedTime with a trailing character", time(0x18, "20991231235959Zx")],
    ["a GeneralizedTime with letters for digits", time(0x18, "2099123123595aZ")],
  ])("refuses %s", (_what, bad) => {
    expect(() => readCertificateFacts(cert(seq(bad, time(0x17, "260101000000Z"))))).toThrow(/time format/);
  });
});

describe("readCertificateFacts: lengths", () => {
  it("reads lengths written in 1 to 4 bytes", () => {
    // An empty SEQUENCE with its zero length in long form: parsed, then found to hold no tbsCertificate.
    expect(() => readCertificateFacts(Buffer.from([0x30, 0x81, 0x00]))).toThrow(/no tbsCertificate/);
    expect(() => readCertificateFacts(Buffer.from([0x30, 0x84, 0, 0, 0, 0]))).toThrow(/no tbsCertificate/);
  });

  it.each([
    ["a tbsCertificate that is not a SEQUENCE", seq(tlv(0x31, tlv(0x02, Buffer.from([1])), seq(), seq(), seq(time(0x17, "250101000000Z"), time(0x17, "260101000000Z")))), /no tbsCertificate/],
    ["an empty tbsCertificate", seq(seq()), /no validity/],
    ["a validity that is not a SEQUENCE", seq(seq(tlv(0x02, Buffer.from([1])), seq(), seq(), tlv(0x31, time(0x17, "250101000000Z"), time(0x17, "260101000000Z")))), /no validity/],
  ])("refuses %s", (_what, der, message) => {
    expect(() => readCertificateFacts(der)).toThrow(message);
  });

  it("an empty extensions wrapper is no extensions", () => {
    const validity = seq(time(0x17, "250101000000Z"), time(0x17, "260101000000Z"));
    const der = seq(seq(tlv(0xa0, tlv(0x02, Buffer.from([2]))), tlv(0x02, Buffer.from([1])), seq(), seq(), validity, seq(), seq(), tlv(0xa3)));
    expect(readCertificateFacts(der).extensionOids).toEqual([]);
  });

  it("an extension that is empty or whose first field is not an OID is skipped", () => {
    const validity = seq(time(0x17, "250101000000Z"), time(0x17, "260101000000Z"));
    const exts = tlv(0xa3, seq(seq(), seq(tlv(0x01, Buffer.from([0xff]))), seq(tlv(0x06, Buffer.from([0x55, 0x1d, 0x13])))));
    const der = seq(seq(tlv(0xa0, tlv(0x02, Buffer.from([2]))), tlv(0x02, Buffer.from([1])), seq(), seq(), validity, seq(), seq(), exts));
    expect(readCertificateFacts(der).extensionOids).toEqual(["2.5.29.19"]);
  });
});

describe("PEM text as it arrives from .env files and key exports", () => {
  it("escaped Windows line breaks (\\r\\n) are undone", () => {
    const [cert, key] = [fixture("apn-prod.cert.pem"), fixture("apn-prod.key.pem")];
    const crlf = (t: string) => t.replace(/\n/g, "\\r\\n");
    const r = validateApn(crlf(cert), crlf(key), "APN", certTimes("apn-prod.cert.pem").midlife);
    expect(r.problems).toEqual([]);
    expect(r.fingerprint?.contentSha256).toBe(validateApn(cert, key, "APN", certTimes("apn-prod.cert.pem").midlife).fingerprint?.contentSha256);
  });

  it("a legacy encrypted key keeps its headers and the blank line before its body; CRLF and indentation go", () => {
    const legacy = createPrivateKey(fixture("apn-prod.key.pem")).export({ type: "pkcs1", format: "pem", cipher: "aes-128-cbc", passphrase: "fake-legacy-pass" }).toString();
    expect(legacy).toMatch(/DEK-Info: [^\n]+\n\n/);
    const messy = legacy.replace(/\n/g, "\r\n  ");
    const [block] = extractPemBlocks(`Bag Attributes\n${messy}`);
    expect(block?.pem).toBe(legacy);
    expect(block?.der).toEqual(Buffer.alloc(0));
    expect(extractPemBlocks(legacy.replace(/\n/g, "\n\t"))[0]?.pem).toBe(legacy);
  });

  it("a block with an empty body yields an empty body", () => {
    expect(extractPemBlocks("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")).toEqual([
      { label: "CERTIFICATE", pem: "-----BEGIN CERTIFICATE-----\n\n-----END CERTIFICATE-----\n", der: Buffer.alloc(0) },
    ]);
    expect(derToPem("CERTIFICATE", Buffer.alloc(0))).toBe("-----BEGIN CERTIFICATE-----\n\n-----END CERTIFICATE-----\n");
  });

  it("base64 padding of up to two = is accepted, more is not base64", () => {
    expect(extractPemBlocks("-----BEGIN CERTIFICATE-----\nQUI=\n-----END CERTIFICATE-----")[0]?.der).toEqual(Buffer.from("AB"));
    expect(extractPemBlocks("-----BEGIN CERTIFICATE-----\nQQ==\n-----END CERTIFICATE-----")[0]?.der).toEqual(Buffer.from("A"));
    expect(extractPemBlocks("-----BEGIN CERTIFICATE-----\nQQ===\n-----END CERTIFICATE-----")).toEqual([]);
    expect(extractPemBlocks("-----BEGIN CERTIFICATE-----\n=QQ=\n-----END CERTIFICATE-----")).toEqual([]);
  });

  it("a block ends only at the END marker with the same label", () => {
    const cert = fixture("apn-prod.cert.pem");
    const mismatched = cert.replace("-----END CERTIFICATE-----", "-----END PRIVATE KEY-----");
    expect(extractPemBlocks(mismatched)).toEqual([]);
  });
});
