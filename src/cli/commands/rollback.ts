import { readFileSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { escapeControl } from "../../text.js";
import { InterruptedError, UsageError } from "../../errors.js";
import type { ApplyResult } from "../../apply/types.js";
import { holdLedger } from "../exclusive.js";
import { confirmOrInterrupt, isInteractive } from "../prompt.js";
import { atPrompt, exitCodeFor, watchStopSignals } from "../signals.js";
import { applyMarkdown, applyReport, renderTable, writeReport } from "../../report/index.js";
import { countAppRegistrations, describeAppDeletion, planRollback, registrationsNote, rollback } from "../../rollback/rollback.js";
import type { GlobalArgs } from "../config.js";
import { print, printJson } from "../output.js";
import { openRuntime } from "../runtime.js";
import { reportResult } from "../account-run.js";

export interface RollbackArgs extends GlobalArgs {
  yes?: boolean;
  report?: string;
  allowAppDeletion?: boolean;
}

/** `cr2comms rollback`: deletes only what the ledger says cr2comms created. Exit 1 when it refused anything. */
export async function rollbackCommand(args: RollbackArgs, now: () => Date = () => new Date()): Promise<number> {
  const interactive = isInteractive();
  if (!args.yes && !interactive) throw new UsageError("rollback deletes Comms credentials: pass --yes to confirm when stdin is not a terminal");
  const onlyIds = args.report ? idsFromReport(args.report) : undefined;
  const rt = await openRuntime(args);
  let writing = false;
  let release: (() => Promise<void>) | undefined;
  const stop = watchStopSignals((signal) => {
    if (writing) rt.logger.warn(`${signal} received: finishing the deletes in flight, then writing the report (press Ctrl-C again to quit at once)`);
  });
  try {
    release = await holdLedger(rt, "rollback");
    const observing = Promise.all([rt.ledger.entries(), rt.comms.list()]);
    observing.catch(() => undefined); // abandoned after a signal: its failure no longer matters
    const observed = await Promise.race([observing, stop.stopped]);
    if (typeof observed === "string") throw new InterruptedError(`interrupted (${observed}) while reading the account; nothing was deleted`, exitCodeFor(observed));
    const [entries, comms] = observed;
    // Before anything is deleted: how many device registrations go with each App that would be deleted.
    const plan = await countAppRegistrations(planRollback(entries, comms, { ...(onlyIds ? { onlyIds } : {}), allowAppDeletion: args.allowAppDeletion ?? false }), rt.comms);
    const appDeletions = (plan.appDeletions ?? []).map((d) => escapeControl(describeAppDeletion(d)));
    if (!rt.settings.json) {
      const refusedCount = plan.refused.reduce((n, r) => n + r.candidates.length, 0);
      print(`Rollback: ${plan.deletes.length} to delete, ${refusedCount} refused, ${plan.gone.length} already gone`);
      if (plan.deletes.length) print(renderTable(["legacy sid", "comms id", "app", "type"], plan.deletes.map((d) => [d.legacySid, d.commsCredentialId, d.appName, d.credentialType])));
      for (const r of plan.refused) print(`  refused: App ${r.appName} would lose its last credential${escapeControl(registrationsNote(r)) || " (and its device registrations)"}; pass --allow-app-deletion to allow`);
      for (const d of appDeletions) print(`  app deletion: this ${escapeControl(d)}`);
      for (const w of plan.warnings) print(`  warning: ${escapeControl(w)}`);
    }
    if (plan.deletes.length && !args.yes) {
      const cascade = appDeletions.length ? ` This ${appDeletions.join("; and ")}.` : "";
      const ok = await atPrompt(() => confirmOrInterrupt(`Delete ${plan.deletes.length} Comms credential(s) in ${rt.credentials.accountSid}?${cascade}`, { signal: stop.signal }), stop);
      if (!ok) {
        print("Nothing deleted.");
        return 1;
      }
    }
    if (stop.received) throw new InterruptedError(`interrupted (${stop.received}) before anything was deleted`, exitCodeFor(stop.received));
    writing = true;
    const result = await rollback(plan, {
      comms: rt.comms,
      ledger: rt.ledger,
      concurrency: rt.settings.concurrencyGiven ? rt.settings.concurrency : "adaptive",
      logger: rt.logger,
      runId: randomUUID(),
      accountSid: rt.credentials.accountSid,
      now,
      signal: stop.signal,
      onItem: (i) => rt.logger.info({ sid: i.legacySid, commsCredentialId: i.commsCredentialId, status: i.status }, `${i.legacySid} delete → ${i.status}`),
    });
    const paths = await writeReport(rt.settings.reportsDir, "rollback", applyReport(result), applyMarkdown(result), now());
    reportResult({
      summary: applyReport(result).summary,
      report: paths.jsonPath,
      problems: [...result.problems, ...result.items.filter((i) => i.status === "failed").map((i) => `${i.legacySid}: ${i.error ?? "failed"}`)],
      changes: result.items.some((i) => i.action === "delete" && i.status === "confirmed"),
      blocked: plan.refused.length > 0,
    });
    if (rt.settings.json) printJson({ ...applyReport(result), reportPaths: paths });
    else {
      print(rollbackSentence(result));
      for (const p of result.problems) if (!p.startsWith("refused to delete")) print(`  problem: ${escapeControl(p)}`);
      for (const i of result.items) if (i.status === "failed") print(`  failed ${i.legacySid} (${escapeControl(i.commsCredentialId ?? "")}): ${escapeControl(i.error ?? "")}`);
      print(`\nReport: ${paths.markdownPath}\n        ${paths.jsonPath}`);
    }
    if (stop.received) return exitCodeFor(stop.received);
    // A delete not seen gone is not done (as apply's unconfirmed create): the ledger still lists it.
    const failed = result.items.some((i) => i.status === "failed" || i.status === "accepted-unconfirmed") || result.problems.some((p) => p.startsWith("stopped: "));
    return failed || plan.refused.length > 0 ? 1 : 0;
  } finally {
    stop.dispose();
    await release?.();
    await rt.close();
  }
}

/** "Rolled back: 5 deleted, 2 refused (App a, App b would lose their last credential), 1 already gone." */
export function rollbackSentence(result: ApplyResult): string {
  const count = (action: string, status?: string) => result.items.filter((i) => i.action === action && (!status || i.status === status)).length;
  const parts: string[] = [];
  const deleted = count("delete", "confirmed");
  const pending = count("delete", "accepted-unconfirmed");
  const failedDeletes = count("delete", "failed");
  const notStarted = count("delete", "planned");
  parts.push(`${deleted} deleted`);
  if (pending) parts.push(`${pending} delete(s) accepted but not yet seen gone (rerun rollback to check them)`);
  if (failedDeletes) parts.push(`${failedDeletes} failed`);
  if (notStarted) parts.push(`${notStarted} not started`);
  const refusedApps = [...new Set(result.items.filter((i) => i.action === "refused").map((i) => i.target?.appName ?? ""))];
  if (refusedApps.length) {
    parts.push(`${count("refused")} refused (App ${refusedApps.join(", App ")} would lose ${refusedApps.length === 1 ? "its" : "their"} last credential; --allow-app-deletion allows it)`);
  }
  const gone = count("already-gone");
  if (gone) parts.push(`${gone} already gone`);
  return `Rolled back: ${parts.join(", ")}.`;
}

/** The Comms ids an apply report says were created (confirmed or accepted). */
function idsFromReport(path: string): Set<string> {
  let report: { kind?: string; items?: { commsCredentialId?: string; status?: string; action?: string }[] };
  try {
    report = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new UsageError(`cannot read the apply report ${path}: ${(err as Error).message}`);
  }
  if (report.kind !== "apply" || !Array.isArray(report.items)) throw new UsageError(`${path} is not a cr2comms apply report (JSON)`);
  return new Set(
    report.items
      .filter((i) => i.commsCredentialId && (i.status === "confirmed" || i.status === "accepted-unconfirmed") && (i.action === "create" || i.action === "replace"))
      .map((i) => i.commsCredentialId as string),
  );
}
