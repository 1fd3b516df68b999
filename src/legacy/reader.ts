/**
 * Reads every legacy Conversations push credential (`GET /v1/Credentials`, all pages) with our own
 * HTTP (the shared agent, our retry policy, size cap, cleaned error text), sent to any base URL.
 * It pages by `meta.next_page_url` as the Twilio libraries do, without loading one: a page keeps
 * only the fields a `LegacyCredential` holds, so 10,000 credentials cost a few MiB, not the
 * library's objects (and the library's load time).
 */
import type { Dispatcher } from "undici";
import { parseBaseUrl } from "../http/url.js";
import type { LegacyCredential } from "../domain.js";
import { ApiError, AuthError, Cr2commsError, EXIT, PermissionError } from "../errors.js";
import { LEGACY_MAX_PAGES, LEGACY_PAGE_SIZE, MAX_RESPONSE_BYTES } from "../limits.js";
import { silentLogger, type Logger } from "../log.js";
import { createDispatcher, sendHttp, type HttpAnswer } from "../http/agent.js";
import { NetworkError } from "../http/errors.js";
import { isNetworkError } from "../http/network.js";
import { withRetry } from "../http/retry.js";
import { classifyRead } from "../http/read.js";
import { cleanServerText, parseErrorBody, rememberSecret } from "../http/server-text.js";
import { TOOL_NAME, TOOL_VERSION } from "../version.js";

/** Where the legacy API lives unless told otherwise. */
export const DEFAULT_CONVERSATIONS_URL = "https://conversations.twilio.com";

const API = "Conversations";
const COLLECTION = "/v1/Credentials";

export interface LegacyReaderConfig {
  accountSid: string;
  /** Account SID (with an Auth Token) or API Key SID `SK…` (with its secret). */
  username: string;
  password: string;
  /**
   * Which credential `username`/`password` are and where they came from, for 401 and 403 messages
   * (e.g. `TWILIO_AUTH_TOKEN for AC…`); default `API key SK…` or `the auth token for AC…`.
   */
  credentialLabel?: string;
  /** Scheme + host (+ optional port) every request is sent to, e.g. `http://127.0.0.1:4010`. */
  baseUrl: string;
  logger?: Logger;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /**
   * The shared HTTP agent (see `createDispatcher`); the caller closes it. Without one the reader
   * makes its own, without proxy, and `close()` closes it.
   */
  dispatcher?: Dispatcher;
  /** Page budget; default `LEGACY_MAX_PAGES`. */
  maxPages?: number;
  /** Largest answer read; default `MAX_RESPONSE_BYTES`. */
  maxResponseBytes?: number;
  /** Overall deadline of each request; default the dispatcher's, else `REQUEST_DEADLINE_MS`. */
  requestDeadlineMs?: number;
}

export interface LegacyReader {
  /**
   * Every credential of the account, each sid once, in the order the API returned them.
   * `onPage` is called after each page with the number of distinct credentials read so far.
   * A record without a sid cannot be mapped or migrated: it is skipped and counted in `warnings`.
   */
  listAll(onPage?: (n: number) => void): Promise<LegacyCredential[]>;
  /** Problems of the last `listAll` that did not stop it (e.g. records without a sid), cleaned text. */
  readonly warnings: readonly string[];
  /** Closes the reader's own dispatcher, if it made one. */
  close(): Promise<void>;
}

/** One page as the reader keeps it: the records (objects; anything else becomes `{}`) and the next page's URL. */
interface Page {
  records: Record<string, unknown>[];
  nextUrl: string | undefined;
}

