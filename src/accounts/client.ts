/**
 * The 2010 Accounts API (`GET /2010-04-01/Accounts.json`, `GET /2010-04-01/Accounts/{sid}.json`):
 * the parent account and its subaccounts, each with its own auth token. Sent over the shared
 * HTTP agent with the shared retry policy, size cap and cleaned error text. Its answers carry
 * auth tokens: nothing from them is logged raw, and every token read becomes a cleaning needle.
 */
import type { Dispatcher } from "undici";
import { ACCOUNT_SID_PATTERN } from "../domain.js";
import { ApiError, AuthError, Cr2commsError, EXIT } from "../errors.js";
import { sendHttp, type HttpAnswer } from "../http/agent.js";
import { NetworkError } from "../http/errors.js";
import { isNetworkError } from "../http/network.js";
import { withRetry } from "../http/retry.js";
import { classifyRead } from "../http/read.js";
import { cleanServerText, parseErrorBody, rememberBasicAuth } from "../http/server-text.js";
import { parseBaseUrl } from "../http/url.js";
import { MAX_RESPONSE_BYTES } from "../limits.js";
import { silentLogger, type Logger } from "../log.js";
import { TOOL_NAME, TOOL_VERSION } from "../version.js";

const API = "Accounts";
/** The largest page the 2010 API serves (its OpenAPI description: PageSize 1..1000). */
export const ACCOUNTS_PAGE_SIZE = 1000;
/** Past this many pages the listing stops with an error (1,000 subaccounts is Twilio's default cap). */
const ACCOUNTS_MAX_PAGES = 100;

export type AccountStatus = "active" | "suspended" | "closed";

/** One account as the fleet keeps it. `authToken` lives in memory only. */
export interface AccountInfo {
  sid: string;
  friendlyName: string | null;
  /** As listed; anything but "active" is not worked. */
  status: string;
  ownerAccountSid: string | null;
  /** Empty when the parent signed with an API key (Twilio sends it empty then). */
  authToken: string;
}

export interface AccountsClientConfig {
  /** The parent account. */
  accountSid: string;
  username: string;
  password: string;
  /** e.g. `https://api.twilio.com`. */
  baseUrl: string;
  dispatcher: Dispatcher;
  logger?: Logger;
  sleep?: (ms: number) => Promise<void>;
  maxPages?: number;
  /** Default ACCOUNTS_PAGE_SIZE (tests use small pages). */
  pageSize?: number;
}

export interface AccountsClient {
  /** The parent and every subaccount Twilio lists (all pages, each sid once). */
  listAll(): Promise<AccountInfo[]>;
  /** One account, or undefined when the API answers 404. */
  fetch(sid: string): Promise<AccountInfo | undefined>;
}

