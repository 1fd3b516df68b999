import { readFileSync } from "node:fs";
import { z } from "zod";
import { ACCOUNT_SID_PATTERN, APP_NAME_PATTERN, LEGACY_SID_PATTERN, type CredentialType, type LegacyType } from "../domain.js";
import { UsageError } from "../errors.js";
import { MAX_APPS_PER_ACCOUNT, MAX_CREDENTIALS_PER_APP } from "../limits.js";

/** `comms_credential_` + 26 lowercase Crockford base32 characters (a ULID). */
export const COMMS_ID_PATTERN = /^comms_credential_[0-9a-hjkmnp-tv-z]{26}$/;

/** An API key pair accepted by the emulator's Basic auth. */
export interface SeedApiKey {
  sid: string;
  secret: string;
  /** A restricted key that may only read: every write with it is answered 403 (code 20403). */
  readOnly?: boolean;
}

/** A legacy Conversations credential, in the API's own snake_case response shape. */
export interface SeedLegacyCredential {
  sid: string;
  friendly_name: string | null;
  type: LegacyType;
  /** Kept exactly as seeded and returned verbatim (the real API sends strings like `"False"`). */
  sandbox: string | null;
  date_created: string;
  date_updated: string;
}

/** A credential that already exists in Comms when the emulator starts (visible at once). */
export interface SeedCommsCredential {
  appName: string;
  credentialType: CredentialType;
  /** Taken verbatim when given; when absent the Comms default rule decides. */
  isDefault?: boolean;
  id?: string;
  createdAt?: string;
  updatedAt?: string;
}

/** Device registrations under an existing App; `count` > 1 adds that many (tokens `<token>-1`, …). */
export interface SeedDeviceRegistration {
  appName: string;
  token: string;
  provider: "APN" | "FCM";
  userId?: string;
  count?: number;
}

/**
 * What the emulator starts with. JSON file format (`cr2comms emulator --seed file.json`):
 *
 * ```jsonc
 * { "accountSid": "AC…",               // optional, default SAMPLE_SEED's
 *   "authToken": "…",                  // optional, default SAMPLE_SEED's
 *   "apiKeys": [{ "sid": "SK…", "secret": "…", "readOnly"?: true }],  // optional
 *   "legacyCredentials": [{ "sid": "CR…", "friendly_name": "…" | null, "type": "apn"|"fcm"|"gcm",
 *                           "sandbox": "True"|"False"|"true"|"false"|null,
 *                           "date_created": "…", "date_updated": "…" }],
 *   "commsCredentials": [{ "appName": "…", "credentialType": "APN"|"APN_SANDBOX"|"FCM",
 *                          "isDefault": true, "id"?: "comms_credential_…", "createdAt"?: "…" }],  // optional
 *   "defaultApp": "…",                 // optional: the account's default App (else the first App created)
 *   "deviceRegistrations": [{ "appName": "…", "token": "…", "provider": "APN"|"FCM", "count"?: 1204 }] }  // optional
 * ```
 * Sids must be unique, and the Comms side must respect the limits (10 Apps, 10 Credentials per App).
 */
export interface Seed {
  /** Default SAMPLE_SEED's. */
  accountSid?: string;
  /** Default SAMPLE_SEED's. */
  authToken?: string;
  /** Default none. */
  apiKeys?: SeedApiKey[];
  /** Default none. */
  legacyCredentials?: SeedLegacyCredential[];
  /** Default none. */
  commsCredentials?: SeedCommsCredential[];
  /** One of the Apps of `commsCredentials`; default: the first App created. */
  defaultApp?: string;
  /** Default none. Each names an App of `commsCredentials`. */
  deviceRegistrations?: SeedDeviceRegistration[];
}

/** A seed with every default filled in (`defaultApp` stays optional). */
export type ResolvedSeed = Required<Omit<Seed, "defaultApp">> & Pick<Seed, "defaultApp">;

/** Fills a seed's defaults (account and token from SAMPLE_SEED, empty lists otherwise). */
export function resolveSeed(seed: Seed): ResolvedSeed {
  return {
    accountSid: seed.accountSid ?? SAMPLE_ACCOUNT_SID,
    authToken: seed.authToken ?? SAMPLE_AUTH_TOKEN,
    apiKeys: seed.apiKeys ?? [],
    legacyCredentials: seed.legacyCredentials ?? [],
    commsCredentials: seed.commsCredentials ?? [],
    ...(seed.defaultApp !== undefined ? { defaultApp: seed.defaultApp } : {}),
    deviceRegistrations: seed.deviceRegistrations ?? [],
  };
}

