import { readFileSync } from "node:fs";
import { randomUUID } from "node:crypto";
import confirm from "@inquirer/confirm";
import { UsageError } from "../../errors.js";
import { applyMarkdown, applyReport, renderTable, writeReport } from "../../report/index.js";
import { planRollback, rollback } from "../../rollback/rollback.js";
import type { GlobalArgs } from "../config.js";
import { formatCounts, print, printJson } from "../output.js";
import { openRuntime } from "../runtime.js";

export interface RollbackArgs extends GlobalArgs {
  yes?: boolean;
  report?: string;
  allowAppDeletion?: boolean;
}

/** `cr2comms rollback`: deletes only what the ledger says cr2comms created. Exit 1 when it refused anything. */
export async function rollbackCommand(args: RollbackArgs, now: () => Date = () => new Date()): Promise<number> {
  const interactive = Boolean(process.stdin.isTTY);
  if (!args.yes && !interactive) throw new UsageError("rollback deletes Comms credentials: pass --yes to confirm when stdin is not a terminal");
  const onlyIds = args.report ? idsFromReport(args.report) : undefined;
  const rt = await openRuntime(args);
  try {
    const [entries, comms] = await Promise.all([rt.ledger.entries(), rt.comms.list()]);
    const plan = planRollback(entries, comms, { ...(onlyIds ? { onlyIds } : {}), allowAppDeletion: args.allowAppDeletion ?? false });
    if (!rt.settings.json) {
      print(`Rollback: ${plan.deletes.length} to delete, ${plan.refused.reduce((n, r) => n + r.candidates.length, 0)} refused, ${plan.gone.length} already gone`);
      if (plan.deletes.length) print(renderTable(["legacy sid", "comms id", "app", "type"], plan.deletes.map((d) => [d.legacySid, d.commsCredentialId, d.appName, d.credentialType])));
      for (const r of plan.refused) print(`  refused: App ${r.appName} would lose its last credential (and its device registrations); pass --allow-app-deletion to allow`);
      for (const w of plan.warnings) print(`  warning: ${w}`);
    }
    if (plan.deletes.length && !args.yes) {
      const ok = await confirm({ message: `Delete ${plan.deletes.length} Comms credential(s) in ${rt.credentials.accountSid}?`, default: false }, { output: process.stderr });
      if (!ok) {
        print("Nothing deleted.");
        return 1;
      }
    }
    const result = await rollback(plan, {
      comms: rt.comms,
      ledger: rt.ledger,
      concurrency: rt.settings.concurrency,
      runId: randomUUID(),
      accountSid: rt.credentials.accountSid,
      now,
      onItem: (i) => rt.logger.info({ sid: i.legacySid, commsCredentialId: i.commsCredentialId, status: i.status }, `${i.legacySid} delete → ${i.status}`),
    });
    const paths = await writeReport(rt.settings.reportsDir, "rollback", applyReport(result), applyMarkdown(result), now());
    if (rt.settings.json) printJson({ ...applyReport(result), reportPaths: paths });
    else {
      print(`Rolled back: ${formatCounts(countBy(result.items.map((i) => `${i.action}:${i.status}`)))}`);
      for (const p of result.problems) print(`  problem: ${p}`);
      print(`\nReport: ${paths.markdownPath}\n        ${paths.jsonPath}`);
    }
    const failed = result.items.some((i) => i.status === "failed");
    return failed || plan.refused.length > 0 ? 1 : 0;
  } finally {
    await rt.close();
  }
}

function countBy(keys: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of keys) out[k] = (out[k] ?? 0) + 1;
  return out;
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
      .filter((i) => i.commsCredentialId && (i.status === "confirmed" || i.status === "accepted-unconfirmed") && i.action === "create")
      .map((i) => i.commsCredentialId as string),
  );
}
