/**
 * Text taken from a server answer is untrusted: a server (or a proxy) may echo what it was sent,
 * which for a Comms create is a base64 private key and for every request the auth token or API
 * secret. Every piece of server text that is shown or stored (error messages, paths and ids taken
 * from answers, log fields) goes through `cleanServerText`; `parseErrorBody` does it for error
 * bodies. The clients register the token or API secret they send with `rememberSecret`, so the
 * cleaning removes it wherever the text comes from; a client passes the contents it has sent as
 * `sent` on every path (kept per client: one account's worth, however many accounts a run works).
 */
import { MAX_SERVER_TEXT_CHARS, SERVER_TEXT_SCAN_CHARS } from "../limits.js";
import { escapeControl } from "../text.js";

export interface CleanOptions {
  /**
   * Secret strings that were sent with the request (e.g. the base64 `content` values of a create).
   * Their base64-decoded text, the string values of decoded JSON and the bodies of PEM blocks are
   * treated as sent too.
   */
  sent?: readonly string[] | SentSecrets;
}

const REDACTED = "[redacted]";

/** Shorter runs can be ordinary words; from 8 characters on a match with what was sent is no accident. */
const MIN_ECHO_RUN = 8;
/** Base64 or hex this long is key material, a token or a digest: never worth showing. */
const MIN_SECRET_RUN = 32;

const PEM_BLOCK = /-----BEGIN[^-\n]*-----[\s\S]*?(?:-----END[^-\n]*-----|$)/g;
const PEM_MARKER = /-----(?:BEGIN|END)[^-\n]*-----/g;
const BASE64_RUN = /[A-Za-z0-9+/=]{8,}/g;
const WORDISH_RUN = /[A-Za-z0-9+/=_.@-]{8,}/g;
const LONG_RUN = /[A-Za-z0-9+/]{32,}={0,2}/g;
const SID = /^[A-Z]{2}[0-9a-f]{32}$/;
/** A path segment of the Twilio APIs: a word or camel-case words, perhaps with a version number (`v1`). */
const PATH_WORD = /^(?:[A-Z]?[a-z]+)+[0-9]*$/;

/** Every token and API secret this process has sent, expanded. */
const remembered = new Set<string>();
const rememberedMaterial = new Set<string>();
/**
 * The same material by a hash of each of its 8-character pieces: a run of 8+ characters can only
 * occur in a material holding the run's first 8 characters. A run over many accounts remembers one
 * token per account; looking each run of each cleaned text up among all of them made every request
 * slower the more accounts the run works. Keyed by a small-integer hash, not the piece itself: about
 * 6 KiB per account (its token and Basic header) instead of 20 (a collision only costs one
 * more `includes`).
 */
const rememberedByPiece = new Map<number, string | string[]>();

/**
 * Adds secrets to what `cleanServerText` always removes, from then on and on every path: a token
 * or API secret a client sends, an account's auth token read from the Accounts API, the Basic-auth
 * header a proxy may echo. Values shorter than 8 characters cannot be told from ordinary words and
 * are skipped.
 */
export function rememberSecret(...values: string[]): void {
  for (const value of values) {
    if (value.length < MIN_ECHO_RUN || remembered.has(value)) continue;
    remembered.add(value);
    for (const m of secretMaterial([value])) rememberMaterial(m);
  }
}

/**
 * Remembers a Basic-auth credential: its secret (as `rememberSecret`), and the header value a
 * proxy may echo as it is — not the header's decoded text, which holds the user name: an account
 * or key sid is no secret, and messages naming it ("account AC… is suspended") must stay readable.
 * Returns the header value.
 */
export function rememberBasicAuth(username: string, password: string): string {
  const header = Buffer.from(`${username}:${password}`).toString("base64");
  rememberSecret(password);
  if (!remembered.has(header)) {
    remembered.add(header);
    rememberMaterial(header);
  }
  return header;
}

function rememberMaterial(m: string): void {
  if (rememberedMaterial.has(m)) return;
  rememberedMaterial.add(m);
  for (let i = 0; i + MIN_ECHO_RUN <= m.length; i++) {
    const key = pieceHash(m, i);
    const holders = rememberedByPiece.get(key);
    if (holders === undefined) rememberedByPiece.set(key, m);
    else if (typeof holders === "string") {
      if (holders !== m) rememberedByPiece.set(key, [holders, m]);
    } else if (holders[holders.length - 1] !== m) holders.push(m);
  }
}

