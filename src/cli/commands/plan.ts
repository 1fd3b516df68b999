import { mkdir } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { DEFAULT_MAPPING_PATH, displayMappingPath } from "../../mapping/load.js";
import { serializePlanFile } from "../../plan/index.js";
import { PLAN_ACTIONS, hasChanges, isBlocked, summarize, type Plan } from "../../plan/types.js";
import { describeAccountAction } from "../../plan/account.js";
import { escapeControl } from "../../text.js";
import { messageLines, planMarkdownPieces, planReport, writeFileAtomic, writeReport } from "../../report/index.js";
import type { GlobalArgs, Settings } from "../config.js";
import { observeAndPlan } from "../pipeline.js";
import { formatCounts, print, printJson } from "../output.js";
import { openRuntime } from "../runtime.js";
import { isInteractive } from "../prompt.js";
import { reportResult } from "../account-run.js";

export interface PlanArgs extends GlobalArgs {
  out?: string;
  detailedExitcode?: boolean;
}

/** `cr2comms plan`: the dry run. Reads everything, writes a report, changes nothing in Twilio. */
export async function planCommand(args: PlanArgs, now: () => Date = () => new Date()): Promise<number> {
  const rt = await openRuntime(args);
  try {
    const { plan } = await observeAndPlan(rt, { now, interactive: isInteractive(), env: process.env });
    // Built once: for 10,000 credentials it is the largest thing the command holds.
    const report = planReport(plan);
    const paths = await writeReport(rt.settings.reportsDir, "plan", report, () => planMarkdownPieces(plan), now());
    let planFile: string | undefined;
    if (args.out) {
      planFile = resolve(args.out);
      await mkdir(dirname(planFile), { recursive: true });
      // Whole or not at all: a plan file cut short would be refused by apply --plan anyway, but never half-replaced.
      await writeFileAtomic(planFile, serializePlanFile(plan), { overwrite: true });
    }
    reportResult({ summary: report.summary, report: paths.jsonPath, problems: messageLines(plan).problems, changes: hasChanges(plan), blocked: isBlocked(plan), empty: plan.items.length === 0 });
    if (rt.settings.json) {
      printJson({ ...report, reportPaths: paths, ...(planFile ? { planFile } : {}) });
    } else {
      printPlanSummary(plan);
      print(`\nReport: ${paths.markdownPath}\n        ${paths.jsonPath}`);
      if (planFile) print(`Plan saved to ${planFile} (review the report, then apply exactly this plan with: ${applyCommand(planFile, args, rt.settings)})`);
    }
    if (isBlocked(plan)) return 1;
    if (args.detailedExitcode && hasChanges(plan)) return 2;
    return 0;
  } finally {
    await rt.close();
  }
}

export function printPlanSummary(plan: Plan): void {
  print(`Plan for ${plan.accountSid}: ${formatCounts(summarize(plan.items), PLAN_ACTIONS)}`);
  for (const a of plan.accountActions ?? []) print(`  account: ${escapeControl(describeAccountAction(a))}`);
  const { problems, warnings } = messageLines(plan);
  for (const p of problems) print(`  problem: ${p}`);
  for (const w of warnings.slice(0, 20)) print(`  warning: ${w}`);
  if (warnings.length > 20) print(`  … and ${warnings.length - 20} more warning(s) in the report`);
  if ((plan.accountProblems ?? []).length > 0) print("Problems whose fix changes other entries: apply writes nothing until they are fixed.");
  else if (isBlocked(plan)) print("Blocking problems found: fix them and run plan again (the other credentials are planned as shown).");
  else if (!hasChanges(plan)) print("Nothing to change: Comms already matches the mapping.");
}

/**
 * The `apply --plan` command that applies this saved plan: with the flags that decided what the
 * plan was computed from (apply computes a fresh plan the same way and refuses a stale one), so it
 * works as printed. Credentials and URLs set in the environment are left to the environment.
 */
export function applyCommand(planFile: string, args: PlanArgs, settings: Settings, cwd: string = process.cwd()): string {
  const path = (p: string) => shellWord(escapeControl(displayMappingPath(resolve(cwd, p), cwd)));
  const words = ["cr2comms", "apply", "--plan", path(planFile)];
  if (settings.emulator) words.push("--emulator");
  if (settings.mappingPath !== resolve(cwd, DEFAULT_MAPPING_PATH)) words.push("--mapping", path(settings.mappingPath));
  if (args.reportsDir) words.push("--reports-dir", path(settings.reportsDir));
  if (args.ledger) words.push("--ledger", path(settings.ledgerPath));
  if (args.commsApiVersion) words.push("--comms-api-version", settings.commsApiVersion);
  words.push("--yes");
  return words.join(" ");
}

/** A word as a POSIX shell reads it back, quoted only when it needs to be. */
function shellWord(text: string): string {
  return /^[\w./:@%+,=-]+$/.test(text) ? text : `'${text.replaceAll("'", "'\\''")}'`;
}
