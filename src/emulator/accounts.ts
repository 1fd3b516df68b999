/**
 * The emulator's accounts: a parent (the seed's account) and its subaccounts, each with its own
 * auth token, legacy and Comms stores and concurrency limit, and the 2010 Accounts API over them
 * (list with paging by `next_page_uri` paths, fetch). Only the parent's auth token reads
 * subaccounts' tokens; an API key of the parent gets them empty, as on Twilio.
 */
import { createHash } from "node:crypto";
import { ACCOUNT_SID_PATTERN } from "../domain.js";
import { CODE, decodeToken, encodeToken, legacyError, type Reply, type RequestContext } from "./http.js";
import { SAMPLE_SEED, type ResolvedSeed, type Seed } from "./seed.js";
import { EmulatorState } from "./state.js";

export type EmulatorAccountStatus = "active" | "suspended" | "closed";

/** A subaccount to serve. Its seed's legacy and Comms data are its own; its account and token come from here. */
export interface SubaccountSpec {
  sid: string;
  authToken: string;
  friendlyName?: string;
  status?: EmulatorAccountStatus;
  /** Legacy and Comms data (accountSid and authToken are ignored). Default: none. */
  seed?: Omit<Seed, "accountSid" | "authToken" | "apiKeys">;
  /** Requests beyond this many in flight for this account get 429; default: the emulator's. */
  maxInFlight?: number;
  /** Rehearses a race: listed active once, then suspended at once (its token stops working). */
  suspendAfterListing?: boolean;
}

/** One account the emulator serves. */
export interface EmulatorAccount {
  sid: string;
  authToken: string;
  friendlyName: string;
  status: EmulatorAccountStatus;
  /** The parent's sid for a subaccount; its own for the parent. */
  ownerAccountSid: string;
  state: EmulatorState;
  maxInFlight: number | undefined;
  inFlight: number;
  dateCreated: string;
  suspendAfterListing: boolean;
}

/** Accounts 2010 list: default 50 a page, at most 1000 (OpenAPI `PageSize`). */
export const ACCOUNTS_DEFAULT_PAGE_SIZE = 50;
export const ACCOUNTS_MAX_PAGE_SIZE = 1000;

const PREFIX = "/2010-04-01/Accounts";

export function isAccountsPath(path: string): boolean {
  return path === `${PREFIX}.json` || path.startsWith(`${PREFIX}/`);
}

/** A deterministic subaccount sid and token for sample number `n` (1-based) under `parentSid`. */
export function sampleSubaccount(parentSid: string, n: number, opts: { status?: EmulatorAccountStatus; legacy?: boolean } = {}): SubaccountSpec {
  const digest = createHash("sha256").update(`${parentSid}:${n}`).digest("hex");
  return {
    sid: `AC${digest.slice(0, 32)}`,
    authToken: `sub-token-${digest.slice(32, 56)}`,
    friendlyName: `Customer ${n}`,
    ...(opts.status ? { status: opts.status } : {}),
    seed: opts.legacy === false ? {} : { legacyCredentials: SAMPLE_SEED.legacyCredentials },
  };
}

/** `n` sample subaccounts; those whose index is in `suspended` (1-based) are suspended. */
export function sampleSubaccounts(parentSid: string, n: number, suspended: readonly number[] = []): SubaccountSpec[] {
  return Array.from({ length: n }, (_, i) => sampleSubaccount(parentSid, i + 1, suspended.includes(i + 1) ? { status: "suspended" } : {}));
}

/** The parent's slot and one per subaccount, in creation order (the list order). */
export function buildAccounts(seed: ResolvedSeed, parentState: EmulatorState, subaccounts: readonly SubaccountSpec[], maxInFlight: number | undefined): Map<string, EmulatorAccount> {
  const accounts = new Map<string, EmulatorAccount>();
  const at = Date.parse("2020-01-01T00:00:00Z");
  accounts.set(seed.accountSid, {
    sid: seed.accountSid,
    authToken: seed.authToken,
    friendlyName: "Parent account",
    status: "active",
    ownerAccountSid: seed.accountSid,
    state: parentState,
    maxInFlight,
    inFlight: 0,
    dateCreated: new Date(at).toUTCString(),
    suspendAfterListing: false,
  });
  subaccounts.forEach((s, i) => {
    if (!ACCOUNT_SID_PATTERN.test(s.sid)) throw new Error(`subaccount sid ${s.sid} is not AC + 32 hex digits`);
    if (accounts.has(s.sid)) throw new Error(`subaccount ${s.sid} listed twice`);
    const state = new EmulatorState({
      accountSid: s.sid,
      authToken: s.authToken,
      apiKeys: [],
      legacyCredentials: s.seed?.legacyCredentials ?? [],
      commsCredentials: s.seed?.commsCredentials ?? [],
      ...(s.seed?.defaultApp !== undefined ? { defaultApp: s.seed.defaultApp } : {}),
      deviceRegistrations: s.seed?.deviceRegistrations ?? [],
    });
    accounts.set(s.sid, {
      sid: s.sid,
      authToken: s.authToken,
      friendlyName: s.friendlyName ?? `Subaccount ${i + 1}`,
      status: s.status ?? "active",
      ownerAccountSid: seed.accountSid,
      state,
      maxInFlight: s.maxInFlight ?? maxInFlight,
      inFlight: 0,
      dateCreated: new Date(at + (i + 1) * 60_000).toUTCString(),
      suspendAfterListing: s.suspendAfterListing ?? false,
    });
  });
  return accounts;
}

