import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { randomUUID } from "node:crypto";
import confirm from "@inquirer/confirm";
import cliProgress from "cli-progress";
import { apply, type WaitNotice } from "../../apply/writer.js";
import type { AppliedItem, ApplyResult } from "../../apply/types.js";
import { BlockedError, InterruptedError, UsageError } from "../../errors.js";
import { describeStaleness, parsePlanFile } from "../../plan/index.js";
import { PLAN_ACTIONS, hasChanges, summarize, type Plan } from "../../plan/types.js";
import { applyMarkdown, applyReport, writeReport } from "../../report/index.js";
import type { GlobalArgs } from "../config.js";
import { formatCounts, print, printJson } from "../output.js";
import { observeAndPlan } from "../pipeline.js";
import { openRuntime } from "../runtime.js";
import { holdLedger } from "../exclusive.js";
import { exitCodeFor, watchStopSignals } from "../signals.js";
import { printPlanSummary } from "./plan.js";

export interface ApplyArgs extends GlobalArgs {
  yes?: boolean;
  plan?: string;
  /** `--no-wait` sets it to false. */
  wait?: boolean;
}

/** `cr2comms apply`: carries out the plan, journals each step, writes an applied report. Safe to rerun. */
export async function applyCommand(args: ApplyArgs, now: () => Date = () => new Date()): Promise<number> {
  const interactive = Boolean(process.stdin.isTTY && process.stderr.isTTY);
  if (!args.yes && !interactive) {
    throw new UsageError("apply changes Comms: pass --yes to confirm when stdin is not a terminal");
  }
  const savedPlan = args.plan ? parsePlanFile(readPlanText(args.plan), resolve(args.plan)) : undefined;
  const rt = await openRuntime(args);
  // From here on a signal never kills the run silently: while reading, nothing has been written;
  // once writing, what is in flight is finished and journalled, then the report is written.
  let writing = false;
  let release: (() => Promise<void>) | undefined;
  const stop = watchStopSignals((signal) => {
    if (writing) rt.logger.warn(`${signal} received: finishing the requests in flight, then writing the report (press Ctrl-C again to quit at once)`);
  });
  try {
    release = await holdLedger(rt, "apply");
    const observing = observeAndPlan(rt, { now, interactive, env: process.env });
    observing.catch(() => undefined); // abandoned after a signal: its failure no longer matters
    const planned = await Promise.race([observing, stop.stopped]);
    if (typeof planned === "string") {
      throw new InterruptedError(`interrupted (${planned}) while reading the account; nothing was written to Comms`, exitCodeFor(planned));
    }
    const { plan: fresh, secrets, snapshot } = planned;
    if (savedPlan && savedPlan.observedFingerprint !== fresh.observedFingerprint) {
      const changed = describeStaleness(savedPlan, fresh);
      const what = changed.length ? changed.join("; ") : "Twilio, the ledger, the mapping or the secrets changed";
      throw new BlockedError(`the saved plan ${args.plan} is stale (made ${savedPlan.generatedAt}): ${what} since; run plan again and review it`);
    }
    const plan = savedPlan ?? fresh;
    if (!rt.settings.json) printPlanSummary(plan);
    const accountProblems = plan.accountProblems ?? [];
    if (accountProblems.length === 0 && hasChanges(plan) && !args.yes) {
      if (!(await confirmApply(plan))) {
        print("Nothing applied.");
        return 1;
      }
    }
    if (stop.received) throw new InterruptedError(`interrupted (${stop.received}) before anything was written to Comms`, exitCodeFor(stop.received));

    writing = true;
    const progress = startProgress(plan.items.filter((i) => i.action !== "drop" && i.action !== "unmapped" && i.action !== "skip").length, !rt.settings.json && Boolean(process.stderr.isTTY));
    let result: ApplyResult;
    try {
      result = await apply(plan, {
        comms: rt.comms,
        ledger: rt.ledger,
        existing: snapshot.comms,
        secrets,
        concurrency: rt.settings.concurrencyGiven ? rt.settings.concurrency : "adaptive",
        runId: randomUUID(),
        logger: rt.logger,
        now,
        signal: stop.signal,
        wait: args.wait !== false,
        ...(rt.settings.settleMs !== undefined ? { settleMs: rt.settings.settleMs } : {}),
        onWaiting: (w) => logWaiting(rt.logger, w),
        onItem: (item) => {
          if (item.action === "drop" || item.action === "unmapped" || item.action === "skip") return;
          progress?.increment();
          if (!progress) logItem(rt.logger, item);
        },
      });
    } finally {
      progress?.stop();
    }
    const paths = await writeReport(rt.settings.reportsDir, "apply", applyReport(result), applyMarkdown(result), now());
    const unconfirmed = result.items.filter((i) => i.status === "accepted-unconfirmed").length;
    if (rt.settings.json) {
      printJson({ ...applyReport(result), reportPaths: paths });
    } else {
      printApplySummary(result, accountProblems);
      print(`\nReport: ${paths.markdownPath}\n        ${paths.jsonPath}\nLedger: ${rt.settings.ledgerPath}`);
      if (unconfirmed) print(`${unconfirmed} change(s) accepted by Comms but not visible yet: rerun apply to confirm them (nothing is sent twice).`);
    }
    if (stop.received) return exitCodeFor(stop.received);
    const failed = result.items.some((i) => i.status === "failed") || result.problems.length > 0;
    return failed || unconfirmed > 0 ? 1 : 0;
  } finally {
    stop.dispose();
    await release?.();
    await rt.close();
  }
}