/** Whether a remembered secret holds `run` (8+ characters). */
function rememberedHolds(run: string): boolean {
  const holders = rememberedByPiece.get(pieceHash(run, 0));
  if (holders === undefined) return false;
  return typeof holders === "string" ? holders.includes(run) : holders.some((m) => m.includes(run));
}

/** FNV-1a over the 8 characters of `text` from `at`, cut to a small integer. */
function pieceHash(text: string, at: number): number {
  let h = 0x811c9dc5;
  for (let i = at; i < at + MIN_ECHO_RUN; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h & 0x3fffffff;
}

/**
 * What one client has sent, expanded once as it is added: a client cleans every path and error with
 * all it has sent so far, and expanding that at each request made a run's cleaning grow with the
 * square of the credentials it creates.
 */
export class SentSecrets {
  private readonly values = new Set<string>();
  private readonly expanded = new Set<string>();
  /** Everything derived from the values added, each string once. */
  readonly material: string[] = [];

  /** Adds the secrets of one request; whether any was not added before. */
  add(values: readonly string[]): boolean {
    let added = false;
    for (const value of values) {
      if (this.values.has(value)) continue;
      this.values.add(value);
      added = true;
      for (const m of secretMaterial([value])) {
        if (this.expanded.has(m)) continue;
        this.expanded.add(m);
        this.material.push(m);
      }
    }
    return added;
  }
}

/**
 * Makes server text safe to store or print: removes PEM blocks and markers, every run of 8+
 * characters that occurs in what was sent (`opts.sent`, expanded), base64/hex runs of 32+
 * characters; collapses whitespace, cuts to `MAX_SERVER_TEXT_CHARS` and escapes control characters.
 */
export function cleanServerText(text: string, opts: CleanOptions = {}): string {
  const sent = opts.sent instanceof SentSecrets ? opts.sent.material : opts.sent && opts.sent.length > 0 ? secretMaterial(opts.sent) : [];
  const echoed = (run: string): boolean =>
    sent.some((m) => m.includes(run)) || rememberedHolds(run);
  let out = text.slice(0, SERVER_TEXT_SCAN_CHARS);
  out = out.replace(PEM_BLOCK, REDACTED).replace(PEM_MARKER, REDACTED);
  if (sent.length > 0 || rememberedMaterial.size > 0) {
    // Wider runs first (an e-mail address, a dotted token), then their base64-only parts.
    out = out.replace(WORDISH_RUN, (run) => (echoed(run) ? REDACTED : run));
    out = out.replace(BASE64_RUN, (run) => (echoed(run) ? REDACTED : run));
  }
  out = out.replace(LONG_RUN, (run) => (looksSecret(run) ? REDACTED : run));
  out = out.replace(/\s+/g, " ").trim();
  if (out.length > MAX_SERVER_TEXT_CHARS) out = `${out.slice(0, MAX_SERVER_TEXT_CHARS)}…`;
  return escapeControl(out);
}

/**
 * Hex, or mixed-case base64 with digits; Twilio SIDs and URL paths are kept. A path is kept only
 * when each segment is a SID, a short number or word-like (`v1`, `PushNotifications`): a base64
 * line that happens to contain `/` has digits and capitals inside its pieces.
 */
function looksSecret(run: string): boolean {
  if (SID.test(run)) return false;
  if (run.includes("/")) {
    const segments = run.split("/").filter(Boolean);
    if (segments.every((s) => SID.test(s) || /^[0-9]{1,4}$/.test(s) || (s.length < MIN_SECRET_RUN && PATH_WORD.test(s)))) return false;
  }
  if (/^[0-9a-fA-F]+$/.test(run)) return true;
  return /[0-9]/.test(run) && /[a-z]/.test(run) && /[A-Z]/.test(run);
}

/** Everything derived from the sent secrets that must not come back, longest forms first. */
function secretMaterial(sent: readonly string[]): string[] {
  const out = new Set<string>();
  const add = (value: string, depth: number): void => {
    if (value.length < MIN_ECHO_RUN || out.has(value)) return;
    out.add(value);
    if (depth >= 3) return;
    for (const block of value.match(PEM_BLOCK) ?? []) {
      const body = block.replace(PEM_MARKER, "").replace(/\\n|\s/g, "");
      add(body, depth + 1);
    }
    const decoded = decodeBase64Text(value);
    if (decoded !== undefined) add(decoded, depth + 1);
    for (const leaf of jsonStrings(value)) add(leaf, depth + 1);
  };
  for (const value of sent) add(value, 0);
  return [...out];
}

function decodeBase64Text(value: string): string | undefined {
  const compact = value.replace(/\s/g, "");
  if (compact.length < 16 || !/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) return undefined;
  const text = Buffer.from(compact, "base64").toString("utf8");
  // Binary (e.g. DER) decodes to replacement characters: nothing textual to look for.
  return text.includes("\ufffd") ? undefined : text;
}

function jsonStrings(value: string): string[] {
  const trimmed = value.trim();
  if (!trimmed.startsWith("{") && !trimmed.startsWith("[")) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch {
    return [];
  }
  const leaves: string[] = [];
  const walk = (node: unknown): void => {
    if (typeof node === "string") leaves.push(node);
    else if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === "object") Object.values(node).forEach(walk);
  };
  walk(parsed);
  return leaves;
}

