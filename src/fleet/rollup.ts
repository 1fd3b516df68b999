/**
 * The fleet roll-up: `<reports-dir>/fleet-<command>-<UTC time>.json` and `.md`, one row per
 * selected account. A row is a few hundred bytes (never an account's plan), so the rows of even a
 * thousand accounts are kept until the end and written in selection order, in pieces.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { mdCell } from "../report/markdown.js";
import { writeFileAtomic } from "../report/atomic.js";
import { jsonPieces, reportStamp } from "../report/write.js";
import { TOOL_NAME, TOOL_VERSION } from "../version.js";
import type { FleetCommand } from "./options.js";

export const OUTCOMES = ["in-sync", "changes", "applied", "blocked", "failed", "drift", "unreachable", "no-mapping", "empty", "locked", "skipped", "interrupted"] as const;
export type Outcome = (typeof OUTCOMES)[number];

export interface FleetRow {
  accountSid: string;
  friendlyName: string | null;
  accountStatus: string;
  outcome: Outcome;
  exitCode: number;
  summary: Record<string, number>;
  /** Relative to the reports dir. */
  report?: string;
  problems: string[];
}

export interface RollUp {
  schemaVersion: 1;
  kind: "fleet";
  command: FleetCommand;
  generatedAt: string;
  parentAccountSid: string;
  tool: { name: string; version: string };
  summary: { accounts: number; outcomes: Partial<Record<Outcome, number>>; credentials: Record<string, number> };
  accounts: FleetRow[];
}

export function rollUp(command: FleetCommand, parentAccountSid: string, rows: readonly FleetRow[], now: Date): RollUp {
  const outcomes: Partial<Record<Outcome, number>> = {};
  const credentials: Record<string, number> = {};
  for (const r of rows) {
    outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
    for (const [k, n] of Object.entries(r.summary)) credentials[k] = (credentials[k] ?? 0) + n;
  }
  return {
    schemaVersion: 1,
    kind: "fleet",
    command,
    generatedAt: now.toISOString(),
    parentAccountSid,
    tool: { name: TOOL_NAME, version: TOOL_VERSION },
    summary: { accounts: rows.length, outcomes, credentials },
    accounts: [...rows],
  };
}

/** "3 create, 1 drop" */
export function countsText(counts: Record<string, number>): string {
  return Object.entries(counts).filter(([, n]) => n > 0).map(([k, n]) => `${n} ${k}`).join(", ") || "nothing";
}

/** The roll-up's Markdown: the per-account table first, then the totals. */
export function* rollUpMarkdown(r: RollUp): Generator<string> {
  yield `# cr2comms ${r.command} over ${r.summary.accounts} account(s)\n\n`;
  yield `Parent account ${r.parentAccountSid} · ${r.generatedAt} · ${r.tool.name} ${r.tool.version}\n\n`;
  yield "| Account | Name | Status | Outcome | Exit | Counts | Report | Problem |\n|---|---|---|---|---|---|---|---|\n";
  for (const a of r.accounts) {
    yield `| ${a.accountSid} | ${mdCell(a.friendlyName ?? "")} | ${mdCell(a.accountStatus)} | ${a.outcome} | ${a.exitCode} | ${mdCell(countsText(a.summary))} | ${a.report ? mdCell(a.report) : ""} | ${mdCell(a.problems.join("; "))} |\n`;
  }
  yield `\n## Totals\n\nOutcomes: ${countsText(r.summary.outcomes as Record<string, number>)}\n\nCredentials: ${countsText(r.summary.credentials)}\n`;
}

/** Writes the pair under a free name; returns their paths. */
export async function writeRollUp(dir: string, r: RollUp, now: Date): Promise<{ jsonPath: string; markdownPath: string }> {
  await mkdir(dir, { recursive: true });
  const base = `fleet-${r.command}-${reportStamp(now)}`;
  for (let n = 1; n <= 1000; n++) {
    const name = n === 1 ? base : `${base}-${n}`;
    const jsonPath = join(dir, `${name}.json`);
    const markdownPath = join(dir, `${name}.md`);
    try {
      await writeFileAtomic(jsonPath, () => jsonPieces(r), { overwrite: false });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST") continue;
      throw err;
    }
    await writeFileAtomic(markdownPath, () => rollUpMarkdown(r), { overwrite: true });
    return { jsonPath, markdownPath };
  }
  throw new Error(`could not find a free roll-up name for ${base} in ${dir}`);
}