const SAMPLE_ACCOUNT_SID = "AC00000000000000000000000000000000";
const SAMPLE_AUTH_TOKEN = "emulator-auth-token";

/** The sample account used by `--emulator`, the demo and the tests. Other modules rely on these exact values. */
export const SAMPLE_SEED: ResolvedSeed = {
  accountSid: SAMPLE_ACCOUNT_SID,
  authToken: SAMPLE_AUTH_TOKEN,
  apiKeys: [
    { sid: "SK00000000000000000000000000000000", secret: "emulator-api-secret" },
    { sid: "SK00000000000000000000000000000001", secret: "emulator-read-only-secret", readOnly: true },
  ],
  legacyCredentials: [
    legacy(1, "Limonade iOS (production)", "apn", "False", "2019-03-14T09:26:53Z", "2019-03-14T09:26:53Z"),
    legacy(2, "Limonade iOS (development)", "apn", "True", "2019-03-14T09:31:07Z", "2020-06-02T16:45:12Z"),
    legacy(3, "Limonade Android", "fcm", null, "2019-08-21T11:02:44Z", "2021-02-10T08:15:30Z"),
    legacy(4, "Old GCM app", "gcm", null, "2019-01-05T14:00:00Z", "2019-01-05T14:00:00Z"),
    legacy(5, null, "apn", "true", "2020-11-30T22:10:05Z", "2020-11-30T22:10:05Z"),
    legacy(6, "Kiosk iPad", "apn", "false", "2021-04-18T07:48:19Z", "2021-09-01T12:00:00Z"),
  ],
  commsCredentials: [{ appName: "marketing_web", credentialType: "FCM", isDefault: true }],
  deviceRegistrations: [],
};

function legacy(
  n: number,
  friendlyName: string | null,
  type: LegacyType,
  sandbox: string | null,
  created: string,
  updated: string,
): SeedLegacyCredential {
  return {
    sid: `CR${n.toString(16).padStart(32, "0")}`,
    friendly_name: friendlyName,
    type,
    sandbox,
    date_created: created,
    date_updated: updated,
  };
}

/**
 * `n` deterministic legacy credentials for large-account tests and benchmarks. Their sids
 * (`CRab…`) never collide with SAMPLE_SEED's and sort after them. Types cycle through `types`
 * (default apn, fcm, gcm); apn sandbox alternates "True"/"False"; every 7th has no friendly name.
 */
export function generateLegacyCredentials(
  n: number,
  opts: { startIndex?: number; types?: LegacyType[] } = {},
): SeedLegacyCredential[] {
  const start = opts.startIndex ?? 1;
  const types = opts.types && opts.types.length > 0 ? opts.types : (["apn", "fcm", "gcm"] as LegacyType[]);
  const base = Date.UTC(2020, 0, 1);
  const out: SeedLegacyCredential[] = [];
  for (let k = 0; k < n; k++) {
    const i = start + k;
    const type = types[k % types.length] ?? "apn";
    const date = new Date(base + i * 3_600_000).toISOString().replace(/\.\d{3}Z$/, "Z");
    out.push({
      sid: `CRab${i.toString(16).padStart(30, "0")}`,
      friendly_name: i % 7 === 0 ? null : `Generated app ${i}`,
      type,
      sandbox: type === "apn" ? (i % 2 === 0 ? "True" : "False") : null,
      date_created: date,
      date_updated: date,
    });
  }
  return out;
}

const dateTime = z.string().refine((s) => !Number.isNaN(Date.parse(s)), "must be an ISO date-time");

