/**
 * The Comms Push Notifications Credentials client, sending through the shared HTTP agent.
 * Request bodies carry base64 secrets: they are never logged; logs show method, path, status.
 * Error messages are built from cleaned server text (`cleanServerText`), which drops anything the
 * request sent, so they are safe to print and store when they leave this client.
 */
import type { Dispatcher } from "undici";
import { parseBaseUrl } from "../http/url.js";
import type { CommsCredential, CredentialType } from "../domain.js";
import { ApiError, AuthError, Cr2commsError, EXIT, PermissionError, UnknownOutcomeError, WritesStoppedError } from "../errors.js";
import { createDispatcher, firstHeader, ResponseTooLargeError, sendHttp } from "../http/agent.js";
import { NetworkError } from "../http/errors.js";
import { isNetworkError } from "../http/network.js";
import { classifyHttp, defaultSleep, withRetry, type RetryDecision } from "../http/retry.js";
import { cleanServerText, parseErrorBody, rememberSecret, SentSecrets } from "../http/server-text.js";
import { COMMS_MAX_PAGES, COMMS_PAGE_SIZE, MAX_RESPONSE_BYTES } from "../limits.js";
import { silentLogger, type Logger } from "../log.js";
import { hasControl } from "../text.js";
import { TOOL_NAME, TOOL_VERSION } from "../version.js";
import type {
  Accepted,
  AnswerInfo,
  CommsClient,
  CommsListFilter,
  CommsApp,
  CommsStats,
  CreateCredentialBody,
  CreateOptions,
} from "./types.js";

/** Where the Comms API lives unless told otherwise. */
export const DEFAULT_COMMS_URL = "https://comms.twilio.com";

const API = "Comms";

/**
 * A Comms credential id: `comms_credential_` and lowercase Crockford base32, a ULID (26; the docs'
 * pattern allows up to 34).
 */
export const COMMS_CREDENTIAL_ID_PATTERN = /^comms_credential_[0-9a-hjkmnp-tv-z]{26,34}$/;

export interface CommsClientConfig {
  /** Scheme + host (+ port), e.g. `https://comms.twilio.com`; every request goes there. */
  baseUrl: string;
  apiVersion: "v1" | "preview";
  /** Account SID (with its Auth Token) or API Key SID (with its secret). */
  username: string;
  password: string;
  /** For error messages. */
  accountSid: string;
  /**
   * Which credential `username`/`password` are and where they came from, for 401 and 403 messages
   * (e.g. `TWILIO_AUTH_TOKEN for AC…`); default `API key SK…` or `the auth token for AC…`.
   */
  credentialLabel?: string;
  logger?: Logger;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /**
   * The shared HTTP agent (see `createDispatcher`); the caller closes it. Without one the client
   * makes its own, without proxy, and `close()` closes it.
   */
  dispatcher?: Dispatcher;
  /** Connect, headers and body timeout of the client's own dispatcher; default `REQUEST_TIMEOUT_MS`. */
  requestTimeoutMs?: number;
  /** Overall deadline of each request; default the dispatcher's, else `REQUEST_DEADLINE_MS`. */
  requestDeadlineMs?: number;
  /** List page size; default `COMMS_PAGE_SIZE` (tests use small pages to exercise paging). */
  pageSize?: number;
  /** List page budget; default `COMMS_MAX_PAGES`. */
  maxPages?: number;
  /** Largest answer read; default `MAX_RESPONSE_BYTES`. */
  maxResponseBytes?: number;
  /** This machine's clock, against which answers' `Date` headers are kept (tests skew it). */
  now?: () => Date;
}

/** The kinds `stats.byKind` counts (every HTTP attempt, retries included). */
export type CommsRequestKind = "list" | "fetch" | "create" | "patch" | "delete" | "list-apps" | "fetch-app" | "patch-app" | "list-registrations";