/** Creates a reader for the legacy Conversations Credentials API. */
export function createLegacyReader(cfg: LegacyReaderConfig): LegacyReader {
  const logger = cfg.logger ?? silentLogger;
  const base = parseBaseUrl(cfg.baseUrl, "Conversations");
  const ownDispatcher = cfg.dispatcher ? undefined : createDispatcher({ proxy: false });
  const dispatcher = cfg.dispatcher ?? ownDispatcher!;
  const maxBytes = cfg.maxResponseBytes ?? MAX_RESPONSE_BYTES;
  const maxPages = cfg.maxPages ?? LEGACY_MAX_PAGES;
  const headers: Record<string, string> = {
    authorization: `Basic ${Buffer.from(`${cfg.username}:${cfg.password}`).toString("base64")}`,
    accept: "application/json",
    "user-agent": `${TOOL_NAME}/${TOOL_VERSION}`,
  };
  rememberSecret(cfg.password);
  const credential = cfg.credentialLabel ?? (cfg.username.startsWith("SK") ? `API key ${cfg.username}` : `the auth token for ${cfg.accountSid}`);
  let warnings: string[] = [];

  /** GET one page (retried by the shared policy); error answers become typed errors from cleaned text. */
  async function getPage(url: URL): Promise<Page> {
    // A next page's path comes from an answer: shown only cleaned, like any server text.
    const path = cleanServerText(url.pathname);
    let res: HttpAnswer;
    try {
      res = await withRetry(
        async () => {
          const answer = await sendHttp({ dispatcher, api: API, method: "GET", url: url.href, headers, maxBytes, deadlineMs: cfg.requestDeadlineMs });
          logger.debug({ api: API, method: "GET", path, status: answer.status }, "http");
          return answer;
        },
        classifyRead,
        {
          sleep: cfg.sleep,
          random: cfg.random,
          description: `GET ${path}`,
          onRetry: (info) => logger.warn({ api: API, method: "GET", path, ...info }, "retrying request"),
        },
      );
    } catch (error) {
      if (isNetworkError(error)) throw new NetworkError(API, "GET", `${url.origin}${path}`, error);
      throw error;
    }
    if (res.status === 401) throw new AuthError(cfg.accountSid, API, { request: { host: base.host, credential } });
    if (res.status < 200 || res.status >= 300) {
      const parsed = parseErrorBody(res.status, res.text);
      if (res.status === 403) {
        throw new PermissionError(API, parsed.code, parsed.message, { host: base.host, credential, method: "GET", what: `${COLLECTION} (list Conversations credentials)` });
      }
      throw new ApiError(API, res.status, parsed.code, parsed.message);
    }
    return readPage(res.text.trim() === "" ? {} : parseJson(res.text, path));
  }

  return {
    get warnings() {
      return warnings;
    },

    async close() {
      await ownDispatcher?.close();
    },

    async listAll(onPage) {
      warnings = [];
      const bySid = new Map<string, LegacyCredential>();
      const seenPages = new Set<string>();
      let withoutSid = 0;
      let url = new URL(`${base.origin}${base.pathname.replace(/\/+$/, "")}${COLLECTION}?PageSize=${LEGACY_PAGE_SIZE}`);
      for (let pages = 1; ; pages++) {
        const page = await getPage(url);
        for (const record of page.records) {
          if (typeof record.sid !== "string" || record.sid === "") {
            withoutSid++;
            continue;
          }
          if (bySid.has(record.sid)) {
            logger.debug({ sid: record.sid }, "legacy credential listed twice; kept once");
            continue;
          }
          const credential = toLegacyCredential(record);
          bySid.set(credential.sid, credential);
        }
        onPage?.(bySid.size);
        const nextUrl = page.nextUrl;
        if (!nextUrl) break;
        const where = cleanServerText(stripQuery(nextUrl));
        if (page.records.length === 0) {
          throw new Cr2commsError(`${API} API paging stopped: an empty page still names a next page (${where})`, EXIT.failure);
        }
        if (seenPages.has(nextUrl)) {
          throw new Cr2commsError(`${API} API paging loops: next_page_url repeats (${where})`, EXIT.failure);
        }
        if (pages >= maxPages) {
          throw new Cr2commsError(`${API} API paging stopped: more than ${maxPages} pages (${where})`, EXIT.failure);
        }
        seenPages.add(nextUrl);
        url = rebase(nextUrl, base);
      }
      if (withoutSid > 0) {
        const warning = `${API} API listed ${withoutSid} credential${withoutSid === 1 ? "" : "s"} without a sid; skipped (cannot be mapped or migrated)`;
        warnings.push(warning);
        logger.warn({ api: API, count: withoutSid }, warning);
      }
      return [...bySid.values()];
    },
  };
}

