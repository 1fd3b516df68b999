/**
 * Reads every legacy Conversations push credential (`GET /v1/Credentials`, all pages) through the
 * `twilio` library, with our own retry policy and a request client that can aim at any base URL.
 */
import twilio from "twilio";
import { parseBaseUrl } from "../http/url.js";
import type RequestClient from "twilio/lib/base/RequestClient.js";
import type ResponseModule from "twilio/lib/http/response.js";
import type { LegacyCredential } from "../domain.js";
import { ApiError, AuthError, Cr2commsError, EXIT } from "../errors.js";
import { LEGACY_PAGE_SIZE, REQUEST_TIMEOUT_MS } from "../limits.js";
import { silentLogger, type Logger } from "../log.js";
import { NetworkError } from "../http/errors.js";
import { classifyHttp, withRetry } from "../http/retry.js";

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
}

export interface LegacyReader {
  /**
   * Every credential of the account, each sid once, in the order the API returned them.
   * `onPage` is called after each page with the number of distinct credentials read so far.
   */
  listAll(onPage?: (n: number) => void): Promise<LegacyCredential[]>;
}

/** Creates a reader for the legacy Conversations Credentials API. */
export function createLegacyReader(cfg: LegacyReaderConfig): LegacyReader {
  const logger = cfg.logger ?? silentLogger;
  const httpClient = new RoutedRequestClient(cfg.baseUrl, logger, cfg.sleep, cfg.random);
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
    async listAll(onPage) {
      const bySid = new Map<string, LegacyCredential>();
      const seenPages = new Set<string>();
      try {
        let page: CredentialPageLike = await client.conversations.v1.credentials.page({ pageSize: LEGACY_PAGE_SIZE });
        for (;;) {
          for (const instance of page.instances) {
            const credential = toLegacyCredential(instance);
            if (bySid.has(credential.sid)) {
              logger.debug({ sid: credential.sid }, "legacy credential listed twice; kept once");
              continue;
            }
            bySid.set(credential.sid, credential);
          }
          onPage?.(bySid.size);
          const nextUrl = page.nextPageUrl;
          const next = page.nextPage();
          if (!next || !nextUrl) break;
          if (seenPages.has(nextUrl)) {
            throw new Cr2commsError(`${API} API paging loops: next_page_url repeats ${nextUrl}`, EXIT.failure);
          }
          seenPages.add(nextUrl);
          page = await next;
        }
      } catch (error) {
        throw toReaderError(error, cfg.accountSid);
      }
      return [...bySid.values()];
    },
  };
}

/**
 * A `twilio.RequestClient` that sends every request (next-page URLs included) to `baseUrl`,
 * and retries transient failures with the shared policy (these are all GETs).
 */
class RoutedRequestClient extends twilio.RequestClient {
  private readonly base: URL;
  constructor(
    baseUrl: string,
    private readonly logger: Logger,
    private readonly sleep?: (ms: number) => Promise<void>,
    private readonly random?: () => number,
  ) {
    super({ autoRetry: false, timeout: REQUEST_TIMEOUT_MS, keepAlive: true });
    this.base = parseBaseUrl(baseUrl, "Conversations");
  }

  override async request<TData>(opts: RequestClient.RequestOptions<TData>): Promise<Response<TData>> {
    const uri = rebase(opts.uri, this.base);
    const { logLevel: _quiet, ...rest } = opts;
    const method = String(opts.method).toUpperCase();
    const path = new URL(uri).pathname;
    const idempotent = method === "GET" || method === "DELETE";
    try {
      return await withRetry(
        async () => {
          const res = await super.request<TData>({ ...rest, uri });
          this.logger.debug({ api: API, method, path, status: res.statusCode }, "http");
          return res;
        },
        (outcome) => {
          if (outcome.ok) {
            return classifyHttp(idempotent, {
              status: outcome.value.statusCode,
              retryAfter: headerValue(outcome.value.headers, "retry-after"),
            });
          }
          if (!isAxiosError(outcome.error)) return { kind: "done" };
          return classifyHttp(idempotent, { networkError: outcome.error });
        },
        {
          sleep: this.sleep,
          random: this.random,
          description: `${method} ${path}`,
          onRetry: (info) => this.logger.warn({ api: API, method, path, ...info }, "retrying request"),
        },
      );
    } catch (error) {
      if (isAxiosError(error)) throw new NetworkError(API, method, uri, error);
      throw error;
    }
  }
}


/** Replaces scheme and host (incl. port) of `uri` with those of `base`; path and query stay. */
function rebase(uri: string, base: URL): string {
  const url = new URL(uri);
  url.protocol = base.protocol;
  url.host = base.host;
  return url.href;
}

function headerValue(headers: unknown, name: string): string | undefined {
  if (!headers || typeof headers !== "object") return undefined;
  const value = (headers as Record<string, unknown>)[name];
  if (typeof value === "string") return value;
  if (Array.isArray(value) && typeof value[0] === "string") return value[0];
  return undefined;
}

function isAxiosError(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { isAxiosError?: unknown }).isAxiosError === true;
}

/** Maps what the library throws (RestException and kin) to our typed errors. */
function toReaderError(error: unknown, accountSid: string): unknown {
  if (error instanceof Cr2commsError) return error;
  if (typeof error === "object" && error !== null && typeof (error as { status?: unknown }).status === "number") {
    const e = error as { status: number; code?: unknown; message?: unknown; detail?: unknown };
    if (e.status === 401) return new AuthError(accountSid, API, { cause: error });
    const code = typeof e.code === "number" ? e.code : undefined;
    const message =
      (typeof e.message === "string" && e.message) ||
      (typeof e.detail === "string" && e.detail) ||
      `HTTP ${e.status}`;
    return new ApiError(API, e.status, code, message, { cause: error });
  }
  if (error instanceof SyntaxError) {
    return new Cr2commsError(`${API} API answered with invalid JSON: ${error.message}`, EXIT.failure, { cause: error });
  }
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