interface HttpResult {
  kind: CommsRequestKind;
  method: string;
  status: number;
  text: string;
  location: string | undefined;
  /** True when an earlier attempt of this call may have been carried out (network error or 5xx). */
  uncertainEarlier: boolean;
}

/** Creates a Comms client. Call `close()` when done (it closes the client's own dispatcher, if any). */
export function createCommsClient(cfg: CommsClientConfig): CommsClient {
  const logger = cfg.logger ?? silentLogger;
  const base = parseBaseUrl(cfg.baseUrl, "Comms");
  const ownDispatcher = cfg.dispatcher ? undefined : createDispatcher({ proxy: false, timeoutMs: cfg.requestTimeoutMs });
  const dispatcher = cfg.dispatcher ?? ownDispatcher!;
  const maxBytes = cfg.maxResponseBytes ?? MAX_RESPONSE_BYTES;
  const prefix = base.pathname.replace(/\/+$/, "");
  const collectionPath = `${prefix}/${cfg.apiVersion}/PushNotifications/Credentials`;
  const authorization = `Basic ${Buffer.from(`${cfg.username}:${cfg.password}`).toString("base64")}`;
  rememberSecret(cfg.password);
  // Every credential content this client sent: none of it may come back in any answer's text.
  // Kept per client (one account), not process-wide, so a fleet's cleaning stays cheap.
  const sentSoFar = new SentSecrets();
  const cleanedPaths = new Map<string, string>();
  const cleanPath = (path: string): string => {
    let cleaned = cleanedPaths.get(path);
    if (cleaned === undefined) {
      cleaned = cleanServerText(path, { sent: sentSoFar });
      cleanedPaths.set(path, cleaned);
    }
    return cleaned;
  };
  const stats: CommsStats = { requests: 0, retries: 0, byKind: {} };
  const answerListeners = new Set<(status: number, answer?: AnswerInfo) => void>();
  const pause = cfg.sleep ?? defaultSleep;
  const clock = cfg.now ?? (() => new Date());
  let lastServerDate: { serverDate: Date; receivedAt: Date } | undefined;
  // A 403 to a write: the key lacks write permission in this account. Every later write (also one
  // already queued, or a retry) is refused here without being sent.
  let writesForbidden = false;
  // The first write goes alone: until it is answered, no other write is sent. A key without write
  // permission then draws one 403, not one per request the limiter let out at once. Costs one round
  // trip at the start of a run that writes.
  let firstWrite: { answered: Promise<void>; open: () => void } | undefined;
  let firstWriteAnswered = false;
  let aroundWait: (<T>(wait: () => Promise<T>) => Promise<T>) | undefined;

  async function send(kind: CommsRequestKind, method: string, path: string, body?: unknown, onSend?: (n: number) => Promise<void>): Promise<HttpResult> {
    // PATCH of an App (isDefault: true) is idempotent too: sending it twice sets the same default.
    const idempotent = kind !== "create";
    // A path may carry text from an answer (a next page, a listed id): shown only cleaned.
    const pathOnly = cleanPath(path.split("?")[0] ?? path);
    let uncertain = false;
    let uncertainEarlier = false;
    const headers: Record<string, string> = {
      authorization,
      accept: "application/json",
      "user-agent": `${TOOL_NAME}/${TOOL_VERSION}`,
    };
    const payload = body === undefined ? undefined : JSON.stringify(body);
    if (sentSoFar.add(sentSecrets(body))) cleanedPaths.clear();
    if (payload !== undefined) headers["content-type"] = "application/json";
    const write = method !== "GET";
    let sends = 0;
    let leading = false;
    if (write && !firstWriteAnswered) {
      if (firstWrite) await firstWrite.answered;
      else {
        let open = () => {};
        const answered = new Promise<void>((resolve) => (open = resolve));
        firstWrite = { answered, open: () => ((firstWriteAnswered = true), open()) };
        leading = true;
      }
    }
    try {
      const result = await withRetry(
        async () => {
          if (write && writesForbidden) throw new WritesStoppedError(base.host);
          await onSend?.(++sends);
          uncertainEarlier = uncertain;
          stats.requests++;
          stats.byKind[kind] = (stats.byKind[kind] ?? 0) + 1;
          const res = await sendHttp({ dispatcher, api: API, method, url: `${base.origin}${path}`, headers, body: payload, maxBytes, deadlineMs: cfg.requestDeadlineMs });
          logger.debug({ api: API, method, path: pathOnly, status: res.status }, "http");
          if (write && res.status === 403) writesForbidden = true;
          if (leading) firstWrite?.open();
          const serverDate = dateHeader(firstHeader(res.headers.date));
          if (serverDate) lastServerDate = { serverDate, receivedAt: clock() };
          for (const listener of answerListeners) listener(res.status, serverDate ? { serverDate } : {});
          return {
            status: res.status,
            text: res.text,
            location: firstHeader(res.headers.location),
            retryAfter: firstHeader(res.headers["retry-after"]),
          };
        },
        (outcome): RetryDecision => {
          const decision = outcome.ok
            ? classifyHttp(idempotent, { status: outcome.value.status, retryAfter: outcome.value.retryAfter })
            : isNetworkError(outcome.error)
              ? classifyHttp(idempotent, { networkError: outcome.error })
              : { kind: "done" as const };
          // 429 and 503 mean "not processed"; other 5xx and lost answers may have been acted on.
          if (outcome.ok ? outcome.value.status >= 500 && outcome.value.status !== 503 : true) uncertain = true;
          return decision;
        },
        {
          sleep: (ms) => (aroundWait ? aroundWait(() => pause(ms)) : pause(ms)),
          random: cfg.random,
          description: `${method} ${base.origin}${pathOnly}`,
          onRetry: (info) => {
            stats.retries++;
            logger.warn({ api: API, method, path: pathOnly, ...info }, "retrying request");
          },
        },
      );
      return { kind, method, status: result.status, text: result.text, location: result.location, uncertainEarlier };
    } catch (error) {
      // A create answered 2xx or 5xx but unreadable (too large) may have been carried out: never "failed".
      if (!idempotent && error instanceof ResponseTooLargeError && (error.status < 400 || error.status >= 500)) {
        throw new UnknownOutcomeError(`${method} ${base.origin}${pathOnly}: outcome unknown (${error.message}); not re-sent`, { cause: error });
      }
      if (error instanceof UnknownOutcomeError || error instanceof Cr2commsError) throw error;
      if (isNetworkError(error)) throw new NetworkError(API, method, `${base.origin}${pathOnly}`, error);
      throw error;
    } finally {
      // Answered or not (a lost answer, a refused journal line), the writes behind it may go now.
      if (leading) firstWrite?.open();
    }
  }

  const credential = cfg.credentialLabel ?? (cfg.username.startsWith("SK") ? `API key ${cfg.username}` : `the auth token for ${cfg.accountSid}`);

  /** What a request of each kind is, for a 403: its path template and what it does. */
  function requestKind(kind: CommsRequestKind): string {
    const byKind: Record<CommsRequestKind, string> = {
      list: `${collectionPath} (list credentials)`,
      fetch: `${collectionPath}/{id} (fetch a credential)`,
      create: `${collectionPath} (create a credential)`,
      patch: `${collectionPath}/{id} (update a credential)`,
      delete: `${collectionPath}/{id} (delete a credential)`,
      "list-apps": `${pushPath}/Apps (list Apps)`,
      "fetch-app": `${pushPath}/Apps/{appName} (fetch an App)`,
      "patch-app": `${pushPath}/Apps/{appName} (set the default App)`,
      "list-registrations": `${pushPath}/DeviceRegistrations (count device registrations)`,
    };
    return byKind[kind];
  }

  function fail(res: HttpResult, write = false): never {
    if (res.status === 401) throw new AuthError(cfg.accountSid, API, { request: { host: base.host, credential } });
    const parsed = parseErrorBody(res.status, res.text, { sent: sentSoFar });
    if (res.status === 403) {
      const refused = new PermissionError(API, parsed.code, parsed.message, { host: base.host, credential, method: res.method, what: requestKind(res.kind) });
      // A write refused: the key lacks write permission, and the client sends no further write.
      if (write) refused.message += ` — the key lacks write permission on ${base.host}; no further write is sent in this account`;
      throw refused;
    }
    throw new ApiError(API, res.status, parsed.code, parsed.message);
  }

  /** Path (+ query) of a URL or path returned by the server, re-aimed at our base URL. */
  function serverPath(urlOrPath: string): string {
    const url = new URL(urlOrPath, base.origin);
    return `${url.pathname}${url.search}`;
  }

  function itemPath(id: string): string {
    return `${collectionPath}/${encodeURIComponent(id)}`;
  }

  async function fetchPath(path: string): Promise<CommsCredential | null> {
    const res = await send("fetch", "GET", path);
    if (res.status === 404) return null;
    if (res.status !== 200) fail(res);
    return toCommsCredential(parseJson(res.text, path), logger);
  }

  /**
   * A write to a resource this client named (PATCH, DELETE): what it acted on is that resource,
   * whatever the answer echoes (the docs' own PATCH example answers with another id).
   */
  function acceptedAt(res: HttpResult, id: string, path: string): Accepted {
    if (res.status < 200 || res.status >= 300) fail(res, true);
    return { resourceId: id, resourceLocation: `${base.origin}${path}` };
  }

  const credentialLocation = new RegExp(`^${escapeRegExp(prefix)}/(?:v1|preview)/PushNotifications/Credentials/([^/]+)$`);

  /** The credential id a location names: on this client's origin, under the Credentials collection (either version); else undefined. */
  function credentialIdAt(location: string): string | undefined {
    let url: URL;
    try {
      url = new URL(location, base.origin);
    } catch {
      return undefined;
    }
    if (url.origin !== base.origin || url.search !== "" || url.hash !== "" || url.username !== "" || url.password !== "") return undefined;
    const segment = credentialLocation.exec(url.pathname)?.[1];
    if (segment === undefined) return undefined;
    let id: string;
    try {
      id = decodeURIComponent(segment);
    } catch {
      return undefined;
    }
    return COMMS_CREDENTIAL_ID_PATTERN.test(id) ? id : undefined;
  }

  /**
   * The credential a create's 2xx names. Server text lands in the ledger and the reports, so only a
   * Comms credential id and a location of it on the Comms origin are taken; anything else (or ids
   * that disagree) is an invalid answer: the create may have been carried out, its outcome unknown.
   */
  function acceptedCreate(res: HttpResult): Accepted {
    if (res.status < 200 || res.status >= 300) fail(res, true);
    let body: unknown;
    try {
      body = res.text.trim() === "" ? undefined : JSON.parse(res.text);
    } catch {
      body = undefined;
    }
    const b = asObject(body);
    const invalid = (what: string, value: unknown): never => {
      const shown = cleanServerText(typeof value === "string" ? value : (JSON.stringify(value) ?? String(value)), { sent: sentSoFar });
      throw new UnknownOutcomeError(
        `${API} API accepted the create (HTTP ${res.status}) but named an invalid resource (${what} "${shown.slice(0, 80)}"); outcome unknown, not re-sent`,
      );
    };
    const given = (value: unknown): boolean => value !== undefined && value !== null && value !== "";
    const ids: string[] = [];
    if (given(b.resourceId)) {
      if (typeof b.resourceId !== "string" || !COMMS_CREDENTIAL_ID_PATTERN.test(b.resourceId)) invalid("resourceId", b.resourceId);
      ids.push(b.resourceId as string);
    }
    const locations: string[] = [];
    for (const [what, value] of [["resourceLocation", b.resourceLocation], ["Location", res.location]] as const) {
      if (!given(value)) continue;
      const id = typeof value === "string" ? credentialIdAt(value) : undefined;
      if (id === undefined) return invalid(what, value);
      ids.push(id);
      locations.push(new URL(value as string, base.origin).href);
    }
    if (ids.some((id) => id !== ids[0])) invalid("resourceId", ids.join(" / "));
    const id = ids[0];
    const location = locations[0];
    if (id === undefined || location === undefined) {
      throw new UnknownOutcomeError(
        `${API} API accepted the request (HTTP ${res.status}) but named no resource (no resourceId/resourceLocation or Location header)`,
      );
    }
    return { resourceId: id, resourceLocation: location };
  }

  const pushPath = `${prefix}/${cfg.apiVersion}/PushNotifications`;
  const appPath = (name: string) => `${pushPath}/Apps/${encodeURIComponent(name)}`;

  /**
   * Every item of a paged list under `collection` (the array named `key` in each page), following
   * `pagination.next` as a URL or a token, within the page budget.
   */
  async function listAllPages(kind: CommsRequestKind, collection: string, key: string, query: URLSearchParams): Promise<unknown[]> {
    const out: unknown[] = [];
    const seen = new Set<string>();
    const maxPages = cfg.maxPages ?? COMMS_MAX_PAGES;
    let path = `${collection}?${query.toString()}`;
    for (let pages = 1; ; pages++) {
      const res = await send(kind, "GET", path);
      if (res.status !== 200) fail(res);
      const page = asObject(parseJson(res.text, path));
      const items: unknown[] = Array.isArray(page[key]) ? (page[key] as unknown[]) : [];
      out.push(...items);
      const next = nextPage(page);
      if (!next) return out;
      if (items.length === 0) throw new Cr2commsError(`${API} API paging stopped: an empty page still names a next page (${collection})`, EXIT.failure);
      if (seen.has(next)) throw new Cr2commsError(`${API} API paging loops: pagination.next repeats`, EXIT.failure);
      if (pages >= maxPages) throw new Cr2commsError(`${API} API paging stopped: more than ${maxPages} pages (${collection})`, EXIT.failure);
      seen.add(next);
      if (/^https?:\/\//i.test(next) || next.startsWith("/")) path = serverPath(next);
      else {
        const nextQuery = new URLSearchParams(query);
        nextQuery.set("pageToken", next);
        path = `${collection}?${nextQuery.toString()}`;
      }
    }
  }

  return {
    stats,

    async listApps() {
      const query = new URLSearchParams({ pageSize: String(cfg.pageSize ?? COMMS_PAGE_SIZE) });
      const raw = await listAllPages("list-apps", `${pushPath}/Apps`, "apps", query);
      const byName = new Map<string, CommsApp>();
      for (const r of raw) {
        const app = toCommsApp(r);
        if (app && !byName.has(app.name)) byName.set(app.name, app);
      }
      return [...byName.values()];
    },

    async fetchApp(appName) {
      const path = appPath(appName);
      const res = await send("fetch-app", "GET", path);
      if (res.status === 404) return null;
      if (res.status !== 200) fail(res);
      return toCommsApp(parseJson(res.text, path)) ?? null;
    },

    async setDefaultApp(appName, opts) {
      const path = appPath(appName);
      const res = await send("patch-app", "PATCH", path, { isDefault: true }, opts?.onSend);
      return acceptedAt(res, appName, path);
    },

    async countDeviceRegistrations(appName) {
      const query = new URLSearchParams({ pageSize: String(cfg.pageSize ?? COMMS_PAGE_SIZE), appName });
      const raw = await listAllPages("list-registrations", `${pushPath}/DeviceRegistrations`, "deviceRegistrations", query);
      // Counted by id where there is one (a page boundary that repeats an item counts it once).
      const ids = new Set<string>();
      let withoutId = 0;
      for (const r of raw) {
        const o = asObject(r);
        if (typeof o.appName === "string" && o.appName !== appName) continue;
        if (typeof o.id === "string" && o.id !== "") ids.add(o.id);
        else withoutId++;
      }
      return ids.size + withoutId;
    },

    async list(filter: CommsListFilter = {}) {
      const query = new URLSearchParams();
      query.set("pageSize", String(cfg.pageSize ?? COMMS_PAGE_SIZE));
      if (filter.appName !== undefined) query.set("appName", filter.appName);
      if (filter.credentialType !== undefined) query.set("credentialType", filter.credentialType);
      if (filter.isDefault !== undefined) query.set("isDefault", String(filter.isDefault));
      if (filter.startDate !== undefined) query.set("startDate", filter.startDate);
      if (filter.endDate !== undefined) query.set("endDate", filter.endDate);
      const firstPath = `${collectionPath}?${query.toString()}`;

      const byId = new Map<string, CommsCredential>();
      // Credentials without an id cannot be told apart: each is kept.
      const withoutId: CommsCredential[] = [];
      const seen = new Set<string>();
      const maxPages = cfg.maxPages ?? COMMS_MAX_PAGES;
      let path = firstPath;
      for (let pages = 1; ; pages++) {
        const res = await send("list", "GET", path);
        if (res.status !== 200) fail(res);
        const page = asObject(parseJson(res.text, path));
        // The docs mark `credentials` optional: an account without any answers without it.
        const items: unknown[] = Array.isArray(page.credentials) ? page.credentials : [];
        for (const raw of items) {
          const credential = toCommsCredential(raw, logger);
          if (credential.id === "") withoutId.push(credential);
          else if (!byId.has(credential.id)) byId.set(credential.id, credential);
        }
        const next = nextPage(page);
        if (!next) break;
        if (items.length === 0) {
          throw new Cr2commsError(`${API} API paging stopped: an empty page still names a next page (${collectionPath})`, EXIT.failure);
        }
        if (seen.has(next)) throw new Cr2commsError(`${API} API paging loops: pagination.next repeats`, EXIT.failure);
        if (pages >= maxPages) {
          throw new Cr2commsError(`${API} API paging stopped: more than ${maxPages} pages (${collectionPath})`, EXIT.failure);
        }
        seen.add(next);
        if (/^https?:\/\//i.test(next) || next.startsWith("/")) {
          path = serverPath(next);
        } else {
          const nextQuery = new URLSearchParams(query);
          nextQuery.set("pageToken", next);
          path = `${collectionPath}?${nextQuery.toString()}`;
        }
      }
      return [...byId.values(), ...withoutId];
    },

    fetch(id) {
      return fetchPath(itemPath(id));
    },

    fetchLocation(location) {
      return fetchPath(serverPath(location));
    },

    async create(body: CreateCredentialBody, opts?: CreateOptions) {
      const res = await send("create", "POST", collectionPath, body, opts?.onSend);
      return acceptedCreate(res);
    },

    async setDefault(id, isDefault, opts) {
      const path = itemPath(id);
      const res = await send("patch", "PATCH", path, { isDefault }, opts?.onSend);
      return acceptedAt(res, id, path);
    },

    async delete(id, opts) {
      const path = itemPath(id);
      const res = await send("delete", "DELETE", path, undefined, opts?.onSend);
      // An earlier attempt whose answer was lost may already have deleted it.
      if (res.status === 404 && res.uncertainEarlier) return { resourceId: id, resourceLocation: `${base.origin}${path}` };
      return acceptedAt(res, id, path);
    },

    watchAnswers(listener) {
      answerListeners.add(listener);
      return () => answerListeners.delete(listener);
    },

    lastServerDate() {
      return lastServerDate;
    },

    aroundRetryWaits(around) {
      aroundWait = around;
      return () => {
        if (aroundWait === around) aroundWait = undefined;
      };
    },

    async close() {
      await ownDispatcher?.close();
    },
  };
}

/** An HTTP `Date` header as a Date; undefined when absent or unreadable. */
function dateHeader(value: string | undefined): Date | undefined {
  const ms = value === undefined ? NaN : Date.parse(value);
  return Number.isNaN(ms) ? undefined : new Date(ms);
}

/** The secret strings of a request body (a create's base64 `content` values); [] for other bodies. */
function sentSecrets(body: unknown): string[] {
  const content = asObject(asObject(body).content);
  return Object.values(content).filter((v): v is string => typeof v === "string");
}

function asObject(value: unknown): Record<string, unknown> {
  return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/**
 * The page after this one, if any. A `next` that is neither absent, null, empty nor text cannot be
 * followed, and stopping there would pass a partial list off as the whole one (a credential not
 * listed looks deleted, and would be created again): it is an error.
 */
function nextPage(page: Record<string, unknown>): string | undefined {
  const pagination = page.pagination;
  if (pagination === undefined || pagination === null) return undefined;
  const next = asObject(pagination).next;
  if (typeof pagination !== "object" || Array.isArray(pagination) || (next !== undefined && next !== null && typeof next !== "string")) {
    throw new Cr2commsError(`${API} API answered a page whose pagination.next is not text: the list cannot be read in full`, EXIT.failure);
  }
  return nonEmpty(next);
}

function nonEmpty(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function parseJson(text: string, path: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // No cause: the parser's message quotes the answer, which is server text.
    throw new Cr2commsError(`${API} API answered ${cleanServerText(path.split("?")[0] ?? path)} with invalid JSON`, EXIT.failure);
  }
}

/** An App as the tool needs it; undefined when it has no name. `isDefault` is true only when the API says `true`. */
export function toCommsApp(raw: unknown): CommsApp | undefined {
  const r = asObject(raw);
  if (typeof r.name !== "string" || r.name === "") return undefined;
  return {
    name: r.name,
    isDefault: r.isDefault === true,
    createdAt: typeof r.createdAt === "string" ? r.createdAt : "",
    updatedAt: typeof r.updatedAt === "string" ? r.updatedAt : "",
  };
}

/** Fields the Comms docs mark optional; a credential lacking one is kept and marked incomplete. */
const OPTIONAL_FIELDS = ["id", "appName", "credentialType"] as const;

/**
 * Reads the fields the tool relies on. The docs mark `id`, `appName` and `credentialType` optional:
 * a missing (or non-string) one becomes `""` and is named in `missing`, so one odd credential is
 * reported rather than aborting a list. Unknown extra fields are ignored.
 */
export function toCommsCredential(raw: unknown, logger: Logger = silentLogger): CommsCredential {
  const r = asObject(raw);
  // Server text: a value with control characters (terminal escapes, bidi overrides) is no usable
  // id or name; it is treated as missing rather than carried into messages and reports.
  const text = (key: string): string => (typeof r[key] === "string" && !hasControl(r[key] as string) ? (r[key] as string) : "");
  const missing = OPTIONAL_FIELDS.filter((key) => text(key) === "");
  const credential: CommsCredential = {
    id: text("id"),
    // Kept as sent: a type this tool does not know is still reported, not dropped.
    credentialType: text("credentialType") as CredentialType,
    isDefault: r.isDefault === true,
    appName: text("appName"),
    createdAt: text("createdAt"),
    updatedAt: text("updatedAt"),
  };
  if (missing.length === 0) return credential;
  logger.warn({ api: API, id: cleanServerText(credential.id), missing }, "Comms credential without some fields; kept as incomplete");
  return { ...credential, missing: [...missing] };
}