/**
 * Routes one 2010 Accounts request. `requester` is the authenticated account; `byKey` is true when
 * it signed with an API key (tokens are then sent empty).
 */
export function handleAccounts(ctx: RequestContext, requester: EmulatorAccount, byKey: boolean, accounts: ReadonlyMap<string, EmulatorAccount>): Reply {
  if (ctx.method !== "GET") return legacyError(405, CODE.methodNotAllowed, `Method ${ctx.method} not allowed on ${ctx.path}`);
  const visible = [...accounts.values()].filter((a) => a.sid === requester.sid || a.ownerAccountSid === requester.sid);
  if (ctx.path === `${PREFIX}.json`) return list(ctx, visible, byKey);
  const m = /^\/2010-04-01\/Accounts\/([^/]+)\.json$/.exec(ctx.path);
  const account = m ? visible.find((a) => a.sid.toLowerCase() === m[1]!.toLowerCase()) : undefined;
  if (!account) return legacyError(404, CODE.notFound, `The requested resource ${ctx.path} was not found`);
  return { status: 200, body: view(account, byKey) };
}

function view(a: EmulatorAccount, byKey: boolean): Record<string, unknown> {
  return {
    sid: a.sid,
    friendly_name: a.friendlyName,
    status: a.status,
    type: "Full",
    owner_account_sid: a.ownerAccountSid,
    auth_token: byKey ? "" : a.authToken,
    date_created: a.dateCreated,
    date_updated: a.dateCreated,
    uri: `${PREFIX}/${a.sid}.json`,
    subresource_uris: {},
  };
}

function list(ctx: RequestContext, visible: EmulatorAccount[], byKey: boolean): Reply {
  const sizeParam = ctx.query.get("PageSize");
  let pageSize = ACCOUNTS_DEFAULT_PAGE_SIZE;
  if (sizeParam !== null) {
    if (!/^\d+$/.test(sizeParam) || Number(sizeParam) < 1) return legacyError(400, CODE.invalidParameter, `Invalid PageSize '${sizeParam}'`);
    pageSize = Number(sizeParam);
    if (pageSize > ACCOUNTS_MAX_PAGE_SIZE) return legacyError(400, CODE.pageSizeTooLarge, `Page size too large: the maximum PageSize is ${ACCOUNTS_MAX_PAGE_SIZE}`);
  }
  const status = ctx.query.get("Status");
  const name = ctx.query.get("FriendlyName");
  const all = visible.filter((a) => (status === null || a.status === status) && (name === null || a.friendlyName === name));
  const token = ctx.query.get("PageToken");
  let start = 0;
  if (token !== null) {
    const sid = token.startsWith("PA") ? decodeToken(token.slice(2)) : undefined;
    const at = sid === undefined ? -1 : all.findIndex((a) => a.sid === sid);
    if (at < 0) return legacyError(400, CODE.invalidPageToken, `Invalid PageToken '${token}'`);
    start = at + 1;
  }
  const page = Number(ctx.query.get("Page") ?? "0") || 0;
  const items = all.slice(start, start + pageSize);
  const body = items.map((a) => view(a, byKey));
  for (const a of items) {
    if (a.suspendAfterListing && a.status === "active") {
      a.status = "suspended";
      a.suspendAfterListing = false;
    }
  }
  const last = items[items.length - 1];
  const query = `PageSize=${pageSize}${status !== null ? `&Status=${encodeURIComponent(status)}` : ""}${name !== null ? `&FriendlyName=${encodeURIComponent(name)}` : ""}`;
  const hasNext = last !== undefined && start + items.length < all.length;
  return {
    status: 200,
    body: {
      accounts: body,
      first_page_uri: `${PREFIX}.json?${query}&Page=0`,
      next_page_uri: hasNext && last ? `${PREFIX}.json?${query}&Page=${page + 1}&PageToken=PA${encodeToken(last.sid)}` : null,
      previous_page_uri: null,
      page,
      page_size: pageSize,
      start: start,
      end: start + Math.max(0, items.length - 1),
      uri: `${PREFIX}.json?${query}&Page=${page}`,
    },
  };
}
