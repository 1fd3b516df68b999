import { APP_NAME_PATTERN, CREDENTIAL_TYPES, type CredentialType } from "../domain.js";
import { CODE, commsError, decodeToken, encodeToken, type Reply, type RequestContext } from "./http.js";
import { publicView, type EmulatorState, type StoredApp, type StoredCommsCredential, type StoredRegistration } from "./state.js";

/** Comms list page size: 1..1000, default 50 (Push Notifications docs). */
export const COMMS_DEFAULT_PAGE_SIZE = 50;
export const COMMS_MAX_PAGE_SIZE = 1000;

const ROUTE = /^\/(v1|preview)\/PushNotifications\/(Credentials|Apps|DeviceRegistrations)(?:\/([^/]+))?$/;
const CREATE_FIELDS = new Set(["credentialType", "appName", "isDefault", "content"]);
const CONTENT_FIELDS: Record<CredentialType, readonly string[]> = {
  APN: ["certificate", "privateKey"],
  APN_SANDBOX: ["certificate", "privateKey"],
  FCM: ["privateKey"],
};

/** Handler settings that can change while the emulator runs. */
export interface CommsSettings {
  visibilityDelayMs: number;
}

/** True when the path belongs to the Comms API (either version prefix). */
export function isCommsPath(path: string): boolean {
  return path.startsWith("/v1/PushNotifications") || path.startsWith("/preview/PushNotifications");
}

/** Routes one Comms request (already authenticated). */
export function handleComms(ctx: RequestContext, state: EmulatorState, settings: CommsSettings): Reply {
  const m = ROUTE.exec(ctx.path);
  if (!m) return commsError(404, CODE.notFound, `The requested resource ${ctx.path} was not found`);
  const [, version = "v1", collection, rawId] = m;
  const id = rawId === undefined ? undefined : decodeURIComponent(rawId);
  const prefix = `/${version}/PushNotifications/${collection}`;
  const notAllowed = () => commsError(405, CODE.methodNotAllowed, `Method ${ctx.method} not allowed on ${ctx.path}`);

  if (collection === "Apps") {
    if (id === undefined) return ctx.method === "GET" ? listApps(ctx, state) : notAllowed();
    if (ctx.method === "GET") return fetchApp(state, id);
    if (ctx.method === "PATCH") return patchApp(ctx, state, prefix, id);
    return notAllowed();
  }
  if (collection === "DeviceRegistrations") {
    if (id === undefined) {
      if (ctx.method === "GET") return listRegistrations(ctx, state);
      if (ctx.method === "POST") return register(ctx, state, prefix);
      return notAllowed();
    }
    const r = state.registrations.get(id);
    if (ctx.method !== "GET" && ctx.method !== "DELETE") return notAllowed();
    if (!r) return commsError(404, CODE.notFound, `Device registration ${id} was not found`);
    if (ctx.method === "GET") return { status: 200, body: registrationView(ctx, r) };
    state.registrations.delete(r.id);
    return accepted(ctx, prefix, r.id);
  }
  if (id === undefined) {
    if (ctx.method === "GET") return list(ctx, state);
    if (ctx.method === "POST") return create(ctx, state, settings, prefix);
    return notAllowed();
  }
  if (!["GET", "PATCH", "DELETE"].includes(ctx.method)) return notAllowed();
  const c = state.visibleComms(id, ctx.now);
  if (!c) return commsError(404, CODE.notFound, `Credential ${id} was not found`);
  if (ctx.method === "GET") return { status: 200, body: publicView(c) };
  if (ctx.method === "DELETE") {
    state.deleteComms(c.id);
    return accepted(ctx, prefix, c.id);
  }
  return patch(ctx, state, prefix, c);
}

function accepted(ctx: RequestContext, prefix: string, id: string): Reply {
  const location = `${ctx.origin}${prefix}/${id}`;
  return { status: 202, headers: { Location: location }, body: { resourceId: id, resourceLocation: location } };
}

