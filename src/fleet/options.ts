import { resolve } from "node:path";
import { UsageError } from "../errors.js";

/** Flags of a run over many accounts (SPEC "Many accounts in one run"). */
export interface FleetArgs {
  allSubaccounts?: boolean;
  accounts?: string;
  includeParent?: boolean;
  accountsConcurrency?: string | number;
  mappingDir?: string;
  apiUrl?: string;
  mapping?: string;
  ledger?: string;
}

export type FleetCommand = "inventory" | "init" | "plan" | "apply" | "status" | "rollback";

export interface FleetSettings {
  selection: { kind: "all"; includeParent: boolean } | { kind: "file"; path: string };
  accountsConcurrency: number;
  mappingDir: string;
  apiUrl: string;
}

/**
 * Accounts worked at once by default. Each account has its own concurrency limit at Twilio, so
 * more accounts at once is more throughput until this machine is the bottleneck: `npm run bench`
 * (fleet section: 200 accounts × 10 credentials, 50 ms, 5 in flight per account) measured 4, 8, 16
 * and 32 at 95, 66, 57 and 51 s (a quieter run: 195, 166, 97, 64 s), so the default is the fastest.
 */
export const DEFAULT_ACCOUNTS_CONCURRENCY = 32;
export const MAX_ACCOUNTS_CONCURRENCY = 64;
export const DEFAULT_API_URL = "https://api.twilio.com";

type Env = Record<string, string | undefined>;

const given = (v: unknown): string | undefined => {
  const value = Array.isArray(v) ? v[v.length - 1] : v;
  return value === undefined || value === "" || value === false ? undefined : String(value);
};

/**
 * True when the run is over many accounts: `--all-subaccounts`, or `--accounts` / CR2COMMS_ACCOUNTS
 * — or another fleet flag, which then fails as a usage error naming what it needs.
 */
export function isFleetRun(args: FleetArgs, env: Env = process.env): boolean {
  return (
    args.allSubaccounts === true ||
    given(args.accounts) !== undefined ||
    given(env.CR2COMMS_ACCOUNTS) !== undefined ||
    args.includeParent === true ||
    given(args.accountsConcurrency) !== undefined ||
    given(args.mappingDir) !== undefined ||
    given(args.apiUrl) !== undefined
  );
}

/** Flag, then variable, then default; every conflict is a usage error naming the flags. */
export function resolveFleetSettings(args: FleetArgs, env: Env, cwd = process.cwd()): FleetSettings {
  const file = given(args.accounts) ?? given(env.CR2COMMS_ACCOUNTS);
  const fileFrom = given(args.accounts) !== undefined ? "--accounts" : "CR2COMMS_ACCOUNTS";
  if (args.allSubaccounts && file !== undefined) throw new UsageError(`--all-subaccounts and ${fileFrom} exclude each other: use one of them`);
  if (args.includeParent && !args.allSubaccounts) throw new UsageError("--include-parent goes with --all-subaccounts (with --accounts FILE, list the parent's sid in the file)");
  if (!args.allSubaccounts && file === undefined) {
    const flag = given(args.accountsConcurrency) !== undefined ? "--accounts-concurrency" : given(args.mappingDir) !== undefined ? "--mapping-dir" : "--api-url";
    throw new UsageError(`${flag} is for runs over many accounts: add --all-subaccounts or --accounts FILE`);
  }
  const what = args.allSubaccounts ? "--all-subaccounts" : fileFrom;
  for (const [flag, variable, value, fromEnv] of [
    ["--mapping", "CR2COMMS_MAPPING", given(args.mapping), given(env.CR2COMMS_MAPPING)],
    ["--ledger", "CR2COMMS_LEDGER", given(args.ledger), given(env.CR2COMMS_LEDGER)],
  ] as const) {
    if (value !== undefined) throw new UsageError(`${flag} cannot be used with ${what}: each account has its own (${flag === "--mapping" ? "<mapping-dir>/<ACsid>.yaml" : "<reports-dir>/accounts/<ACsid>/ledger.jsonl"})`);
    if (fromEnv !== undefined) throw new UsageError(`${variable} is set, but it cannot be used with ${what}: each account has its own; unset it`);
  }
  const concurrencyText = given(args.accountsConcurrency) ?? given(env.CR2COMMS_ACCOUNTS_CONCURRENCY);
  let accountsConcurrency = DEFAULT_ACCOUNTS_CONCURRENCY;
  if (concurrencyText !== undefined) {
    const from = given(args.accountsConcurrency) !== undefined ? "--accounts-concurrency" : "CR2COMMS_ACCOUNTS_CONCURRENCY";
    const n = /^\s*\d+\s*$/.test(concurrencyText) ? Number(concurrencyText) : NaN;
    if (!Number.isSafeInteger(n) || n < 1 || n > MAX_ACCOUNTS_CONCURRENCY) throw new UsageError(`${from} must be a whole number from 1 to ${MAX_ACCOUNTS_CONCURRENCY}, not "${concurrencyText}"`);
    accountsConcurrency = n;
  }
  return {
    selection: file !== undefined ? { kind: "file", path: resolve(cwd, file) } : { kind: "all", includeParent: args.includeParent === true },
    accountsConcurrency,
    mappingDir: resolve(cwd, given(args.mappingDir) ?? given(env.CR2COMMS_MAPPING_DIR) ?? "mappings/accounts"),
    apiUrl: apiUrl(args, env),
  };
}

function apiUrl(args: FleetArgs, env: Env): string {
  const flag = given(args.apiUrl);
  const value = flag ?? given(env.CR2COMMS_API_URL);
  if (value !== undefined) {
    try {
      const url = new URL(value);
      if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error("not http(s)");
    } catch {
      throw new UsageError(`${flag !== undefined ? "--api-url" : "CR2COMMS_API_URL"} must be an http(s) URL, not "${value}"`);
    }
    return value.replace(/\/+$/, "");
  }
  const region = given(env.TWILIO_REGION);
  const edge = given(env.TWILIO_EDGE);
  const r = region ?? (edge !== undefined ? "us1" : undefined);
  // The same host rule as twilio-node (api.<edge>.<region>.twilio.com); the labels were checked with the Conversations host.
  return r === undefined ? DEFAULT_API_URL : `https://${["api", edge, r, "twilio.com"].filter(Boolean).join(".")}`;
}

/** The sids of an accounts file: one per line, blank lines and `# comments` ignored, each once. */
export function parseAccountsFile(text: string, path: string): { sids: string[]; problems: string[] } {
  const sids: string[] = [];
  const problems: string[] = [];
  const seen = new Set<string>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/#.*$/, "").trim();
    if (line === "") return;
    if (!/^AC[0-9a-fA-F]{32}$/.test(line)) {
      problems.push(`${path}:${i + 1}: not an account sid (AC + 32 hex digits): ${JSON.stringify(line.slice(0, 40))}`);
      return;
    }
    // Hex in either case names one account: selected twice, two runs would share its ledger.
    if (seen.has(line.toLowerCase())) return;
    seen.add(line.toLowerCase());
    sids.push(line);
  });
  return { sids, problems };
}
