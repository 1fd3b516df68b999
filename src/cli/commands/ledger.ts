import { ACCOUNT_SID_PATTERN } from "../../domain.js";
import { UsageError } from "../../errors.js";
import { acquireAccountLock, checkLedger, REPAIR_HINT, readRunReports, rebuildLedger, repairLedger, type LedgerCheck } from "../../ledger/index.js";
import { escapeControl } from "../../text.js";
import { resolveSettings, type GlobalArgs } from "../config.js";
import { print, printJson } from "../output.js";

export const LEDGER_ACTIONS = ["check", "repair", "rebuild"] as const;

export interface LedgerArgs extends GlobalArgs {
  /** One of `LEDGER_ACTIONS` (yargs checks it; anything else is a usage error here too). */
  action?: string;
  /** rebuild: replace a ledger that holds events (it is moved aside first). */
  force?: boolean;
}

/**
 * `cr2comms ledger check | repair | rebuild`: local files only, no Twilio credentials needed.
 * The account (`--account-sid` / TWILIO_ACCOUNT_SID), when given, scopes the check and the rebuild.
 */
export async function ledgerCommand(args: LedgerArgs, env: NodeJS.ProcessEnv = process.env, now: () => Date = () => new Date()): Promise<number> {
  const settings = resolveSettings(args, env);
  const accountSid = accountOf(args, env);
  const { ledgerPath, reportsDir, json } = settings;
  // Repair and rebuild write the ledger: they also hold the account's lock (repair: without the account
  // given, of each account the ledger's events name).
  const lockAccount = (command: string, sid: string, realLedger: string) =>
    acquireAccountLock({ command, stateDir: settings.stateDir, stateDirFrom: settings.stateDirFrom, accountSid: sid, origin: new URL(settings.commsUrl).origin, ledgerPath: realLedger });
  switch (args.action) {
    case "check": {
      const check = await checkLedger(ledgerPath, { ...(accountSid ? { accountSid } : {}), now: now() });
      if (check.events === 0 && check.problems.length === 0) await addLost(check, reportsDir, accountSid);
      if (json) printJson(check);
      else if (check.ok) print(`ledger ${ledgerPath} OK: ${check.events} events, ${check.credentials} credentials${check.exists ? "" : " (no ledger file yet)"}`);
      else {
        print(`ledger ${ledgerPath}: ${check.problems.length} problem(s)`);
        for (const p of check.problems) print(`  ${escapeControl(p.message)}`);
        const repairable = check.problems.some((p) => p.kind === "malformed" || p.kind === "torn");
        if (repairable && !check.problems.some((p) => p.kind === "newer-version")) print(REPAIR_HINT.replace(/^run/, "Run"));
      }
      return check.ok ? 0 : 1;
    }
    case "repair": {
      const result = await repairLedger(ledgerPath, { now, ...(accountSid ? { accountSid } : {}), lockAccount: (sid, real) => lockAccount("ledger repair", sid, real) });
      if (json) printJson({ ledger: ledgerPath, ...result });
      else {
        for (const w of result.warnings) print(`warning: ${w}`);
        if (result.moved.length === 0) print(`ledger ${ledgerPath}: nothing to repair (${result.kept} events)`);
        else {
          print(`ledger ${ledgerPath}: moved ${result.moved.length} unreadable line(s) to ${result.sidePath}; kept all ${result.kept} readable events in order`);
          for (const m of result.moved) print(`  line ${m.line}: ${m.kind} (${escapeControl(m.reason)})`);
        }
      }
      return 0;
    }
    case "rebuild": {
      const result = await rebuildLedger({ ledgerPath, reportsDir, ...(accountSid ? { accountSid } : {}), force: args.force ?? false, now, lockAccount: (sid, real) => lockAccount("ledger rebuild", sid, real) });
      if (json) printJson(result);
      else {
        for (const w of result.warnings) print(`warning: ${w}`);
        if (result.movedAside) print(`moved the old ledger to ${result.movedAside}`);
        print(`rebuilt the ledger ${ledgerPath} for ${result.accountSid}: ${result.events} events, ${result.credentials} credentials, from ${result.fromReports.length} report(s):`);
        for (const r of result.fromReports) print(`  ${r.path}: ${r.events} event(s)`);
        for (const s of result.skipped) print(`  skipped ${s.path}: ${s.reason}`);
      }
      return 0;
    }
    default:
      throw new UsageError(`ledger: the action must be one of ${LEDGER_ACTIONS.join(", ")}`);
  }
}

/** A missing or empty ledger beside apply reports that created credentials: it was lost. */
async function addLost(check: LedgerCheck, reportsDir: string, accountSid: string | undefined): Promise<void> {
  const { reports } = await readRunReports(reportsDir);
  const applied = reports.filter(
    (r) => r.kind === "apply" && (!accountSid || r.accountSid === accountSid) && r.items.some((i) => i.commsCredentialId && (i.status === "confirmed" || i.status === "accepted-unconfirmed")),
  );
  if (applied.length === 0) return;
  check.ok = false;
  check.problems.push({
    kind: "lost",
    message: `the ledger is ${check.exists ? "empty" : "missing"} but ${reportsDir} holds ${applied.length} apply report(s) that created credentials: run \`cr2comms ledger rebuild\` before any apply`,
  });
}

function accountOf(args: GlobalArgs, env: NodeJS.ProcessEnv): string | undefined {
  const raw = args.accountSid as string | string[] | undefined;
  const value = (Array.isArray(raw) ? raw.at(-1) : raw) || env.TWILIO_ACCOUNT_SID || undefined;
  if (value !== undefined && !ACCOUNT_SID_PATTERN.test(value)) {
    throw new UsageError(`the account SID must look like AC followed by 32 hex characters (got "${escapeControl(value.slice(0, 6))}…")`);
  }
  return value;
}
