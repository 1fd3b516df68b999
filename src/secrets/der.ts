/**
 * A tiny DER reader: just enough of X.509 to read what Node's `X509Certificate` does not expose
 * (custom extension OIDs) and the validity dates, without parsing the key (node-forge cannot read
 * non-RSA certificates).
 */

interface Tlv {
  tag: number;
  /** Offset of the contents. */
  start: number;
  /** Offset just past the contents. */
  end: number;
}

function readTlv(buf: Uint8Array, offset: number, limit: number): Tlv {
  if (offset + 2 > limit) throw new Error("truncated DER");
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new Error("high-tag-number DER tags are not used in X.509");
  let len = buf[offset + 1]!;
  let pos = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || pos + n > limit) throw new Error("bad DER length");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[pos + i]!;
    pos += n;
  }
  if (pos + len > limit) throw new Error("truncated DER");
  return { tag, start: pos, end: pos + len };
}

function children(buf: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  let pos = parent.start;
  while (pos < parent.end) {
    const t = readTlv(buf, pos, parent.end);
    out.push(t);
    pos = t.end;
  }
  return out;
}

function decodeOid(bytes: Uint8Array): string {
  const parts: number[] = [];
  let value = 0;
  for (const b of bytes) {
    value = value * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      parts.push(value);
      value = 0;
    }
  }
  const first = parts.shift() ?? 0;
  const head = first < 80 ? [Math.floor(first / 40), first % 40] : [2, first - 80];
  return [...head, ...parts].join(".");
}

function decodeTime(tag: number, text: string): Date {
  // UTCTime YYMMDDHHMMSSZ (years 50..99 are 19xx), GeneralizedTime YYYYMMDDHHMMSSZ.
  const m = tag === 0x17 ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?Z$/.exec(text) : /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?Z$/.exec(text);
  if (!m) throw new Error("unsupported certificate time format");
  let year = Number(m[1]);
  if (tag === 0x17) year += year >= 50 ? 1900 : 2000;
  return new Date(Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? "0")));
}

/** What the DER walk learns from a certificate. */
export interface CertificateFacts {
  notBefore: Date;
  notAfter: Date;
  /** Dotted OIDs of every extension present. */
  extensionOids: string[];
}

/** Reads validity and extension OIDs from a DER-encoded X.509 certificate; throws on malformed input. */
export function readCertificateFacts(der: Uint8Array): CertificateFacts {
  const cert = readTlv(der, 0, der.length);
  if (cert.tag !== 0x30) throw new Error("not a DER certificate");
  const tbsTlv = children(der, cert)[0];
  if (!tbsTlv || tbsTlv.tag !== 0x30) throw new Error("no tbsCertificate");
  const tbs = children(der, tbsTlv);
  // An explicit [0] version comes first when present; validity is the 4th field after it.
  const fields = tbs[0]?.tag === 0xa0 ? tbs.slice(1) : tbs;
  const validity = fields[3];
  if (!validity || validity.tag !== 0x30) throw new Error("no validity");
  const [nb, na] = children(der, validity);
  if (!nb || !na) throw new Error("bad validity");
  const text = (t: Tlv) => Buffer.from(der.subarray(t.start, t.end)).toString("latin1");
  const extensionOids: string[] = [];
  const extsWrapper = tbs.find((t) => t.tag === 0xa3);
  if (extsWrapper) {
    const seq = children(der, extsWrapper)[0];
    if (seq) {
      for (const ext of children(der, seq)) {
        const oid = children(der, ext)[0];
        if (oid?.tag === 0x06) extensionOids.push(decodeOid(der.subarray(oid.start, oid.end)));
      }
    }
  }
  return { notBefore: decodeTime(nb.tag, text(nb)), notAfter: decodeTime(na.tag, text(na)), extensionOids };
}
