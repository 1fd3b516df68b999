import { homedir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import { ACCOUNT_SID_PATTERN } from "../domain.js";
import { UsageError } from "../errors.js";
import { DEFAULT_CONCURRENCY, MAX_CONCURRENCY, OUTCOME_SETTLE_MS, RECONCILE_CLOCK_SKEW_MS } from "../limits.js";
import type { LogFormat } from "../log.js";

export const DEFAULT_CONVERSATIONS_URL = "https://conversations.twilio.com";
export const DEFAULT_COMMS_URL = "https://comms.twilio.com";
/** pino's levels; anything else is a usage error rather than pino's "unknown level" crash. */
export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;
export const LOG_FORMATS: readonly LogFormat[] = ["pretty", "json"];
/** twilio-node's default when an edge is given without a region (BaseTwilio.getHostname). */
const TWILIO_DEFAULT_REGION = "us1";

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
  /** Text as typed (yargs `string`), so that a bad value can be quoted back. */
  concurrency?: string | number;
  settleSeconds?: string | number;
  clockSkewSeconds?: string | number;
  json?: boolean;
  logLevel?: string;
  logFormat?: string;
  emulator?: boolean;
}

export interface Credentials {
  accountSid: string;
  /** Basic-auth user: the account SID (auth token) or the API key SID. */
  username: string;
  password: string;
  kind: "auth-token" | "api-key";
  /**
   * Which credential this is and where it came from, for 401 and 403 messages (never its value):
   * `TWILIO_AUTH_TOKEN for AC…`, `--auth-token for AC…`, `API key SK… (TWILIO_API_KEY/TWILIO_API_SECRET)`.
   */
  label?: string;
}

export interface Settings {
  conversationsUrl: string;
  commsUrl: string;
  commsApiVersion: "v1" | "preview";
  mappingPath: string;
  reportsDir: string;
  ledgerPath: string;
  concurrency: number;
  /** True when `--concurrency` or `CR2COMMS_CONCURRENCY` fixed it; otherwise apply adapts its concurrency. */
  concurrencyGiven: boolean;
  /** `--settle-seconds` in milliseconds (default OUTCOME_SETTLE_MS). */
  settleMs: number;
  /** `--clock-skew-seconds` in milliseconds (default RECONCILE_CLOCK_SKEW_MS). */
  clockSkewMs: number;
  json: boolean;
  logLevel: string;
  logFormat: LogFormat;
  emulator: boolean;
  /** The per-user state folder (the per-account locks) and what named it. */
  stateDir: string;
  stateDirFrom: string;
}

type Env = Record<string, string | undefined>;

/** A value and the name of what set it ("--flag" or "VARIABLE"), so that errors name the right one. */
interface Sourced {
  value: string;
  from: string;
}

/** A flag given twice arrives as an array: the last one wins, as in most CLIs. */
const last = <T>(v: T | T[] | undefined): T | undefined => (Array.isArray(v) ? v[v.length - 1] : v);

const nonEmpty = (v: string | string[] | undefined): string | undefined => {
  const value = last(v);
  return value === undefined || value === "" ? undefined : value;
};

/** Flag (kebab-case name), then environment variable; undefined when neither is set. */
function pick(flag: string, flagValue: unknown, env: Env, variable?: string): Sourced | undefined {
  const raw = last(flagValue as string | number | undefined);
  if (raw !== undefined && raw !== "") return { value: String(raw), from: `--${flag}` };
  const fromEnv = variable ? nonEmpty(env[variable]) : undefined;
  return fromEnv !== undefined && variable ? { value: fromEnv, from: variable } : undefined;
}

function wholeNumber(s: Sourced, min: number, max: number, what: string): number {
  const n = /^\s*\d+\s*$/.test(s.value) ? Number(s.value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`${s.from} must be ${what}, not "${s.value}"`);
  }
  return n;
}

function oneOf<T extends string>(s: Sourced, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(s.value)) {
    throw new UsageError(`${s.from} must be one of ${allowed.join(", ")}, not "${s.value}"`);
  }
  return s.value as T;
}

