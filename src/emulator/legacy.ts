import { LEGACY_SID_PATTERN, type LegacyType } from "../domain.js";
import { CODE, decodeToken, encodeToken, legacyError, type Reply, type RequestContext } from "./http.js";
import { twilioDate, type EmulatorState, type LegacyRecord } from "./state.js";

/** Legacy list page size: default 50; Twilio's current OpenAPI caps it at 100 (its docs page says 1000). */
export const LEGACY_DEFAULT_PAGE_SIZE = 50;
export const LEGACY_MAX_PAGE_SIZE = 100;

const COLLECTION = "/v1/Credentials";
const TYPES: readonly LegacyType[] = ["apn", "fcm", "gcm"];

/** True when the path belongs to the legacy Conversations Credentials API. */
export function isLegacyPath(path: string): boolean {
  return path === COLLECTION || path.startsWith(`${COLLECTION}/`);
}

/** Routes one legacy request (already authenticated). */
export function handleLegacy(ctx: RequestContext, state: EmulatorState): Reply {
  if (ctx.path === COLLECTION) {
    if (ctx.method === "GET") return list(ctx, state);
    if (ctx.method === "POST") return create(ctx, state);
    return legacyError(405, CODE.methodNotAllowed, `Method ${ctx.method} not allowed on ${ctx.path}`);
  }
  const sid = ctx.path.slice(COLLECTION.length + 1);
  const record = LEGACY_SID_PATTERN.test(sid) ? state.findLegacy(sid) : undefined;
  if (!["GET", "POST", "DELETE"].includes(ctx.method)) {
    return legacyError(405, CODE.methodNotAllowed, `Method ${ctx.method} not allowed on ${ctx.path}`);
  }
  if (!record) return legacyError(404, CODE.notFound, `The requested resource ${ctx.path} was not found`);
  if (ctx.method === "GET") return { status: 200, body: view(record, ctx.origin) };
  if (ctx.method === "DELETE") {
    state.legacy.delete(record.sid);
    return { status: 204 };
  }
  return update(ctx, record);
}

/** The documented response fields, snake_case, never a secret. */
function view(r: LegacyRecord, origin: string): Record<string, unknown> {
  return {
    sid: r.sid,
    account_sid: r.accountSid,
    friendly_name: r.friendlyName,
    type: r.type,
    sandbox: r.sandbox,
    date_created: r.dateCreated,
    date_updated: r.dateUpdated,
    url: `${origin}${COLLECTION}/${r.sid}`,
  };
}

function list(ctx: RequestContext, state: EmulatorState): Reply {
  const sizeParam = ctx.query.get("PageSize");
  let pageSize = LEGACY_DEFAULT_PAGE_SIZE;
  if (sizeParam !== null) {
    if (!/^\d+$/.test(sizeParam) || Number(sizeParam) < 1) {
      return legacyError(400, CODE.invalidParameter, `Invalid PageSize '${sizeParam}': must be an integer of at least 1`);
    }
    pageSize = Number(sizeParam);
    if (pageSize > LEGACY_MAX_PAGE_SIZE) {
      return legacyError(400, CODE.pageSizeTooLarge, `Page size too large: the maximum PageSize is ${LEGACY_MAX_PAGE_SIZE}`);
    }
  }
  const pageParam = ctx.query.get("Page");
  if (pageParam !== null && !/^\d+$/.test(pageParam)) {
    return legacyError(400, CODE.invalidParameter, `Invalid Page '${pageParam}': must be an integer of at least 0`);
  }
  const page = pageParam === null ? 0 : Number(pageParam);

  const all = state.legacyRecords();
  const key = (r: LegacyRecord) => r.sid.toLowerCase();
  let items: LegacyRecord[];
  const token = ctx.query.get("PageToken");
  if (token !== null) {
    const cursor = parsePageToken(token);
    if (!cursor) return legacyError(400, CODE.invalidPageToken, `Invalid PageToken '${token}'`);
    const at = cursor.sid.toLowerCase();
    items = cursor.after
      ? all.filter((r) => key(r) > at).slice(0, pageSize)
      : all.filter((r) => key(r) < at).slice(-pageSize);
  } else {
    items = all.slice(page * pageSize, page * pageSize + pageSize);
  }

  const base = `${ctx.origin}${COLLECTION}?PageSize=${pageSize}`;
  const first = items[0];
  const last = items[items.length - 1];
  const hasNext = last !== undefined && all.some((r) => key(r) > key(last));
  const hasPrevious = first !== undefined && all.some((r) => key(r) < key(first));
  return {
    status: 200,
    body: {
      credentials: items.map((r) => view(r, ctx.origin)),
      meta: {
        page,
        page_size: pageSize,
        first_page_url: `${base}&Page=0`,
        previous_page_url:
          hasPrevious && first ? `${base}&Page=${Math.max(0, page - 1)}&PageToken=${pageToken(false, first.sid)}` : null,
        url: `${base}&Page=${page}${token !== null ? `&PageToken=${encodeURIComponent(token)}` : ""}`,
        next_page_url: hasNext && last ? `${base}&Page=${page + 1}&PageToken=${pageToken(true, last.sid)}` : null,
        key: "credentials",
      },
    },
  };
}

