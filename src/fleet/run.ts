/**
 * A run over many accounts: a layer above the single-account pipeline, not a second one. It lists
 * the accounts (2010 Accounts API, with the parent's auth token), reads each one's own token, and
 * calls the same command function a single-account run uses, in-process, once per account — each
 * with its own clients, adaptive limiter, ledger and lock, all over one HTTP agent — a few
 * accounts at a time. One account's failure never stops the others; every selected account gets
 * exactly one row in the roll-up.
 */
import { existsSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { setMaxListeners } from "node:events";
import pLimit from "p-limit";
import { createAccountsClient, type AccountInfo, type AccountsClient } from "../accounts/client.js";
import { runAsAccount, type AccountResult, type AccountRun } from "../cli/account-run.js";
import { resolveCredentials, resolveSettings, type Credentials, type GlobalArgs, type Settings } from "../cli/config.js";
import { print, printJson, printTable, printWrapped, withOutput, type FitColumn } from "../cli/output.js";
import { accountRuntime, loadEmulatorState, saveEmulatorState } from "../cli/runtime.js";
import { accountStopWatch, exitCodeFor, watchStopSignals, type StopWatch } from "../cli/signals.js";
import type { SecretResult } from "../domain.js";
import type { Emulator } from "../emulator/index.js";
import { AuthError, Cr2commsError, EXIT, InterruptedError, LockedError, UsageError } from "../errors.js";
import { createDispatcher } from "../http/agent.js";
import { NetworkError } from "../http/errors.js";
import { rememberSecret } from "../http/server-text.js";
import { createLogger } from "../log.js";
import { escapeControl } from "../text.js";
import { isFleetRun, parseAccountsFile, resolveFleetSettings, type FleetArgs, type FleetCommand, type FleetSettings } from "./options.js";
import { countsText, rollUp, writeRollUp, type FleetRow, type Outcome } from "./rollup.js";

export { isFleetRun };

/** Commands that send nothing to Twilio: a signal abandons their accounts in flight at once. */
const READS_ONLY: ReadonlySet<FleetCommand> = new Set(["inventory", "init", "plan", "status"]);

export interface FleetDeps {
  env?: NodeJS.ProcessEnv;
  now?: () => Date;
  /** Tests: the emulator to use for `--emulator` instead of the sample fleet. */
  emulator?: Emulator;
}

/** One account selected for the run (or a sid that could not be selected, with why). */
interface Selected {
  sid: string;
  account?: AccountInfo;
  problem?: string;
}

/**
 * Runs `command` over the selected accounts; `runOne` is the command's own single-account function,
 * called with `args` inside each account's run. Returns the fleet's exit code.
 */
export async function runFleet(command: FleetCommand, args: GlobalArgs & FleetArgs & Record<string, unknown>, runOne: (args: never) => Promise<number>, deps: FleetDeps = {}): Promise<number> {
  const env = deps.env ?? process.env;
  const now = deps.now ?? (() => new Date());
  const fleet = resolveFleetSettings(args, env);
  checkCommandFlags(command, args);
  const settings = resolveSettings(args, env);
  const logger = createLogger(settings.logLevel, { format: settings.logFormat });

  let emulator: Emulator | undefined = deps.emulator;
  let ownEmulator = false;
  let parent: Credentials;
  let apiUrl = fleet.apiUrl;
  let base = settings;
  if (settings.emulator) {
    if (!emulator) {
      emulator = await startSampleFleet(settings);
      ownEmulator = true;
    }
    parent = { accountSid: emulator.accountSid, username: emulator.accountSid, password: emulator.authToken, kind: "auth-token" };
    apiUrl = emulator.url;
    base = { ...settings, conversationsUrl: emulator.url, commsUrl: emulator.url };
    logger.info({ url: emulator.url }, "using the embedded emulator: a parent account and its sample subaccounts (no Twilio account is contacted)");
  } else {
    parent = resolveCredentials(args, env);
    if (parent.kind === "api-key") {
      throw new UsageError(
        "a run over many accounts needs the parent's auth token (TWILIO_AUTH_TOKEN or --auth-token): each subaccount is worked with its own auth token, which the Accounts API returns empty to an API key",
      );
    }
  }
  rememberSecret(parent.password);
  const dispatcher = createDispatcher({ proxy: !settings.emulator, env });
  // Each account's ledger listens to the process's exit while it commits.
  process.setMaxListeners(Math.max(process.getMaxListeners(), 2 * fleet.accountsConcurrency + 10));
  const stop = watchStopSignals((signal) => logger.warn(`${signal} received: no new account is started; accounts in flight stop as a single-account run does, then the roll-up is written (press Ctrl-C again to quit at once)`));
  // Every account in flight (and each of its requests waiting on it) listens on it at once: not a leak.
  setMaxListeners(0, stop.signal);
  const rows = new Map<string, FleetRow>();
  try {
    const accounts = createAccountsClient({ accountSid: parent.accountSid, username: parent.username, password: parent.password, baseUrl: apiUrl, dispatcher, logger });
    const listed = await accounts.listAll();
    const selected = select(fleet, parent.accountSid, listed);
    const secrets = new Map<string, Promise<SecretResult>>();
    const limit = pLimit(fleet.accountsConcurrency);
    const order = selected.map((s) => s.sid);
    const finish = (row: FleetRow) => {
      rows.set(row.accountSid, row);
      const line = `${row.accountSid} ${row.outcome}${row.problems[0] ? `: ${row.problems[0]}` : ""}`;
      if (row.exitCode === 1) logger.warn({ account: row.accountSid, outcome: row.outcome }, line);
      else logger.info({ account: row.accountSid, outcome: row.outcome }, line);
    };
    await Promise.all(
      selected.map((s) =>
        limit(async () => {
          finish(await workOne(s));
        }),
      ),
    );

    async function workOne(s: Selected): Promise<FleetRow> {
      const a = s.account;
      const row = (outcome: Outcome, exitCode: number, problems: string[] = [], extra: Partial<FleetRow> = {}): FleetRow => ({
        accountSid: s.sid,
        friendlyName: a?.friendlyName ?? null,
        accountStatus: a?.status ?? "unknown",
        outcome,
        exitCode,
        summary: {},
        problems: problems.map(oneLine),
        ...extra,
      });
      if (!a) return row("unreachable", EXIT.failure, [s.problem ?? "not listed"]);
      if (a.status !== "active") return row("skipped", EXIT.ok, [`the account is ${a.status}: listed, not worked`]);
      if (stop.received) return row("interrupted", exitCodeFor(stop.received), [`not started: ${stop.received} received`]);
      const credentials: Credentials =
        a.sid === parent.accountSid ? parent : { accountSid: a.sid, username: a.sid, password: a.authToken, kind: "auth-token" };
      if (!credentials.password) return row("unreachable", EXIT.failure, ["the Accounts API returned no auth token for this account"]);
      const dir = join(base.reportsDir, "accounts", a.sid);
      const accountSettings: Settings = { ...base, reportsDir: dir, ledgerPath: join(dir, "ledger.jsonl"), mappingPath: join(fleet.mappingDir, `${a.sid}.yaml`) };
      const accountLogger = logger.child({ account: a.sid }, { level: quieter(settings.logLevel) });
      const runtime = accountRuntime({ settings: accountSettings, credentials, logger: accountLogger, dispatcher });
      const run: AccountRun = { runtime, stop, secrets, accountName: a.friendlyName };
      try {
        if ((command === "plan" || command === "apply") && !existsSync(accountSettings.mappingPath)) {
          const legacy = await runtime.legacy.listAll();
          if (legacy.length === 0) return row("empty", EXIT.ok, [], { summary: {} });
          return row("no-mapping", EXIT.failure, [`${legacy.length} legacy credential(s) but no mapping file ${relative(process.cwd(), accountSettings.mappingPath) || accountSettings.mappingPath}: write one with \`cr2comms init --accounts FILE\` (or --all-subaccounts)`]);
        }
        const working = withOutput(() => undefined, () => runAsAccount(run, () => runOne(args as never)));
        let code: number;
        if (READS_ONLY.has(command)) {
          working.catch(() => undefined);
          // This account's own link to the fleet's signal, undone when it ends: nothing of a
          // finished account stays reachable from the fleet's signal.
          const watch = accountStopWatch(stop);
          try {
            const raced = await Promise.race([working, watch.stopped]);
            if (typeof raced === "string") return row("interrupted", exitCodeFor(raced), [`interrupted (${raced}) while reading; nothing was sent`]);
            code = raced;
          } finally {
            watch.dispose();
          }
        } else {
          code = await working;
        }
        return fromResult(command, code, run.result, row, dir);
      } catch (err) {
        return await fromError(err, a, accounts, row);
      } finally {
        await runtime.close().catch(() => undefined);
      }
    }

    const ordered = order.map((sid) => rows.get(sid)!).filter(Boolean);
    return await finishRun(command, parent.accountSid, ordered, base, stop, now);
  } finally {
    stop.dispose();
    // After a signal, reads still in flight are abandoned, not waited for.
    if (stop.received) await dispatcher.destroy().catch(() => undefined);
    else await dispatcher.close().catch(() => undefined);
    if (emulator && ownEmulator) {
      for (const a of emulator.accounts.values()) if (rows.has(a.sid)) saveEmulatorState(join(base.reportsDir, "accounts", a.sid, "emulator-state.json"), a.state);
      await emulator.close();
    }
  }

  async function finishRun(cmd: FleetCommand, parentSid: string, ordered: FleetRow[], s: Settings, watch: StopWatch, clock: () => Date): Promise<number> {
    const at = clock();
    const r = rollUp(cmd, parentSid, ordered, at);
    const paths = await writeRollUp(s.reportsDir, r, at);
    if (s.json) printJson({ ...r, rollUpPaths: paths });
    else {
      printTable(ROLL_UP_COLUMNS, rollUpCells(ordered));
      printWrapped(`\n${ordered.length} account(s): ${countsText(r.summary.outcomes as Record<string, number>)}`);
      print(`Roll-up: ${paths.markdownPath}\n         ${paths.jsonPath}`);
    }
    if (watch.received) return exitCodeFor(watch.received);
    return fleetExitCode(ordered);
  }
}

/** The roll-up's table on a terminal: sids shortened in the middle, the problem wrapped, the least needed columns left out first. */
export const ROLL_UP_COLUMNS: FitColumn[] = [
  { header: "account", fit: "sid" },
  { header: "name", fit: "text", drop: 3 },
  { header: "status", drop: 2 },
  { header: "outcome" },
  { header: "exit", drop: 1 },
  { header: "counts", fit: "text", drop: 4 },
  { header: "problem", fit: "text" },
];

export function rollUpCells(rows: readonly FleetRow[]): string[][] {
  return rows.map((row) => [row.accountSid, row.friendlyName ?? "", row.accountStatus, row.outcome, String(row.exitCode), countsText(row.summary), row.problems[0] ?? ""]);
}

/** 1 if any account's run would exit 1; else 2 if any would exit 2; else 0. */
export function fleetExitCode(rows: readonly FleetRow[]): number {
  if (rows.some((r) => r.exitCode === EXIT.failure || r.exitCode === EXIT.usage || r.exitCode > 2)) return EXIT.failure;
  if (rows.some((r) => r.exitCode === EXIT.changes)) return EXIT.changes;
  return EXIT.ok;
}

/** The outcome of a command's run that returned an exit code. */
export function fromResult(command: FleetCommand, code: number, result: AccountResult | undefined, row: (o: Outcome, c: number, p?: string[], e?: Partial<FleetRow>) => FleetRow, dir: string): FleetRow {
  const extra: Partial<FleetRow> = { summary: result?.summary ?? {}, ...(result?.report ? { report: relative(join(dir, "..", ".."), result.report) } : {}) };
  const problems = result?.problems ?? [];
  if (code >= 128) return row("interrupted", code, problems.length ? problems : ["interrupted: in-flight work journalled, report written"], extra);
  let outcome: Outcome;
  switch (command) {
    case "plan":
      outcome = code === EXIT.failure ? "blocked" : result?.empty ? "empty" : result?.changes ? "changes" : "in-sync";
      break;
    case "apply":
    case "rollback":
      outcome = code === EXIT.failure ? (result?.blocked ? "blocked" : "failed") : result?.changes ? "applied" : "in-sync";
      break;
    case "status":
      outcome = code === EXIT.changes ? "drift" : code === EXIT.ok ? "in-sync" : "failed";
      break;
    default:
      outcome = code !== EXIT.ok ? "failed" : result?.empty ? "empty" : result?.changes ? "changes" : "in-sync";
  }
  return row(outcome, code === EXIT.usage ? EXIT.failure : code, problems, extra);
}

async function fromError(err: unknown, a: AccountInfo, accounts: AccountsClient, row: (o: Outcome, c: number, p?: string[], e?: Partial<FleetRow>) => FleetRow): Promise<FleetRow> {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof LockedError) return row("locked", EXIT.failure, [message]);
  if (err instanceof InterruptedError) return row("interrupted", err.exitCode, [message]);
  if (err instanceof AuthError) {
    // Suspended or closed since it was listed: its own token no longer authenticates.
    const now = await accounts.fetch(a.sid).catch(() => undefined);
    if (now && now.status !== "active") return row("unreachable", EXIT.failure, [`the account is ${now.status} since it was listed (401 with its own token); not worked`], { accountStatus: now.status });
    return row("unreachable", EXIT.failure, [message]);
  }
  if (err instanceof NetworkError) return row("unreachable", EXIT.failure, [message]);
  if (err instanceof UsageError) return row("blocked", EXIT.failure, [message]);
  if (err instanceof Cr2commsError) return row("failed", EXIT.failure, [message]);
  return row("failed", EXIT.failure, [`unexpected error: ${message}`]);
}

