import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { randomUUID } from "node:crypto";
import confirm from "@inquirer/confirm";
import cliProgress from "cli-progress";
import { apply } from "../../apply/writer.js";
import type { AppliedItem, ApplyResult } from "../../apply/types.js";
import { BlockedError, UsageError } from "../../errors.js";
import { parsePlanFile } from "../../plan/index.js";
import { PLAN_ACTIONS, hasChanges, summarize } from "../../plan/types.js";
import { applyMarkdown, applyReport, writeReport } from "../../report/index.js";
import type { GlobalArgs } from "../config.js";
import { formatCounts, print, printJson } from "../output.js";
import { observeAndPlan } from "../pipeline.js";
import { openRuntime } from "../runtime.js";
import { printPlanSummary } from "./plan.js";

export interface ApplyArgs extends GlobalArgs {
  yes?: boolean;
  plan?: string;
}

/** `cr2comms apply`: carries out the plan, journals each step, writes an applied report. Safe to rerun. */
export async function applyCommand(args: ApplyArgs, now: () => Date = () => new Date()): Promise<number> {
  const interactive = Boolean(process.stdin.isTTY);
  if (!args.yes && !interactive) {
    throw new UsageError("apply changes Comms: pass --yes to confirm when stdin is not a terminal");
  }
  const savedPlan = args.plan ? parsePlanFile(readPlanText(args.plan), resolve(args.plan)) : undefined;
  const rt = await openRuntime(args);
  try {
    const { plan: fresh, secrets, snapshot } = await observeAndPlan(rt, { now, interactive, env: process.env });
    if (savedPlan && savedPlan.observedFingerprint !== fresh.observedFingerprint) {
      throw new BlockedError(
        `the saved plan ${args.plan} is stale: Twilio, the ledger, the mapping or the secrets changed since it was made (${savedPlan.generatedAt}); run plan again`,
      );
    }
    const plan = savedPlan ?? fresh;
    if (!rt.settings.json) printPlanSummary(plan);
    if (hasChanges(plan) && !args.yes) {
      const ok = await confirm({ message: `Apply these changes to Comms in ${plan.accountSid}?`, default: false }, { output: process.stderr });
      if (!ok) {
        print("Nothing applied.");
        return 1;
      }
    }

    const controller = new AbortController();
    let interrupts = 0;
    const onSigint = () => {
      interrupts++;
      if (interrupts > 1) process.exit(130);
      rt.logger.warn("interrupted: finishing requests in flight, then writing the report (Ctrl-C again to quit at once)");
      controller.abort();
    };
    process.on("SIGINT", onSigint);
    const progress = startProgress(plan.items.length, !rt.settings.json && Boolean(process.stderr.isTTY));
    let result: ApplyResult;
    try {
      result = await apply(plan, {
        comms: rt.comms,
        ledger: rt.ledger,
        existing: snapshot.comms,
        secrets,
        concurrency: rt.settings.concurrency,
        runId: randomUUID(),
        logger: rt.logger,
        now,
        signal: controller.signal,
        onItem: (item) => {
          progress?.increment();
          if (!progress) logItem(rt.logger, item);
        },
      });
    } finally {
      progress?.stop();
      process.off("SIGINT", onSigint);
    }
    const paths = await writeReport(rt.settings.reportsDir, "apply", applyReport(result), applyMarkdown(result), now());
    if (rt.settings.json) {
      printJson({ ...applyReport(result), reportPaths: paths });
    } else {
      print(`Applied: ${formatCounts(summarize(result.items.map((i) => ({ action: i.status }))), ["confirmed", "accepted-unconfirmed", "failed", "skipped", "planned"])}`);
      print(`Actions: ${formatCounts(summarize(result.items), PLAN_ACTIONS)}`);
      for (const item of result.items) if (item.status === "failed") print(`  failed ${item.legacySid}: ${item.error ?? ""}`);
      print(`\nReport: ${paths.markdownPath}\n        ${paths.jsonPath}\nLedger: ${rt.settings.ledgerPath}`);
    }
    if (result.interrupted) return 130;
    const unconfirmed = result.items.filter((i) => i.status === "accepted-unconfirmed").length;
    if (unconfirmed && !rt.settings.json) print(`${unconfirmed} change(s) accepted by Comms but not visible yet: rerun apply to confirm them (nothing is sent twice).`);
    const failed = result.items.some((i) => i.status === "failed") || result.problems.length > 0;
    return failed || unconfirmed > 0 ? 1 : 0;
  } finally {
    await rt.close();
  }
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