function invalid(messages: string[]): Reply {
  return {
    status: 400,
    body: {
      errors: messages.map((message) => ({
        code: CODE.invalidParameter,
        message,
        infoUrl: `https://www.twilio.com/docs/api/errors/${CODE.invalidParameter}`,
      })),
    },
  };
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function create(ctx: RequestContext, state: EmulatorState, settings: CommsSettings, prefix: string): Reply {
  const body = parseObject(ctx.body);
  if (!body) return invalid(["Request body must be a JSON object"]);
  const problems: string[] = [];
  for (const k of Object.keys(body)) if (!CREATE_FIELDS.has(k)) problems.push(`Unknown field '${k}'`);

  const type = body.credentialType;
  const validType = typeof type === "string" && (CREDENTIAL_TYPES as readonly string[]).includes(type) ? (type as CredentialType) : undefined;
  if (type === undefined) problems.push("credentialType is required");
  else if (!validType) problems.push(`credentialType must be one of ${CREDENTIAL_TYPES.join(", ")}`);

  const appName = body.appName;
  if (appName === undefined) problems.push("appName is required");
  else if (typeof appName !== "string" || !APP_NAME_PATTERN.test(appName)) {
    problems.push("appName must match ^[a-z0-9_]+$ and be 1 to 64 characters long");
  }
  if (body.isDefault !== undefined && typeof body.isDefault !== "boolean") problems.push("isDefault must be a boolean");

  const content = body.content;
  const contentValues: Record<string, string> = {};
  if (content === undefined) problems.push("content is required");
  else if (!content || typeof content !== "object" || Array.isArray(content)) problems.push("content must be an object");
  else if (validType) {
    const c = content as Record<string, unknown>;
    const allowed = CONTENT_FIELDS[validType];
    for (const k of Object.keys(c)) if (!allowed.includes(k)) problems.push(`content.${k} is not allowed for ${validType}`);
    for (const k of allowed) {
      const v = c[k];
      if (v === undefined) {
        problems.push(`content.${k} is required for ${validType}`);
        continue;
      }
      const decoded = typeof v === "string" ? decodeBase64(v) : undefined;
      if (decoded === undefined) {
        problems.push(`content.${k} must be a base64 string`);
        continue;
      }
      const bad = implausible(validType, k, decoded);
      if (bad) problems.push(bad);
      else contentValues[k] = v as string;
    }
  }
  if (problems.length > 0 || !validType || typeof appName !== "string") return invalid(problems);

  const created = state.createComms({
    appName,
    credentialType: validType,
    ...(typeof body.isDefault === "boolean" ? { isDefault: body.isDefault } : {}),
    content: contentValues,
    now: ctx.now,
    visibleAt: ctx.now + settings.visibilityDelayMs,
  });
  if ("limit" in created) return invalid([created.message]);
  return accepted(ctx, prefix, created.id);
}

/** Strict base64 (standard alphabet, padded); undefined when it is not. */
function decodeBase64(v: string): string | undefined {
  if (v.length === 0 || v.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(v)) return undefined;
  return Buffer.from(v, "base64").toString("utf8");
}

/** A reason the decoded content is not what the type needs, or undefined when plausible. */
function implausible(type: CredentialType, field: string, text: string): string | undefined {
  if (type === "FCM") {
    const json = parseObject(text);
    if (!json) return "content.privateKey must be base64 of a Google service-account JSON file";
    if (json.type !== "service_account") return 'content.privateKey must be a service-account JSON file ("type": "service_account")';
    return undefined;
  }
  if (field === "certificate") {
    return /-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----/.test(text)
      ? undefined
      : "content.certificate must be base64 of a PEM certificate (-----BEGIN CERTIFICATE-----)";
  }
  return /-----BEGIN (RSA |EC |ENCRYPTED )?PRIVATE KEY-----[\s\S]+-----END (RSA |EC |ENCRYPTED )?PRIVATE KEY-----/.test(text)
    ? undefined
    : "content.privateKey must be base64 of a PEM private key (-----BEGIN … PRIVATE KEY-----)";
}

function patch(ctx: RequestContext, state: EmulatorState, prefix: string, c: StoredCommsCredential): Reply {
  const body = parseObject(ctx.body);
  if (!body) return invalid(["Request body must be a JSON object"]);
  const problems = Object.keys(body)
    .filter((k) => k !== "isDefault")
    .map((k) => `Unknown field '${k}': only isDefault can be updated`);
  if (typeof body.isDefault !== "boolean") problems.push("isDefault is required and must be a boolean");
  if (problems.length > 0) return invalid(problems);
  state.setCommsDefault(c.id, body.isDefault as boolean, ctx.now);
  return accepted(ctx, prefix, c.id);
}

type Cursor = { start: true } | { start: false; createdAt: number; id: string };

function encodeCursor(c: Cursor): string {
  return encodeToken(c.start ? "start" : `after:${c.createdAt}:${c.id}`);
}

function decodeCursor(token: string): Cursor | undefined {
  const text = decodeToken(token);
  if (text === "start") return { start: true };
  const m = text === undefined ? null : /^after:(\d+):(comms_credential_[0-9a-z]+)$/.exec(text);
  if (!m) return undefined;
  return { start: false, createdAt: Number(m[1]), id: m[2] ?? "" };
}

function list(ctx: RequestContext, state: EmulatorState): Reply {
  const q = ctx.query;
  const problems: string[] = [];
  let pageSize = COMMS_DEFAULT_PAGE_SIZE;
  const size = q.get("pageSize");
  if (size !== null) {
    if (!/^\d+$/.test(size) || Number(size) < 1 || Number(size) > COMMS_MAX_PAGE_SIZE) {
      problems.push(`pageSize must be an integer from 1 to ${COMMS_MAX_PAGE_SIZE}`);
    } else pageSize = Number(size);
  }
  const appName = q.get("appName");
  if (appName !== null && !APP_NAME_PATTERN.test(appName)) problems.push("appName must match ^[a-z0-9_]+$ and be 1 to 64 characters long");
  const type = q.get("credentialType");
  if (type !== null && !(CREDENTIAL_TYPES as readonly string[]).includes(type)) {
    problems.push(`credentialType must be one of ${CREDENTIAL_TYPES.join(", ")}`);
  }
  const isDefault = q.get("isDefault");
  if (isDefault !== null && isDefault !== "true" && isDefault !== "false") problems.push("isDefault must be true or false");
  const dates: Record<"startDate" | "endDate", number | undefined> = { startDate: undefined, endDate: undefined };
  for (const k of ["startDate", "endDate"] as const) {
    const v = q.get(k);
    if (v === null) continue;
    const t = Date.parse(v);
    if (Number.isNaN(t)) problems.push(`${k} must be an ISO 8601 date-time`);
    else dates[k] = t;
  }
  const token = q.get("pageToken");
  let cursor: Cursor = { start: true };
  if (token !== null) {
    const c = decodeCursor(token);
    if (!c) return commsError(400, CODE.invalidPageToken, `Invalid pageToken '${token}'`);
    cursor = c;
  }
  if (problems.length > 0) return invalid(problems);

  const matching = state
    .sortedComms()
    .filter((c) => c.visibleAt <= ctx.now)
    .filter((c) => appName === null || c.appName === appName)
    .filter((c) => type === null || c.credentialType === type)
    .filter((c) => isDefault === null || c.isDefault === (isDefault === "true"))
    .filter((c) => dates.startDate === undefined || Date.parse(c.createdAt) >= dates.startDate)
    .filter((c) => dates.endDate === undefined || Date.parse(c.createdAt) < dates.endDate);
  const rest = cursor.start
    ? matching
    : matching.filter((c) => {
        const t = Date.parse(c.createdAt);
        return t > cursor.createdAt || (t === cursor.createdAt && c.id > cursor.id);
      });
  const page = rest.slice(0, pageSize);
  const last = page[page.length - 1];
  const next = rest.length > pageSize && last ? encodeCursor({ start: false, createdAt: Date.parse(last.createdAt), id: last.id }) : null;
  return {
    status: 200,
    body: { credentials: page.map(publicView), pagination: { next, self: token ?? encodeCursor({ start: true }) } },
  };
}

function appView(state: EmulatorState, app: StoredApp): Record<string, unknown> {
  const defaults = state
    .sortedComms()
    .filter((c) => c.appName === app.name && c.isDefault)
    .map((c) => ({ credentialType: c.credentialType, credentialId: c.id }));
  return { name: app.name, isDefault: app.isDefault, defaultCredentials: defaults, createdAt: app.createdAt, updatedAt: app.updatedAt };
}

function listApps(ctx: RequestContext, state: EmulatorState): Reply {
  const paging = readPaging(ctx);
  if ("status" in paging) return paging;
  if (paging.problems.length > 0) return invalid(paging.problems);
  const page = pageOf(state.appList(), (a) => ({ at: Date.parse(a.createdAt), key: a.name }), paging);
  return { status: 200, body: { apps: page.items.map((a) => appView(state, a)), pagination: page.pagination } };
}

/** `PATCH …/Apps/{appName}` with `{isDefault: true}` makes it the account's default App (reference §2.9–2.10). */
function patchApp(ctx: RequestContext, state: EmulatorState, prefix: string, name: string): Reply {
  if (!state.apps.has(name)) return commsError(404, CODE.notFound, `App ${name} was not found`);
  const body = parseObject(ctx.body);
  if (!body) return invalid(["Request body must be a JSON object"]);
  const problems = Object.keys(body)
    .filter((k) => k !== "isDefault")
    .map((k) => `Unknown field '${k}': only isDefault can be updated`);
  if (typeof body.isDefault !== "boolean") problems.push("isDefault is required and must be a boolean");
  else if (!body.isDefault) problems.push("isDefault can only be set to true: make another App the default instead");
  if (problems.length > 0) return invalid(problems);
  state.setDefaultApp(name, ctx.now);
  return accepted(ctx, prefix, name);
}

const PROVIDERS = ["APN", "FCM"] as const;
const REGISTER_FIELDS = new Set(["appName", "token", "provider", "userId"]);
const USER_ID_PATTERN = /^comms_pushnotificationuser_[0-7][0-9a-hjkmnp-tv-z]{25,34}$/;

function register(ctx: RequestContext, state: EmulatorState, prefix: string): Reply {
  const body = parseObject(ctx.body);
  if (!body) return invalid(["Request body must be a JSON object"]);
  const problems: string[] = [];
  for (const k of Object.keys(body)) if (!REGISTER_FIELDS.has(k)) problems.push(`Unknown field '${k}'`);
  const { appName, token, provider, userId } = body;
  if (appName === undefined) problems.push("appName is required");
  else if (typeof appName !== "string" || !APP_NAME_PATTERN.test(appName)) problems.push("appName must match ^[a-z0-9_]+$ and be 1 to 64 characters long");
  if (typeof token !== "string" || token === "") problems.push("token is required and must be a non-empty string");
  if (typeof provider !== "string" || !(PROVIDERS as readonly string[]).includes(provider)) problems.push(`provider must be one of ${PROVIDERS.join(", ")}`);
  if (userId !== undefined && (typeof userId !== "string" || !USER_ID_PATTERN.test(userId))) problems.push("userId must be a comms_pushnotificationuser_ id");
  if (problems.length > 0) return invalid(problems);
  const made = state.register({
    appName: appName as string,
    token: token as string,
    provider: provider as "APN" | "FCM",
    ...(typeof userId === "string" ? { userId } : {}),
    now: ctx.now,
  });
  if ("problem" in made) return invalid([`${made.problem}: a device can only register under an existing App`]);
  return accepted(ctx, prefix, made.id);
}

function registrationView(ctx: RequestContext, r: StoredRegistration): Record<string, unknown> {
  return {
    id: r.id,
    appName: r.appName,
    userId: r.userId,
    devices: r.devices.map((d) => ({ ...d })),
    related: { user: `${ctx.origin}/v1/PushNotifications/Users/${r.userId}` },
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}

function listRegistrations(ctx: RequestContext, state: EmulatorState): Reply {
  const paging = readPaging(ctx);
  if ("status" in paging) return paging;
  const appName = ctx.query.get("appName");
  if (appName !== null && !APP_NAME_PATTERN.test(appName)) paging.problems.push("appName must match ^[a-z0-9_]+$ and be 1 to 64 characters long");
  if (paging.problems.length > 0) return invalid(paging.problems);
  const matching = state.sortedRegistrations().filter((r) => appName === null || r.appName === appName);
  const page = pageOf(matching, (r) => ({ at: Date.parse(r.createdAt), key: r.id }), paging);
  return { status: 200, body: { deviceRegistrations: page.items.map((r) => registrationView(ctx, r)), pagination: page.pagination } };
}

type Paging = { pageSize: number; token: string | null; after?: { at: number; key: string }; problems: string[] };

/** `pageSize` (1..1000, default 50) and `pageToken` of a list request; a bad token is a 400 of its own. */
function readPaging(ctx: RequestContext): Paging | Reply {
  const problems: string[] = [];
  let pageSize = COMMS_DEFAULT_PAGE_SIZE;
  const size = ctx.query.get("pageSize");
  if (size !== null) {
    if (!/^\d+$/.test(size) || Number(size) < 1 || Number(size) > COMMS_MAX_PAGE_SIZE) problems.push(`pageSize must be an integer from 1 to ${COMMS_MAX_PAGE_SIZE}`);
    else pageSize = Number(size);
  }
  const token = ctx.query.get("pageToken");
  if (token === null) return { pageSize, token, problems };
  const text = decodeToken(token);
  if (text === "start") return { pageSize, token, problems };
  const m = text === undefined ? null : /^after:(\d+):([0-9a-z_]+)$/.exec(text);
  if (!m) return commsError(400, CODE.invalidPageToken, `Invalid pageToken '${token}'`);
  return { pageSize, token, after: { at: Number(m[1]), key: m[2] ?? "" }, problems };
}

/** One page of `items` (already in list order) after the paging cursor. */
function pageOf<T>(items: T[], sortKey: (t: T) => { at: number; key: string }, paging: Paging): { items: T[]; pagination: { next: string | null; self: string } } {
  const after = paging.after;
  const rest = after
    ? items.filter((t) => {
        const k = sortKey(t);
        return k.at > after.at || (k.at === after.at && k.key > after.key);
      })
    : items;
  const page = rest.slice(0, paging.pageSize);
  const last = page[page.length - 1];
  const lastKey = last === undefined ? undefined : sortKey(last);
  const next = rest.length > paging.pageSize && lastKey ? encodeToken(`after:${lastKey.at}:${lastKey.key}`) : null;
  return { items: page, pagination: { next, self: paging.token ?? encodeToken("start") } };
}

function fetchApp(state: EmulatorState, name: string): Reply {
  const app = state.apps.get(name);
  if (!app) return commsError(404, CODE.notFound, `App ${name} was not found`);
  return { status: 200, body: appView(state, app) };
}