/** Opaque to clients: "PA"/"PB" (after/before) + base64url of a sid. */
function pageToken(after: boolean, sid: string): string {
  return `${after ? "PA" : "PB"}${encodeToken(sid)}`;
}

function parsePageToken(token: string): { after: boolean; sid: string } | undefined {
  const dir = token.slice(0, 2);
  if (dir !== "PA" && dir !== "PB") return undefined;
  const sid = decodeToken(token.slice(2));
  if (sid === undefined || !LEGACY_SID_PATTERN.test(sid)) return undefined;
  return { after: dir === "PA", sid };
}

type Fields = { type?: LegacyType; friendlyName?: string; sandbox?: string; certificate?: string; privateKey?: string; secret?: string; apiKey?: string };

/** Parses and validates the form fields shared by create and update. */
function parseForm(ctx: RequestContext, requireType: boolean): Fields | Reply {
  const form = new URLSearchParams(ctx.body);
  const out: Fields = {};
  const type = form.get("Type");
  if (type === null) {
    if (requireType) return legacyError(400, CODE.invalidParameter, "Missing required parameter Type in the post body");
  } else {
    const lower = type.toLowerCase() as LegacyType;
    if (!TYPES.includes(lower)) return legacyError(400, CODE.invalidParameter, `Invalid Type '${type}': must be one of apn, fcm, gcm`);
    out.type = lower;
  }
  const name = form.get("FriendlyName");
  if (name !== null) {
    if (name.length > 64) return legacyError(400, CODE.invalidParameter, "FriendlyName must be at most 64 characters");
    out.friendlyName = name;
  }
  const sandbox = form.get("Sandbox");
  if (sandbox !== null) {
    if (!/^(true|false)$/i.test(sandbox)) return legacyError(400, CODE.invalidParameter, `Invalid Sandbox '${sandbox}': must be true or false`);
    // The API answers booleans as Python-style strings ("True"/"False").
    out.sandbox = sandbox.toLowerCase() === "true" ? "True" : "False";
  }
  for (const [param, field] of [
    ["Certificate", "certificate"],
    ["PrivateKey", "privateKey"],
    ["Secret", "secret"],
    ["ApiKey", "apiKey"],
  ] as const) {
    const v = form.get(param);
    if (v !== null) out[field] = v;
  }
  return out;
}

function create(ctx: RequestContext, state: EmulatorState): Reply {
  const f = parseForm(ctx, true);
  if ("status" in f) return f;
  const type = f.type ?? "apn";
  const record = state.createLegacy({
    friendlyName: f.friendlyName ?? null,
    type,
    sandbox: f.sandbox ?? (type === "apn" ? "False" : null),
    secrets: pickSecrets(f),
  });
  return { status: 201, body: view(record, ctx.origin) };
}

function update(ctx: RequestContext, record: LegacyRecord): Reply {
  const f = parseForm(ctx, false);
  if ("status" in f) return f;
  if (f.type !== undefined) record.type = f.type;
  if (f.friendlyName !== undefined) record.friendlyName = f.friendlyName;
  if (f.sandbox !== undefined) record.sandbox = f.sandbox;
  record.secrets = { ...record.secrets, ...pickSecrets(f) };
  record.dateUpdated = twilioDate(new Date(ctx.now));
  return { status: 200, body: view(record, ctx.origin) };
}

function pickSecrets(f: Fields): LegacyRecord["secrets"] {
  return {
    ...(f.certificate !== undefined ? { certificate: f.certificate } : {}),
    ...(f.privateKey !== undefined ? { privateKey: f.privateKey } : {}),
    ...(f.secret !== undefined ? { secret: f.secret } : {}),
    ...(f.apiKey !== undefined ? { apiKey: f.apiKey } : {}),
  };
}