function parseJson(text: string, path: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // No cause: the parser's message quotes the answer, which is server text.
    throw new Cr2commsError(`${API} API answered ${path} with invalid JSON`, EXIT.failure);
  }
}

/**
 * The records of a list answer and its next page. The records array is named by `meta.key`
 * (default `credentials`); a missing one is an empty page, a record that is not an object counts
 * as one without a sid, and unknown fields are ignored.
 */
function readPage(parsed: unknown): Page {
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new Cr2commsError(`${API} API answer is not a JSON object`, EXIT.failure);
  }
  const page = parsed as Record<string, unknown>;
  const meta = page.meta && typeof page.meta === "object" ? (page.meta as Record<string, unknown>) : undefined;
  const key = typeof meta?.key === "string" && meta.key !== "" ? meta.key : "credentials";
  const raw: unknown[] = Array.isArray(page[key]) ? page[key] : [];
  const records = raw.map((r) => (r && typeof r === "object" && !Array.isArray(r) ? (r as Record<string, unknown>) : {}));
  // Twilio's v1 APIs name the next page in `meta.next_page_url`; older ones at the top level.
  const next = meta ? meta.next_page_url : undefined;
  const nextUrl = typeof next === "string" && next !== "" ? next : typeof page.next_page_uri === "string" && page.next_page_uri !== "" ? page.next_page_uri : undefined;
  return { records, nextUrl };
}

/** A next-page URL (absolute, or a path) aimed at our base URL: its path and query, our scheme and host. */
function rebase(next: string, base: URL): URL {
  const url = new URL(next, base.origin);
  url.protocol = base.protocol;
  url.host = base.host;
  return url;
}

function stripQuery(url: string): string {
  return url.split("?")[0] ?? url;
}

/** `"True"`/`"true"`/`true` → true, `"False"`/`"false"`/`false` → false, anything else → null. */
export function parseSandbox(raw: unknown): boolean | null {
  if (raw === true || raw === false) return raw;
  if (typeof raw !== "string") return null;
  const value = raw.trim().toLowerCase();
  if (value === "true") return true;
  if (value === "false") return false;
  return null;
}

/** An ISO 8601 date-time normalised (`…T…:…:….000Z`), as the Twilio libraries parse it; anything else as sent. */
function dateString(value: unknown): string | null {
  if (typeof value !== "string" || value === "") return null;
  const at = Date.parse(value);
  return Number.isNaN(at) ? value : new Date(at).toISOString();
}

function stringOrNull(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

/**
 * Maps one API record (snake_case, as `GET /v1/Credentials` sends it) to a `LegacyCredential`,
 * keeping only its fields: the rest of the record is left behind with the page.
 */
export function toLegacyCredential(record: Record<string, unknown>): LegacyCredential {
  if (typeof record.sid !== "string" || record.sid === "") {
    throw new Cr2commsError(`${API} API returned a credential without a sid`, EXIT.failure);
  }
  const sandbox = record.sandbox;
  return {
    sid: record.sid,
    accountSid: stringOrNull(record.account_sid),
    friendlyName: stringOrNull(record.friendly_name),
    type: typeof record.type === "string" ? record.type.toLowerCase() : String(record.type ?? ""),
    sandbox: parseSandbox(sandbox),
    sandboxRaw: typeof sandbox === "string" ? sandbox : typeof sandbox === "boolean" ? String(sandbox) : null,
    dateCreated: dateString(record.date_created),
    dateUpdated: dateString(record.date_updated),
    url: stringOrNull(record.url),
  };
}
