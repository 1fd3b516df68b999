/**
 * The Comms Push Notifications Credentials client, over undici with keep-alive.
 * Request bodies carry base64 secrets: they are never logged; logs show method, path, status.
 */
import { Pool } from "undici";
import { parseBaseUrl } from "../http/url.js";
import type { CommsCredential, CredentialType } from "../domain.js";
import { ApiError, AuthError, Cr2commsError, EXIT, UnknownOutcomeError } from "../errors.js";
import { NetworkError } from "../http/errors.js";
import { classifyHttp, withRetry, type RetryDecision } from "../http/retry.js";
import { COMMS_PAGE_SIZE, REQUEST_TIMEOUT_MS } from "../limits.js";
import { silentLogger, type Logger } from "../log.js";
import { TOOL_NAME, TOOL_VERSION } from "../version.js";
import { parseErrorBody } from "./errors.js";
import type {
  Accepted,
  CommsClient,
  CommsListFilter,
  CommsStats,
  CreateCredentialBody,
  CreateOptions,
} from "./types.js";

/** Where the Comms API lives unless told otherwise. */
export const DEFAULT_COMMS_URL = "https://comms.twilio.com";

const API = "Comms";

export interface CommsClientConfig {
  /** Scheme + host (+ port), e.g. `https://comms.twilio.com`; every request goes there. */
  baseUrl: string;
  apiVersion: "v1" | "preview";
  /** Account SID (with its Auth Token) or API Key SID (with its secret). */
  username: string;
  password: string;
  /** For error messages. */
  accountSid: string;
  logger?: Logger;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** Connect, headers and body timeout; default `REQUEST_TIMEOUT_MS`. */
  requestTimeoutMs?: number;
  /** List page size; default `COMMS_PAGE_SIZE` (tests use small pages to exercise paging). */
  pageSize?: number;
}

/** The kinds `stats.byKind` counts (every HTTP attempt, retries included). */
export type CommsRequestKind = "list" | "fetch" | "create" | "patch" | "delete";

interface HttpResult {
  status: number;
  text: string;
  location: string | undefined;
  /** True when an earlier attempt of this call may have been carried out (network error or 5xx). */
  uncertainEarlier: boolean;
}