export function createAccountsClient(cfg: AccountsClientConfig): AccountsClient {
  const logger = cfg.logger ?? silentLogger;
  const base = parseBaseUrl(cfg.baseUrl, API);
  const root = `${base.origin}${base.pathname.replace(/\/+$/, "")}`;
  const basic = rememberBasicAuth(cfg.username, cfg.password);
  const headers: Record<string, string> = {
    authorization: `Basic ${basic}`,
    accept: "application/json",
    "user-agent": `${TOOL_NAME}/${TOOL_VERSION}`,
  };

  async function get(url: URL): Promise<HttpAnswer> {
    // A next page's path comes from an answer: shown only cleaned (it may carry a token).
    const path = cleanServerText(url.pathname);
    try {
      return await withRetry(
        async () => {
          const answer = await sendHttp({ dispatcher: cfg.dispatcher, api: API, method: "GET", url: url.href, headers, maxBytes: MAX_RESPONSE_BYTES });
          logger.debug({ api: API, method: "GET", path, status: answer.status }, "http");
          return answer;
        },
        classifyRead,
        {
          ...(cfg.sleep ? { sleep: cfg.sleep } : {}),
          description: `GET ${path}`,
          onRetry: (info) => logger.warn({ api: API, method: "GET", path, attempt: info.attempt, delayMs: info.delayMs, reason: info.reason }, "retrying request"),
        },
      );
    } catch (error) {
      if (isNetworkError(error)) throw new NetworkError(API, "GET", `${url.origin}${path}`, error);
      throw error;
    }
  }

  function fail(res: HttpAnswer): never {
    if (res.status === 401) throw new AuthError(cfg.accountSid, API);
    const parsed = parseErrorBody(res.status, res.text);
    throw new ApiError(API, res.status, parsed.code, parsed.message);
  }

  return {
    async listAll() {
      const bySid = new Map<string, AccountInfo>();
      const seen = new Set<string>();
      let url = new URL(`${root}/2010-04-01/Accounts.json?PageSize=${cfg.pageSize ?? ACCOUNTS_PAGE_SIZE}`);
      const maxPages = cfg.maxPages ?? ACCOUNTS_MAX_PAGES;
      for (let pages = 1; ; pages++) {
        const res = await get(url);
        if (res.status < 200 || res.status >= 300) fail(res);
        const body = parseJson(res.text, url.pathname);
        const raw = Array.isArray(body.accounts) ? body.accounts : [];
        for (const record of raw) {
          const account = toAccount(record);
          if (account && !bySid.has(account.sid)) bySid.set(account.sid, account);
        }
        const next = typeof body.next_page_uri === "string" && body.next_page_uri !== "" ? body.next_page_uri : undefined;
        if (!next) break;
        const where = cleanServerText(next.split("?")[0] ?? next);
        if (raw.length === 0) throw new Cr2commsError(`${API} API paging stopped: an empty page still names a next page (${where})`, EXIT.failure);
        if (seen.has(next)) throw new Cr2commsError(`${API} API paging loops: next_page_uri repeats (${where})`, EXIT.failure);
        if (pages >= maxPages) throw new Cr2commsError(`${API} API paging stopped: more than ${maxPages} pages (${where})`, EXIT.failure);
        seen.add(next);
        url = rebase(next, base, root);
      }
      logger.debug({ api: API, accounts: bySid.size }, "accounts listed");
      return [...bySid.values()];
    },

    async fetch(sid) {
      if (!ACCOUNT_SID_PATTERN.test(sid)) return undefined;
      const url = new URL(`${root}/2010-04-01/Accounts/${sid}.json`);
      const res = await get(url);
      if (res.status === 404) return undefined;
      if (res.status < 200 || res.status >= 300) fail(res);
      return toAccount(parseJson(res.text, url.pathname)) ?? undefined;
    },
  };
}

function parseJson(text: string, path: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // No cause: the parser's message would quote the answer, and the answer carries tokens.
    throw new Cr2commsError(`${API} API answered ${path} with invalid JSON`, EXIT.failure);
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) throw new Cr2commsError(`${API} API answer to ${path} is not a JSON object`, EXIT.failure);
  return value as Record<string, unknown>;
}

/** Keeps only the fields the fleet needs; the token becomes a cleaning needle at once. */
function toAccount(record: unknown): AccountInfo | undefined {
  if (!record || typeof record !== "object") return undefined;
  const r = record as Record<string, unknown>;
  if (typeof r.sid !== "string" || !ACCOUNT_SID_PATTERN.test(r.sid)) return undefined;
  const authToken = typeof r.auth_token === "string" ? r.auth_token : "";
  if (authToken) rememberBasicAuth(r.sid, authToken);
  return {
    sid: r.sid,
    friendlyName: typeof r.friendly_name === "string" ? r.friendly_name : null,
    status: typeof r.status === "string" ? r.status.toLowerCase() : "unknown",
    ownerAccountSid: typeof r.owner_account_sid === "string" ? r.owner_account_sid : null,
    authToken,
  };
}

/** `next_page_uri` is a path on the API host: its path and query, our scheme, host and base path. */
function rebase(next: string, base: URL, root: string): URL {
  const parsed = new URL(next, base.origin);
  const prefix = base.pathname.replace(/\/+$/, "");
  const path = prefix && !parsed.pathname.startsWith(`${prefix}/`) ? `${prefix}${parsed.pathname}` : parsed.pathname;
  return new URL(`${root.slice(0, root.length - prefix.length)}${path}${parsed.search}`);
}
