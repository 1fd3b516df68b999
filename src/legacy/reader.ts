/**
 * Reads every legacy Conversations push credential (`GET /v1/Credentials`, all pages) through the
 * `twilio` library, which only builds URLs, pages and maps records: the HTTP is ours (the shared
 * agent, our retry policy, size cap, cleaned error text), sent to any base URL.
 */
import twilio from "twilio";
import type { Dispatcher } from "undici";
import { parseBaseUrl } from "../http/url.js";
import type RequestClient from "twilio/lib/base/RequestClient.js";
import type ResponseModule from "twilio/lib/http/response.js";
import type { LegacyCredential } from "../domain.js";
import { ApiError, AuthError, Cr2commsError, EXIT } from "../errors.js";
import { LEGACY_MAX_PAGES, LEGACY_PAGE_SIZE, MAX_RESPONSE_BYTES } from "../limits.js";
import { silentLogger, type Logger } from "../log.js";
import { createDispatcher, firstHeader, sendHttp, type HttpAnswer } from "../http/agent.js";
import { NetworkError } from "../http/errors.js";
import { isNetworkError } from "../http/network.js";
import { classifyHttp, withRetry } from "../http/retry.js";
import { cleanServerText, parseErrorBody } from "../http/server-text.js";

/** Where the legacy API lives unless told otherwise. */
export const DEFAULT_CONVERSATIONS_URL = "https://conversations.twilio.com";

const API = "Conversations";

type Response<T> = ResponseModule.default<T>;

/** The part of the library's `Page` the reader uses. */
interface CredentialPageLike {
  instances: Parameters<typeof toLegacyCredential>[0][];
  nextPageUrl?: string;
  nextPage(): Promise<CredentialPageLike> | undefined;
}