/**
 * Flag, then environment variable, then default. Does not need credentials. Every bad value is a
 * usage error naming the flag or the variable that set it.
 */
export function resolveSettings(args: GlobalArgs, env: Env, cwd = process.cwd(), stderrIsTTY = Boolean(process.stderr.isTTY)): Settings {
  const emulator = args.emulator ?? false;
  const versionSource = pick("comms-api-version", args.commsApiVersion, env, "CR2COMMS_COMMS_API_VERSION");
  const commsApiVersion = versionSource ? oneOf(versionSource, ["v1", "preview"] as const) : "v1";

  const concurrencySource = pick("concurrency", args.concurrency, env, "CR2COMMS_CONCURRENCY");
  const concurrency = concurrencySource ? wholeNumber(concurrencySource, 1, MAX_CONCURRENCY, `a whole number from 1 to ${MAX_CONCURRENCY}`) : DEFAULT_CONCURRENCY;
  const settleSource = pick("settle-seconds", args.settleSeconds, env, "CR2COMMS_SETTLE_SECONDS");
  const settleMs = settleSource ? wholeNumber(settleSource, 1, Number.MAX_SAFE_INTEGER / 1000, "a whole number of seconds, at least 1") * 1000 : OUTCOME_SETTLE_MS;

  const skewSource = pick("clock-skew-seconds", args.clockSkewSeconds, env, "CR2COMMS_CLOCK_SKEW_SECONDS");
  const clockSkewMs = skewSource ? wholeNumber(skewSource, 0, 3600, "a whole number of seconds from 0 to 3600") * 1000 : RECONCILE_CLOCK_SKEW_MS;

  const levelSource = pick("log-level", args.logLevel, env, "LOG_LEVEL");
  const logLevel = levelSource ? oneOf(levelSource, LOG_LEVELS) : "info";
  const formatSource = pick("log-format", args.logFormat, env);
  const logFormat = formatSource ? oneOf(formatSource, LOG_FORMATS) : stderrIsTTY ? "pretty" : "json";

  // Rehearsals keep their own reports and ledger, away from a real account's.
  const reportsSource = pick("reports-dir", args.reportsDir, env, "CR2COMMS_REPORTS_DIR");
  const ledgerSource = pick("ledger", args.ledger, env, "CR2COMMS_LEDGER");
  const reportsDir = resolve(cwd, reportsSource?.value ?? (emulator && !ledgerSource ? "reports/emulator" : "reports"));

  return {
    conversationsUrl: emulator ? DEFAULT_CONVERSATIONS_URL : conversationsUrl(args, env),
    commsUrl: emulator ? DEFAULT_COMMS_URL : commsUrl(args, env),
    commsApiVersion,
    mappingPath: resolve(cwd, nonEmpty(args.mapping) ?? nonEmpty(env.CR2COMMS_MAPPING) ?? "mappings/migration.yaml"),
    reportsDir,
    ledgerPath: ledgerSource ? resolve(cwd, ledgerSource.value) : resolve(reportsDir, "ledger.jsonl"),
    concurrency,
    concurrencyGiven: concurrencySource !== undefined,
    settleMs,
    clockSkewMs,
    json: args.json ?? false,
    logLevel,
    logFormat,
    emulator,
    ...stateDirOf(env, cwd),
  };
}

/**
 * `CR2COMMS_STATE_DIR`, else `$XDG_STATE_HOME/cr2comms` (an absolute one, as the XDG spec asks),
 * else `~/.local/state/cr2comms`.
 */
export function stateDirOf(env: Env, cwd: string, home: () => string = homedir): { stateDir: string; stateDirFrom: string } {
  const given = nonEmpty(env.CR2COMMS_STATE_DIR);
  if (given !== undefined) return { stateDir: resolve(cwd, given), stateDirFrom: "CR2COMMS_STATE_DIR" };
  const xdg = nonEmpty(env.XDG_STATE_HOME);
  if (xdg !== undefined && isAbsolute(xdg)) return { stateDir: join(xdg, "cr2comms"), stateDirFrom: "XDG_STATE_HOME" };
  return { stateDir: join(home(), ".local", "state", "cr2comms"), stateDirFrom: "the home folder" };
}