/** One line, no control characters, never longer than a terminal line or two. */
function oneLine(text: string): string {
  const flat = escapeControl(text.replace(/\s+/g, " ").trim());
  return flat.length > 300 ? `${flat.slice(0, 300)}…` : flat;
}

/** Per-account logs at info would be thousands of lines: the fleet logs one line per account instead. */
function quieter(level: string): string {
  return level === "info" ? "warn" : level;
}

/** Flags that name one file for one account make no sense over many. */
function checkCommandFlags(command: FleetCommand, args: Record<string, unknown>): void {
  const one = (flag: string, key: string) => {
    if (args[key] !== undefined && args[key] !== false) throw new UsageError(`${flag} is for one account; it cannot be used with --all-subaccounts or --accounts`);
  };
  if (command === "plan" || command === "init") one("--out", "out");
  if (command === "apply") {
    one("--plan", "plan");
    one("--replace", "replace");
  }
  if (command === "rollback") one("--report", "report");
  if ((command === "apply" || command === "rollback") && args.yes !== true) {
    throw new UsageError(`${command} over many accounts asks no question per account: review the plan roll-up, then pass --yes`);
  }
}

/** The accounts to work, in list (or file) order, each once. */
function select(fleet: FleetSettings, parentSid: string, listed: readonly AccountInfo[]): Selected[] {
  const bySid = new Map(listed.map((a) => [a.sid.toLowerCase(), a]));
  if (fleet.selection.kind === "all") {
    const includeParent = fleet.selection.includeParent;
    const subs = listed.filter((a) => a.sid !== parentSid);
    const parentInfo = bySid.get(parentSid.toLowerCase()) ?? { sid: parentSid, friendlyName: null, status: "active", ownerAccountSid: null, authToken: "" };
    return [...(includeParent ? [parentInfo] : []), ...subs].map((a) => ({ sid: a.sid, account: a }));
  }
  let text: string;
  try {
    text = readFileSync(fleet.selection.path, "utf8");
  } catch (err) {
    throw new UsageError(`cannot read the accounts file ${fleet.selection.path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const { sids, problems } = parseAccountsFile(text, fleet.selection.path);
  if (problems.length) throw new UsageError(problems.slice(0, 5).join("; "));
  return sids.map((sid) => {
    const account = bySid.get(sid.toLowerCase());
    return account ? { sid: account.sid, account } : { sid, problem: `${sid} is neither the parent account nor one of its subaccounts` };
  });
}

/** `--emulator` with fleet flags: the sample parent and three sample subaccounts (the third suspended), with the state a previous rehearsal left. */
async function startSampleFleet(settings: Settings): Promise<Emulator> {
  const { SAMPLE_SEED, sampleSubaccounts, startEmulator } = await import("../emulator/index.js");
  const saved = (sid: string) => loadEmulatorState(join(settings.reportsDir, "accounts", sid, "emulator-state.json"));
  const parentSaved = saved(SAMPLE_SEED.accountSid);
  const subaccounts = sampleSubaccounts(SAMPLE_SEED.accountSid, 3, [3]).map((s) => {
    const comms = saved(s.sid);
    return comms ? { ...s, seed: { ...s.seed, commsCredentials: comms } } : s;
  });
  return startEmulator({ port: 0, seed: parentSaved ? { ...SAMPLE_SEED, commsCredentials: parentSaved } : SAMPLE_SEED, subaccounts });
}