export interface LegacyReaderConfig {
  accountSid: string;
  /** Account SID (with an Auth Token) or API Key SID `SK…` (with its secret). */
  username: string;
  password: string;
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

/** Creates a reader for the legacy Conversations Credentials API. */
export function createLegacyReader(cfg: LegacyReaderConfig): LegacyReader {
  const logger = cfg.logger ?? silentLogger;
  const ownDispatcher = cfg.dispatcher ? undefined : createDispatcher({ proxy: false });
  const httpClient = new RoutedRequestClient({
    baseUrl: cfg.baseUrl,
    accountSid: cfg.accountSid,
    dispatcher: cfg.dispatcher ?? ownDispatcher!,
    maxBytes: cfg.maxResponseBytes ?? MAX_RESPONSE_BYTES,
    logger,
    sleep: cfg.sleep,
    random: cfg.random,
  });
  const maxPages = cfg.maxPages ?? LEGACY_MAX_PAGES;
  let warnings: string[] = [];
  const client = twilio(cfg.username, cfg.password, {
    accountSid: cfg.accountSid,
    httpClient,
    autoRetry: false,
    // Empty strings (not undefined) so TWILIO_EDGE / TWILIO_REGION / TWILIO_LOG_LEVEL from the
    // environment are ignored: the library would otherwise mangle hostnames or print to stdout.
    edge: "",
    region: "",
    logLevel: "none",
    env: {},
  });

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
      try {
        let page: CredentialPageLike = await client.conversations.v1.credentials.page({ pageSize: LEGACY_PAGE_SIZE });
        for (let pages = 1; ; pages++) {
          for (const instance of page.instances) {
            if (typeof instance.sid !== "string" || instance.sid === "") {
              withoutSid++;
              continue;
            }
            const credential = toLegacyCredential(instance);
            if (bySid.has(credential.sid)) {
              logger.debug({ sid: credential.sid }, "legacy credential listed twice; kept once");
              continue;
            }
            bySid.set(credential.sid, credential);
          }
          onPage?.(bySid.size);
          const nextUrl = page.nextPageUrl;
          if (!nextUrl) break;
          const where = cleanServerText(stripQuery(nextUrl));
          if (page.instances.length === 0) {
            throw new Cr2commsError(`${API} API paging stopped: an empty page still names a next page (${where})`, EXIT.failure);
          }
          if (seenPages.has(nextUrl)) {
            throw new Cr2commsError(`${API} API paging loops: next_page_url repeats (${where})`, EXIT.failure);
          }
          if (pages >= maxPages) {
            throw new Cr2commsError(`${API} API paging stopped: more than ${maxPages} pages (${where})`, EXIT.failure);
          }
          seenPages.add(nextUrl);
          const next = page.nextPage();
          if (!next) break;
          page = await next;
        }
      } catch (error) {
        throw toReaderError(error, cfg.accountSid);
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

export interface RoutedOptions {
  baseUrl: string;
  accountSid: string;
  dispatcher: Dispatcher;
  maxBytes: number;
  logger: Logger;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

/**
 * A `twilio.RequestClient` that sends every request (next-page URLs included) to `baseUrl` through
 * the shared agent, retries transient failures with the shared policy, and hands the library the
 * parsed JSON of a 2xx answer. Error answers become `AuthError`/`ApiError` here, from cleaned text.
 */
export class RoutedRequestClient extends twilio.RequestClient {
  private readonly base: URL;
  constructor(private readonly o: RoutedOptions) {
    super({ autoRetry: false });
    this.base = parseBaseUrl(o.baseUrl, "Conversations");
  }

  override async request<TData>(opts: RequestClient.RequestOptions<TData>): Promise<Response<TData>> {
    const url = new URL(rebase(opts.uri, this.base));
    appendParams(url, opts.params);
    const method = String(opts.method).toUpperCase();
    const path = url.pathname;
    const idempotent = method === "GET" || method === "DELETE";
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(opts.headers ?? {})) {
      // undici manages the connection itself.
      if (typeof value === "string" && name.toLowerCase() !== "connection") headers[name.toLowerCase()] = value;
    }
    if (opts.username && opts.password) {
      headers.authorization = `Basic ${Buffer.from(`${opts.username}:${opts.password}`).toString("base64")}`;
    } else if (opts.authStrategy) {
      headers.authorization = await opts.authStrategy.getAuthString();
    }
    const body = encodeBody(opts.data, headers["content-type"]);
    let res: HttpAnswer;
    try {
      res = await withRetry(
        async () => {
          const answer = await sendHttp({ dispatcher: this.o.dispatcher, api: API, method, url: url.href, headers, body, maxBytes: this.o.maxBytes });
          this.o.logger.debug({ api: API, method, path, status: answer.status }, "http");
          return answer;
        },
        (outcome) => {
          if (outcome.ok) {
            return classifyHttp(idempotent, { status: outcome.value.status, retryAfter: firstHeader(outcome.value.headers["retry-after"]) });
          }
          if (!isNetworkError(outcome.error)) return { kind: "done" };
          return classifyHttp(idempotent, { networkError: outcome.error });
        },
        {
          sleep: this.o.sleep,
          random: this.o.random,
          description: `${method} ${path}`,
          onRetry: (info) => this.o.logger.warn({ api: API, method, path, ...info }, "retrying request"),
        },
      );
    } catch (error) {
      if (isNetworkError(error)) throw new NetworkError(API, method, url.href, error);
      throw error;
    }
    if (res.status === 401) throw new AuthError(this.o.accountSid, API);
    if (res.status < 200 || res.status >= 300) {
      const parsed = parseErrorBody(res.status, res.text);
      throw new ApiError(API, res.status, parsed.code, parsed.message);
    }
    const parsed = res.text.trim() === "" ? {} : parseJson(res.text, path);
    return { statusCode: res.status, body: asPage(parsed), headers: res.headers } as unknown as Response<TData>;
  }
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
 * A list answer whose records array is missing is an empty page (unknown fields are ignored), so
 * the library's page reader never meets `undefined` or `null`.
 */
function asPage(parsed: unknown): unknown {
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new Cr2commsError(`${API} API answer is not a JSON object`, EXIT.failure);
  }
  const page = parsed as Record<string, unknown>;
  const meta = page.meta && typeof page.meta === "object" ? (page.meta as Record<string, unknown>) : undefined;
  const key = typeof meta?.key === "string" && meta.key !== "" ? meta.key : "credentials";
  const records: unknown[] = Array.isArray(page[key]) ? page[key] : [];
  // A record that is not an object becomes an empty one: counted as a record without a sid.
  return { ...page, meta: { ...meta, key }, [key]: records.map((r) => (r && typeof r === "object" && !Array.isArray(r) ? r : {})) };
}

/** Query parameters as the library would send them (arrays repeat the key). */
function appendParams(url: URL, params: unknown): void {
  if (!params || typeof params !== "object") return;
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null) continue;
    for (const item of Array.isArray(value) ? value : [value]) url.searchParams.append(key, String(item));
  }
}

/** A write's body: form-encoded (the library's default) or JSON, as the Content-Type says. */
function encodeBody(data: unknown, contentType: string | undefined): string | undefined {
  if (data === undefined || data === null) return undefined;
  if (contentType === "application/json") return JSON.stringify(data);
  const form = new URLSearchParams();
  for (const [key, value] of Object.entries(data as Record<string, unknown>)) {
    if (value === undefined || value === null) continue;
    for (const item of Array.isArray(value) ? value : [value]) form.append(key, String(item));
  }
  return form.toString();
}

/** Replaces scheme and host (incl. port) of `uri` with those of `base`; path and query stay. */
function rebase(uri: string, base: URL): string {
  const url = new URL(uri);
  url.protocol = base.protocol;
  url.host = base.host;
  return url.href;
}

function stripQuery(url: string): string {
  return url.split("?")[0] ?? url;
}

/** Maps what the library throws (RestException and kin) to our typed errors. */
function toReaderError(error: unknown, accountSid: string): unknown {
  if (error instanceof Cr2commsError) return error;
  if (typeof error === "object" && error !== null && typeof (error as { status?: unknown }).status === "number") {
    // No cause: the library's exception carries the answer's body.
    const e = error as { status: number; code?: unknown; message?: unknown; detail?: unknown };
    if (e.status === 401) return new AuthError(accountSid, API);
    const code = typeof e.code === "number" ? e.code : undefined;
    const message =
      (typeof e.message === "string" && e.message) ||
      (typeof e.detail === "string" && e.detail) ||
      `HTTP ${e.status}`;
    return new ApiError(API, e.status, code, cleanServerText(message));
  }
  if (error instanceof SyntaxError) return new Cr2commsError(`${API} API answered with invalid JSON`, EXIT.failure);
  return error;
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

function dateString(value: unknown): string | null {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (typeof value === "string" && value !== "") return value;
  return null;
}

function stringOrNull(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

/** Maps one library instance (camelCase fields) to our `LegacyCredential`. */
export function toLegacyCredential(instance: {
  sid?: unknown;
  accountSid?: unknown;
  friendlyName?: unknown;
  type?: unknown;
  sandbox?: unknown;
  dateCreated?: unknown;
  dateUpdated?: unknown;
  url?: unknown;
}): LegacyCredential {
  if (typeof instance.sid !== "string" || instance.sid === "") {
    throw new Cr2commsError(`${API} API returned a credential without a sid`, EXIT.failure);
  }
  const sandboxRaw =
    typeof instance.sandbox === "string"
      ? instance.sandbox
      : typeof instance.sandbox === "boolean"
        ? String(instance.sandbox)
        : null;
  return {
    sid: instance.sid,
    accountSid: stringOrNull(instance.accountSid),
    friendlyName: stringOrNull(instance.friendlyName),
    type: typeof instance.type === "string" ? instance.type.toLowerCase() : String(instance.type ?? ""),
    sandbox: parseSandbox(instance.sandbox),
    sandboxRaw,
    dateCreated: dateString(instance.dateCreated),
    dateUpdated: dateString(instance.dateUpdated),
    url: stringOrNull(instance.url),
  };
}