/** `TWILIO_REGION` / `TWILIO_EDGE`, checked to be plain host labels; undefined when neither is set. */
function regionAndEdge(env: Env): { region?: string; edge?: string; from: string } | undefined {
  const region = nonEmpty(env.TWILIO_REGION);
  const edge = nonEmpty(env.TWILIO_EDGE);
  for (const [name, value] of [["TWILIO_REGION", region], ["TWILIO_EDGE", edge]] as const) {
    if (value !== undefined && !/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/i.test(value)) {
      throw new UsageError(`${name} must be a plain name such as "au1" or "sydney", not "${value}"`);
    }
  }
  if (region === undefined && edge === undefined) return undefined;
  const from = [region !== undefined ? "TWILIO_REGION" : "", edge !== undefined ? "TWILIO_EDGE" : ""].filter(Boolean).join(" and ");
  return { ...(region !== undefined ? { region } : {}), ...(edge !== undefined ? { edge } : {}), from };
}

/**
 * The Conversations host built the way twilio-node builds it (BaseTwilio.getHostname):
 * product.edge.region.twilio.com, and an edge without a region implies us1.
 */
export function regionalConversationsUrl(region: string | undefined, edge: string | undefined): string {
  const r = region ?? (edge !== undefined ? TWILIO_DEFAULT_REGION : undefined);
  if (r === undefined) return DEFAULT_CONVERSATIONS_URL;
  return `https://${["conversations", edge, r, "twilio.com"].filter(Boolean).join(".")}`;
}

function conversationsUrl(args: GlobalArgs, env: Env): string {
  const given = pick("conversations-url", args.conversationsUrl, env, "CR2COMMS_CONVERSATIONS_URL");
  if (given) return checkUrl(given);
  const regional = regionAndEdge(env);
  return regional ? regionalConversationsUrl(regional.region, regional.edge) : DEFAULT_CONVERSATIONS_URL;
}

function commsUrl(args: GlobalArgs, env: Env): string {
  const given = pick("comms-url", args.commsUrl, env, "CR2COMMS_COMMS_URL");
  if (given) return checkUrl(given);
  const regional = regionAndEdge(env);
  if (regional) {
    // Twilio documents no regional Comms host; guessing one could send credentials to the wrong place.
    throw new UsageError(
      `${regional.from} ${regional.from.includes(" and ") ? "are" : "is"} set, but Comms documents no regional host: pass --comms-url (or set CR2COMMS_COMMS_URL) to say which Comms host to use`,
    );
  }
  return DEFAULT_COMMS_URL;
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
  const apiKey = pick("api-key", args.apiKey, env, "TWILIO_API_KEY");
  const apiSecret = pick("api-secret", args.apiSecret, env, "TWILIO_API_SECRET");
  if (apiKey || apiSecret) {
    if (!apiKey) throw new UsageError("TWILIO_API_SECRET is set but TWILIO_API_KEY is not: set both (or --api-key/--api-secret)");
    if (!apiSecret) throw new UsageError("TWILIO_API_KEY is set but TWILIO_API_SECRET is not: set both (or --api-key/--api-secret)");
    const label = `API key ${apiKey.value} (${apiKey.from}/${apiSecret.from})`;
    return { accountSid, username: apiKey.value, password: apiSecret.value, kind: "api-key", label };
  }
  const authToken = pick("auth-token", args.authToken, env, "TWILIO_AUTH_TOKEN");
  if (!authToken) {
    throw new UsageError("no credentials: set TWILIO_AUTH_TOKEN (or TWILIO_API_KEY and TWILIO_API_SECRET), or pass --auth-token");
  }
  return { accountSid, username: accountSid, password: authToken.value, kind: "auth-token", label: `${authToken.from} for ${accountSid}` };
}

function checkUrl(s: Sourced): string {
  try {
    const url = new URL(s.value);
    if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error("not http(s)");
    return s.value.replace(/\/+$/, "");
  } catch {
    throw new UsageError(`${s.from} must be an http(s) URL, not "${s.value}"`);
  }
}