async function confirmApply(plan: Plan): Promise<boolean> {
  try {
    return await confirm({ message: `Apply these changes to Comms in ${plan.accountSid}?`, default: false }, { output: process.stderr });
  } catch (err) {
    if (err instanceof Error && err.name === "ExitPromptError") throw new InterruptedError("interrupted at the confirmation prompt; nothing was written to Comms");
    throw err;
  }
}

function printApplySummary(result: ApplyResult, accountProblems: readonly string[]): void {
  if (accountProblems.length > 0) {
    print("Nothing was written to Comms: the plan has problems whose fix changes other entries.");
    for (const p of accountProblems) print(`  problem: ${p}`);
    return;
  }
  const changed = result.items.filter((i) => i.action === "create" || i.action === "update-default");
  if (changed.length === 0 && result.problems.length === 0 && !result.items.some((i) => i.status === "failed")) {
    print("Nothing to change: Comms already matches the mapping.");
    return;
  }
  print(`Applied: ${formatCounts(summarize(changed.map((i) => ({ action: i.status }))), ["confirmed", "accepted-unconfirmed", "failed", "planned"])}`);
  print(`Actions: ${formatCounts(summarize(result.items), PLAN_ACTIONS)}`);
  for (const item of result.items) if (item.status === "failed") print(`  failed ${item.legacySid}: ${item.error ?? ""}`);
  for (const p of result.problems) if (p.startsWith("stopped: ")) print(`  ${p}`);
}

function readPlanText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw new UsageError(`cannot read the plan file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

function startProgress(total: number, enabled: boolean): cliProgress.SingleBar | undefined {
  if (!enabled || total === 0) return undefined;
  const bar = new cliProgress.SingleBar(
    { stream: process.stderr, format: "applying [{bar}] {value}/{total} credentials", hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0);
  return bar;
}

function logWaiting(logger: { warn: (o: object, m: string) => void }, w: WaitNotice): void {
  logger.warn(
    { sid: w.legacySid, appName: w.appName, credentialType: w.credentialType, until: w.until.toISOString() },
    `${w.legacySid}: ${w.reason}; waiting for it to appear in Comms until ${w.until.toISOString()}, then sending it again (--no-wait to stop instead)`,
  );
}

function logItem(logger: { info: (o: object, m: string) => void }, item: AppliedItem): void {
  logger.info(
    {
      sid: item.legacySid,
      action: item.action,
      status: item.status,
      ...(item.target ? { appName: item.target.appName, credentialType: item.target.credentialType } : {}),
      ...(item.commsCredentialId ? { commsCredentialId: item.commsCredentialId } : {}),
      ...(item.error ? { error: item.error } : {}),
    },
    `${item.legacySid} ${item.action} → ${item.status}`,
  );
}