const seedSchema = z.strictObject({
  accountSid: z.string().regex(ACCOUNT_SID_PATTERN, "must match ^AC[0-9a-fA-F]{32}$").optional(),
  authToken: z.string().min(1, "must not be empty").optional(),
  apiKeys: z
    .array(
      z.strictObject({ sid: z.string().regex(/^SK[0-9a-fA-F]{32}$/, "must match ^SK[0-9a-fA-F]{32}$"), secret: z.string().min(1), readOnly: z.boolean().optional() }),
    )
    .optional(),
  legacyCredentials: z
    .array(
      z.strictObject({
        sid: z.string().regex(LEGACY_SID_PATTERN, "must match ^CR[0-9a-fA-F]{32}$"),
        friendly_name: z.string().max(64, "must be at most 64 characters").nullable(),
        type: z.enum(["apn", "fcm", "gcm"]),
        sandbox: z.string().nullable(),
        date_created: dateTime,
        date_updated: dateTime,
      }),
    )
    .optional(),
  commsCredentials: z
    .array(
      z.strictObject({
        appName: z.string().regex(APP_NAME_PATTERN, "must match ^[a-z0-9_]+$, 1..64 characters"),
        credentialType: z.enum(["APN", "APN_SANDBOX", "FCM"]),
        isDefault: z.boolean().optional(),
        id: z.string().regex(COMMS_ID_PATTERN, "must be comms_credential_ followed by 26 lowercase Crockford base32 characters").optional(),
        createdAt: dateTime.optional(),
        updatedAt: dateTime.optional(),
      }),
    )
    .optional(),
  defaultApp: z.string().regex(APP_NAME_PATTERN, "must match ^[a-z0-9_]+$, 1..64 characters").optional(),
  deviceRegistrations: z
    .array(
      z.strictObject({
        appName: z.string().regex(APP_NAME_PATTERN, "must match ^[a-z0-9_]+$, 1..64 characters"),
        token: z.string().min(1, "must not be empty"),
        provider: z.enum(["APN", "FCM"]),
        userId: z.string().regex(/^comms_pushnotificationuser_[0-7][0-9a-hjkmnp-tv-z]{25,34}$/, "must be a comms_pushnotificationuser_ id").optional(),
        count: z.number().int().min(1).max(100_000).optional(),
      }),
    )
    .optional(),
});

/** Validates an already-parsed seed object; throws a UsageError listing every problem with its path. */
export function validateSeed(value: unknown, source = "seed"): ResolvedSeed {
  const parsed = seedSchema.safeParse(value);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.length > 0 ? i.path.join(".") : "(root)"}: ${i.message}`);
    throw new UsageError(`invalid ${source}:\n${lines.join("\n")}`);
  }
  const s = parsed.data;
  const problems: string[] = [];
  const sids = new Set<string>();
  for (const c of s.legacyCredentials ?? []) {
    const key = c.sid.toUpperCase();
    if (sids.has(key)) problems.push(`legacyCredentials: duplicate sid ${c.sid}`);
    sids.add(key);
  }
  const ids = new Set<string>();
  const perApp = new Map<string, number>();
  for (const c of s.commsCredentials ?? []) {
    if (c.id !== undefined) {
      if (ids.has(c.id)) problems.push(`commsCredentials: duplicate id ${c.id}`);
      ids.add(c.id);
    }
    perApp.set(c.appName, (perApp.get(c.appName) ?? 0) + 1);
  }
  if (perApp.size > MAX_APPS_PER_ACCOUNT) problems.push(`commsCredentials: ${perApp.size} Apps, the limit is ${MAX_APPS_PER_ACCOUNT}`);
  for (const [app, count] of perApp) {
    if (count > MAX_CREDENTIALS_PER_APP) problems.push(`commsCredentials: App ${app} has ${count} Credentials, the limit is ${MAX_CREDENTIALS_PER_APP}`);
  }
  if (s.defaultApp !== undefined && !perApp.has(s.defaultApp)) problems.push(`defaultApp: ${s.defaultApp} is not an App of commsCredentials (Apps exist only while they hold credentials)`);
  for (const r of s.deviceRegistrations ?? []) {
    if (!perApp.has(r.appName)) problems.push(`deviceRegistrations: App ${r.appName} does not exist (a registration needs an App of commsCredentials)`);
  }
  if (problems.length > 0) throw new UsageError(`invalid ${source}:\n${problems.map((p) => `  ${p}`).join("\n")}`);
  return resolveSeed(s);
}

/** Reads and validates a JSON seed file (format: see `Seed`). Errors name the file and every bad field. */
export function loadSeedFile(path: string): ResolvedSeed {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new UsageError(`cannot read seed file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`seed file ${path} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  return validateSeed(value, `seed file ${path}`);
}