/** A parsed error answer: a Twilio error code when one was given, and a readable, cleaned message. */
export interface ParsedErrorBody {
  code: number | undefined;
  message: string;
}

function asCode(value: unknown): number | undefined {
  if (typeof value === "number" && Number.isInteger(value)) return value;
  if (typeof value === "string" && /^\d+$/.test(value)) return Number(value);
  return undefined;
}

function nonEmpty(value: unknown): string | undefined {
  return typeof value === "string" && value.trim() !== "" ? value.trim() : undefined;
}

/**
 * Parses an error body: Comms `{errors: [{code, message, …}]}`, classic Twilio
 * `{code, message, more_info, status}`, RFC 9457 problem details `{type, title, detail, …}`,
 * or anything else (plain text, HTML, empty). The message is cleaned with `cleanServerText`.
 */
export function parseErrorBody(status: number, text: string, opts: CleanOptions = {}): ParsedErrorBody {
  const clean = (message: string): string => cleanServerText(message, opts);
  let body: unknown;
  try {
    body = text.trim() === "" ? undefined : JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (body && typeof body === "object" && !Array.isArray(body)) {
    const b = body as Record<string, unknown>;
    if (Array.isArray(b.errors) && b.errors.length > 0) {
      const parts: string[] = [];
      let code: number | undefined;
      for (const item of b.errors) {
        if (typeof item === "string") {
          parts.push(item);
          continue;
        }
        if (!item || typeof item !== "object") continue;
        const e = item as Record<string, unknown>;
        const itemCode = asCode(e.code);
        code ??= itemCode;
        const message = nonEmpty(e.message) ?? nonEmpty(e.detail) ?? nonEmpty(e.title) ?? "error";
        const field = nonEmpty(e.field) ?? nonEmpty(e.pointer) ?? nonEmpty(e.path);
        parts.push(`${field ? `${field}: ` : ""}${message}${itemCode !== undefined && b.errors.length > 1 ? ` (code ${itemCode})` : ""}`);
      }
      if (parts.length > 0) return { code, message: clean(parts.join("; ")) };
    }
    const code = asCode(b.code);
    const title = nonEmpty(b.title);
    const detail = nonEmpty(b.detail);
    if (title || detail) {
      return { code, message: clean(title && detail && title !== detail ? `${title}: ${detail}` : (detail ?? title ?? "")) };
    }
    const message = nonEmpty(b.message) ?? nonEmpty(b.error_description) ?? nonEmpty(b.error);
    if (message) return { code, message: clean(message) };
    return { code, message: `HTTP ${status}` };
  }
  const plain = clean(text.slice(0, SERVER_TEXT_SCAN_CHARS).replace(/<[^>]*>/g, " "));
  return { code: undefined, message: plain === "" ? `HTTP ${status} with an empty body` : `HTTP ${status}: ${plain}` };
}
