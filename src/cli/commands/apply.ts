import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { randomUUID } from "node:crypto";
import { apply, type WaitNotice } from "../../apply/writer.js";
import type { AppliedItem, ApplyResult } from "../../apply/types.js";
import { LEGACY_SID_PATTERN } from "../../domain.js";
import { BlockedError, InterruptedError, UsageError } from "../../errors.js";
import { escapeControl } from "../../text.js";
import { describeStaleness } from "../../plan/index.js";
import { PLAN_ACTIONS, hasChanges, summarize, type Plan } from "../../plan/types.js";
import { describeAccountAction } from "../../plan/account.js";
import { applyMarkdown, applyReport, writeReport } from "../../report/index.js";
import type { GlobalArgs } from "../config.js";
import { formatCounts, print, printJson } from "../output.js";
import { observeAndPlan } from "../pipeline.js";
import { openRuntime } from "../runtime.js";
import { holdLedger } from "../exclusive.js";
import { startProgress } from "../progress.js";
import { confirmOrInterrupt, isInteractive } from "../prompt.js";
import { atPrompt, exitCodeFor, watchStopSignals } from "../signals.js";
import { printPlanSummary } from "./plan.js";
import { reportResult } from "../account-run.js";

export interface ApplyArgs extends GlobalArgs {
  yes?: boolean;
  plan?: string;
  /** `--no-wait` sets it to false. */
  wait?: boolean;
  /** `--replace <sid>` (repeatable): force a replacement of these migrated credentials. */
  replace?: string | string[];
}

/** The `--replace` sids, checked: each must look like a legacy sid. */
export function replaceSids(value: string | string[] | undefined): Set<string> {
  const sids = new Set<string>();
  for (const raw of Array.isArray(value) ? value : value === undefined ? [] : [value]) {
    for (const part of String(raw).split(",")) {
      const sid = part.trim();
      if (!LEGACY_SID_PATTERN.test(sid)) throw new UsageError(`--replace: ${JSON.stringify(escapeControl(sid.slice(0, 80)))} is not a legacy credential sid (CR + 32 hex digits)`);
      sids.add(sid);
    }
  }
  return sids;
}

/** `cr2comms apply`: carries out the plan, journals each step, writes an applied report. Safe to rerun. */
export async function applyCommand(args: ApplyArgs, now: () => Date = () => new Date()): Promise<number> {
  const interactive = isInteractive();
  if (!args.yes && !interactive) {
    throw new UsageError("apply changes Comms: pass --yes to confirm when stdin is not a terminal");
  }
  const forced = replaceSids(args.replace);
  if (forced.size > 0 && args.plan) throw new UsageError("--replace cannot be combined with --plan: a saved plan is applied exactly as it was made");
  const savedPlan = args.plan ? (await import("../../plan/planfile-read.js")).parsePlanFile(readPlanText(args.plan), resolve(args.plan)) : undefined;
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
    const observing = observeAndPlan(rt, { now, interactive, env: process.env, ...(forced.size ? { replace: forced } : {}) });
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
      if (!(await atPrompt(() => confirmApply(plan, stop.signal), stop))) {
        print("Nothing applied.");
        return 1;
      }
    }
    if (stop.received) throw new InterruptedError(`interrupted (${stop.received}) before anything was written to Comms`, exitCodeFor(stop.received));

    writing = true;
    const shown = plan.items.filter((i) => i.action !== "drop" && i.action !== "unmapped" && i.action !== "skip").length;
    const progress = shown > 0 && !rt.settings.json && process.stderr.isTTY ? startProgress(shown, { enabled: true, label: "applying" }) : undefined;
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
        settleMs: rt.settings.settleMs,
        clockSkewMs: rt.settings.clockSkewMs,
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
    reportResult({
      summary: applyReport(result).summary,
      report: paths.jsonPath,
      problems: [...accountProblems, ...result.problems, ...result.items.filter((i) => i.status === "failed").map((i) => `${i.legacySid}: ${i.error ?? "failed"}`)],
      changes: result.items.some((i) => i.status === "confirmed" && (i.action === "create" || i.action === "update-default" || i.action === "replace")) || (result.accountActions ?? []).length > 0,
      blocked: accountProblems.length > 0 || result.items.some((i) => i.action === "blocked"),
    });
    if (rt.settings.json) {
      printJson({ ...applyReport(result), reportPaths: paths });
    } else {
      printApplySummary(result, accountProblems);
      print(`\nReport: ${paths.markdownPath}\n        ${paths.jsonPath}\nLedger: ${rt.settings.ledgerPath}`);
      if (unconfirmed) print(`${unconfirmed} change(s) accepted by Comms but not visible yet: rerun apply to confirm them (nothing is sent twice).`);
    }
    if (stop.received) return exitCodeFor(stop.received);
    const failed = result.items.some((i) => i.status === "failed") || result.problems.length > 0 || (result.accountActions ?? []).some((a) => a.status === "failed" || a.status === "accepted-unconfirmed");
    return failed || unconfirmed > 0 ? 1 : 0;
  } finally {
    stop.dispose();
    await release?.();
    await rt.close();
  }
}

function confirmApply(plan: Plan, signal: AbortSignal): Promise<boolean> {
  return confirmOrInterrupt(`Apply these changes to Comms in ${plan.accountSid}?`, { signal });
}

function printApplySummary(result: ApplyResult, accountProblems: readonly string[]): void {
  if (accountProblems.length > 0) {
    print("Nothing was written to Comms: the plan has problems whose fix changes other entries.");
    for (const p of accountProblems) print(`  problem: ${escapeControl(p)}`);
    return;
  }
  const changed = result.items.filter((i) => i.action === "create" || i.action === "update-default" || i.action === "replace");
  for (const a of result.accountActions ?? []) print(`Account: ${escapeControl(describeAccountAction(a))} → ${a.status}${a.error ? `: ${escapeControl(a.error)}` : ""}`);
  // A no-op: the plan summary above already said "Nothing to change"; no "Applied: …" line.
  if (changed.length === 0 && !result.accountActions?.length && result.problems.length === 0 && !result.items.some((i) => i.status === "failed")) return;
  print(`Applied: ${formatCounts(summarize(changed.map((i) => ({ action: i.status }))), ["confirmed", "accepted-unconfirmed", "failed", "planned"])}`);
  print(`Actions: ${formatCounts(summarize(result.items), PLAN_ACTIONS)}`);
  for (const item of result.items) if (item.status === "failed") print(`  failed ${item.legacySid}: ${escapeControl(item.error ?? "")}`);
  for (const p of result.problems) if (p.startsWith("stopped: ")) print(`  ${escapeControl(p)}`);
}

function readPlanText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file (save one with `cr2comms plan --out <file>`)" : code === "EISDIR" ? "it is a folder" : code === "EACCES" ? "permission denied" : (code ?? (err as Error).message);
    throw new UsageError(`cannot read the plan file ${escapeControl(path)}: ${why}`);
  }
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