/** Creates a Comms client. Call `close()` when done to release pooled connections. */
export function createCommsClient(cfg: CommsClientConfig): CommsClient {
  const logger = cfg.logger ?? silentLogger;
  const base = parseBaseUrl(cfg.baseUrl, "Comms");
  const timeout = cfg.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
  const pool = new Pool(base.origin, {
    connect: { timeout },
    headersTimeout: timeout,
    bodyTimeout: timeout,
    keepAliveTimeout: 10_000,
  });
  const prefix = base.pathname.replace(/\/+$/, "");
  const collectionPath = `${prefix}/${cfg.apiVersion}/PushNotifications/Credentials`;
  const authorization = `Basic ${Buffer.from(`${cfg.username}:${cfg.password}`).toString("base64")}`;
  const stats: CommsStats = { requests: 0, retries: 0, byKind: {} };

  async function send(kind: CommsRequestKind, method: string, path: string, body?: unknown, onSend?: (n: number) => Promise<void>): Promise<HttpResult> {
    const idempotent = kind !== "create";
    const pathOnly = path.split("?")[0] ?? path;
    let uncertain = false;
    let uncertainEarlier = false;
    const headers: Record<string, string> = {
      authorization,
      accept: "application/json",
      "user-agent": `${TOOL_NAME}/${TOOL_VERSION}`,
    };
    const payload = body === undefined ? undefined : JSON.stringify(body);
    if (payload !== undefined) headers["content-type"] = "application/json";
    let sends = 0;
    try {
      const result = await withRetry(
        async () => {
          await onSend?.(++sends);
          uncertainEarlier = uncertain;
          stats.requests++;
          stats.byKind[kind] = (stats.byKind[kind] ?? 0) + 1;
          const res = await pool.request({ origin: base.origin, method: method as "GET", path, headers, body: payload });
          const text = await res.body.text();
          logger.debug({ api: API, method, path: pathOnly, status: res.statusCode }, "http");
          const location = res.headers.location;
          return {
            status: res.statusCode,
            text,
            location: Array.isArray(location) ? location[0] : location,
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
          sleep: cfg.sleep,
          random: cfg.random,
          description: `${method} ${base.origin}${pathOnly}`,
          onRetry: (info) => {
            stats.retries++;
            logger.warn({ api: API, method, path: pathOnly, ...info }, "retrying request");
          },
        },
      );
      return { status: result.status, text: result.text, location: result.location, uncertainEarlier };
    } catch (error) {
      if (error instanceof UnknownOutcomeError || error instanceof Cr2commsError) throw error;
      if (isNetworkError(error)) throw new NetworkError(API, method, `${base.origin}${pathOnly}`, error);
      throw error;
    }
  }

  function fail(res: HttpResult): never {
    if (res.status === 401) throw new AuthError(cfg.accountSid, API);
    const parsed = parseErrorBody(res.status, res.text);
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
    return toCommsCredential(parseJson(res.text, path));
  }

  function accepted(res: HttpResult, fallbackId: string | undefined, fallbackLocation: string | undefined): Accepted {
    if (res.status < 200 || res.status >= 300) fail(res);
    let body: unknown;
    try {
      body = res.text.trim() === "" ? undefined : JSON.parse(res.text);
    } catch {
      body = undefined;
    }
    const b = (body && typeof body === "object" ? body : {}) as Record<string, unknown>;
    const location = nonEmpty(b.resourceLocation) ?? res.location ?? fallbackLocation;
    const id = nonEmpty(b.resourceId) ?? (location ? lastSegment(location) : undefined) ?? fallbackId;
    if (!id || !location) {
      throw new UnknownOutcomeError(
        `${API} API accepted the request (HTTP ${res.status}) but named no resource (no resourceId/resourceLocation or Location header)`,
      );
    }
    return { resourceId: id, resourceLocation: location };
  }

  return {
    stats,

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
      const seen = new Set<string>();
      let path = firstPath;
      for (;;) {
        const res = await send("list", "GET", path);
        if (res.status !== 200) fail(res);
        const page = parseJson(res.text, path) as { credentials?: unknown; pagination?: { next?: unknown } };
        if (!Array.isArray(page.credentials)) {
          throw new Cr2commsError(`${API} API list answer has no credentials array (${collectionPath})`, EXIT.failure);
        }
        for (const raw of page.credentials) {
          const credential = toCommsCredential(raw);
          if (!byId.has(credential.id)) byId.set(credential.id, credential);
        }
        const next = nonEmpty(page.pagination?.next);
        if (!next) break;
        if (seen.has(next)) throw new Cr2commsError(`${API} API paging loops: pagination.next repeats`, EXIT.failure);
        seen.add(next);
        if (/^https?:\/\//i.test(next) || next.startsWith("/")) {
          path = serverPath(next);
        } else {
          const nextQuery = new URLSearchParams(query);
          nextQuery.set("pageToken", next);
          path = `${collectionPath}?${nextQuery.toString()}`;
        }
      }
      return [...byId.values()];
    },

    fetch(id) {
      return fetchPath(itemPath(id));
    },

    fetchLocation(location) {
      return fetchPath(serverPath(location));
    },

    async create(body: CreateCredentialBody, opts?: CreateOptions) {
      const res = await send("create", "POST", collectionPath, body, opts?.onSend);
      return accepted(res, undefined, undefined);
    },

    async setDefault(id, isDefault) {
      const path = itemPath(id);
      const res = await send("patch", "PATCH", path, { isDefault });
      return accepted(res, id, `${base.origin}${path}`);
    },

    async delete(id) {
      const path = itemPath(id);
      const res = await send("delete", "DELETE", path);
      // An earlier attempt whose answer was lost may already have deleted it.
      if (res.status === 404 && res.uncertainEarlier) return { resourceId: id, resourceLocation: `${base.origin}${path}` };
      return accepted(res, id, `${base.origin}${path}`);
    },

    async close() {
      await pool.close();
    },
  };
}


function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function nonEmpty(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

function lastSegment(location: string): string | undefined {
  try {
    const segment = new URL(location, "http://x").pathname.split("/").filter(Boolean).pop();
    return segment ? decodeURIComponent(segment) : undefined;
  } catch {
    return undefined;
  }
}

/** undici and Node socket errors carry a string `code`; anything else is a bug, not the network. */
function isNetworkError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" && (code.startsWith("UND_ERR") || code.startsWith("E"));
}

function parseJson(text: string, path: string): unknown {
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new Cr2commsError(`${API} API answered ${path.split("?")[0]} with invalid JSON`, EXIT.failure, { cause });
  }
}

/** Validates the fields the tool relies on; unknown extra fields are ignored. */
export function toCommsCredential(raw: unknown): CommsCredential {
  const r = (raw && typeof raw === "object" ? raw : {}) as Record<string, unknown>;
  if (typeof r.id !== "string" || r.id === "" || typeof r.appName !== "string" || typeof r.credentialType !== "string") {
    throw new Cr2commsError(`${API} API returned a credential without id, appName or credentialType`, EXIT.failure);
  }
  return {
    id: r.id,
    // Kept as sent: a type this tool does not know is still reported, not dropped.
    credentialType: r.credentialType as CredentialType,
    isDefault: r.isDefault === true,
    appName: r.appName,
    createdAt: typeof r.createdAt === "string" ? r.createdAt : "",
    updatedAt: typeof r.updatedAt === "string" ? r.updatedAt : "",
  };
}
