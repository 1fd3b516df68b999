import { resolve } from "node:path";
import { ACCOUNT_SID_PATTERN } from "../domain.js";
import { UsageError } from "../errors.js";
import { DEFAULT_CONCURRENCY, MAX_CONCURRENCY, OUTCOME_SETTLE_MS } from "../limits.js";

export const DEFAULT_CONVERSATIONS_URL = "https://conversations.twilio.com";
export const DEFAULT_COMMS_URL = "https://comms.twilio.com";

/** Options every command takes (SPEC "Options that every command takes"). */
export interface GlobalArgs {
  accountSid?: string;
  authToken?: string;
  apiKey?: string;
  apiSecret?: string;
  conversationsUrl?: string;
  commsUrl?: string;
  commsApiVersion?: string;
  mapping?: string;
  reportsDir?: string;
  ledger?: string;
  concurrency?: number;
  settleSeconds?: number;
  json?: boolean;
  logLevel?: string;
  emulator?: boolean;
}

export interface Credentials {
  accountSid: string;
  /** Basic-auth user: the account SID (auth token) or the API key SID. */
  username: string;
  password: string;
  kind: "auth-token" | "api-key";
}

export interface Settings {
  conversationsUrl: string;
  commsUrl: string;
  commsApiVersion: "v1" | "preview";
  mappingPath: string;
  reportsDir: string;
  ledgerPath: string;
  concurrency: number;
  /** True when `--concurrency` or CR2COMMS_CONCURRENCY fixed it; apply adapts its concurrency otherwise. */
  concurrencyGiven: boolean;
  /** How long a create with an unknown outcome is waited for before it is sent again. */
  settleMs: number;
  json: boolean;
  logLevel: string;
  emulator: boolean;
}

type Env = Record<string, string | undefined>;

/** A flag given twice arrives as an array: the last one wins, as in most CLIs. */
const nonEmpty = (v: string | string[] | undefined): string | undefined => {
  const last = Array.isArray(v) ? v[v.length - 1] : v;
  return last === undefined || last === "" ? undefined : last;
};

/** Flag, then environment variable, then default. Does not need credentials. */
export function resolveSettings(args: GlobalArgs, env: Env, cwd = process.cwd()): Settings {
  const version = nonEmpty(args.commsApiVersion) ?? nonEmpty(env.CR2COMMS_COMMS_API_VERSION) ?? "v1";
  if (version !== "v1" && version !== "preview") {
    throw new UsageError(`--comms-api-version must be "v1" or "preview", not "${version}"`);
  }
  const reportsDir = resolve(cwd, nonEmpty(args.reportsDir) ?? nonEmpty(env.CR2COMMS_REPORTS_DIR) ?? "reports");
  const ledger = nonEmpty(args.ledger) ?? nonEmpty(env.CR2COMMS_LEDGER);
  const concurrencyFlag = Array.isArray(args.concurrency) ? (args.concurrency as number[]).at(-1) : args.concurrency;
  const concurrencyRaw = concurrencyFlag ?? nonEmpty(env.CR2COMMS_CONCURRENCY);
  const concurrency = concurrencyRaw === undefined ? DEFAULT_CONCURRENCY : Number(concurrencyRaw);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > MAX_CONCURRENCY) {
    throw new UsageError(`--concurrency must be a whole number from 1 to ${MAX_CONCURRENCY}, not "${String(concurrencyRaw)}"`);
  }
  const settleRaw = (Array.isArray(args.settleSeconds) ? (args.settleSeconds as number[]).at(-1) : args.settleSeconds) ?? nonEmpty(env.CR2COMMS_SETTLE_SECONDS);
  const settleSeconds = settleRaw === undefined ? OUTCOME_SETTLE_MS / 1000 : Number(settleRaw);
  if (!Number.isInteger(settleSeconds) || settleSeconds < 1) {
    const from = args.settleSeconds !== undefined ? "--settle-seconds" : "CR2COMMS_SETTLE_SECONDS";
    throw new UsageError(`${from} must be a whole number of seconds of at least 1, not "${String(settleRaw)}"`);
  }
  return {
    settleMs: settleSeconds * 1000,
    conversationsUrl: checkUrl("--conversations-url", nonEmpty(args.conversationsUrl) ?? nonEmpty(env.CR2COMMS_CONVERSATIONS_URL) ?? DEFAULT_CONVERSATIONS_URL),
    commsUrl: checkUrl("--comms-url", nonEmpty(args.commsUrl) ?? nonEmpty(env.CR2COMMS_COMMS_URL) ?? DEFAULT_COMMS_URL),
    commsApiVersion: version,
    mappingPath: resolve(cwd, nonEmpty(args.mapping) ?? nonEmpty(env.CR2COMMS_MAPPING) ?? "mappings/migration.yaml"),
    reportsDir,
    ledgerPath: ledger ? resolve(cwd, ledger) : resolve(reportsDir, "ledger.jsonl"),
    concurrency,
    concurrencyGiven: concurrencyRaw !== undefined,
    json: args.json ?? false,
    logLevel: nonEmpty(args.logLevel) ?? nonEmpty(env.LOG_LEVEL) ?? "info",
    emulator: args.emulator ?? false,
  };
}

/**
 * Account SID plus an auth token or an API key pair. One clear line names what is missing.
 * An API key pair wins over an auth token when both are given (it is the narrower grant).
 */
export function resolveCredentials(args: GlobalArgs, env: Env): Credentials {
  const accountSid = nonEmpty(args.accountSid) ?? nonEmpty(env.TWILIO_ACCOUNT_SID);
  if (!accountSid) {
    throw new UsageError("no account: set TWILIO_ACCOUNT_SID or pass --account-sid (or use --emulator to rehearse without an account)");
  }
  if (!ACCOUNT_SID_PATTERN.test(accountSid)) {
    throw new UsageError(`the account SID must look like AC followed by 32 hex characters (got "${accountSid.slice(0, 6)}…")`);
  }
  const apiKey = nonEmpty(args.apiKey) ?? nonEmpty(env.TWILIO_API_KEY);
  const apiSecret = nonEmpty(args.apiSecret) ?? nonEmpty(env.TWILIO_API_SECRET);
  if (apiKey || apiSecret) {
    if (!apiKey) throw new UsageError("TWILIO_API_SECRET is set but TWILIO_API_KEY is not: set both (or --api-key/--api-secret)");
    if (!apiSecret) throw new UsageError("TWILIO_API_KEY is set but TWILIO_API_SECRET is not: set both (or --api-key/--api-secret)");
    return { accountSid, username: apiKey, password: apiSecret, kind: "api-key" };
  }
  const authToken = nonEmpty(args.authToken) ?? nonEmpty(env.TWILIO_AUTH_TOKEN);
  if (!authToken) {
    throw new UsageError("no credentials: set TWILIO_AUTH_TOKEN (or TWILIO_API_KEY and TWILIO_API_SECRET), or pass --auth-token");
  }
  return { accountSid, username: accountSid, password: authToken, kind: "auth-token" };
}

function checkUrl(flag: string, value: string): string {
  try {
    const url = new URL(value);
    if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error("not http(s)");
    return value.replace(/\/+$/, "");
  } catch {
    throw new UsageError(`${flag} must be an http(s) URL, not "${value}"`);
  }
}
