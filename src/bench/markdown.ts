/**
 * The benchmark's table as Markdown, and its place in docs/performance.md: `npm run bench` writes
 * the figures there itself, between two markers, so the page never carries a table typed by hand.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";

export interface BenchRow {
  scenario: string;
  concurrency: number | string;
  seconds: number;
  requests: number;
  retries: number;
  floorSeconds?: number;
  vsFloor?: number;
  speedup?: number;
}

export const TABLE_START = "<!-- bench-table:start -->";
export const TABLE_END = "<!-- bench-table:end -->";

const fixed = (n: number | undefined, small: number, big: number): string => (n === undefined ? "" : n.toFixed(n < 1 ? small : big));

/** A Markdown table, one row per scenario, in the order run. */
export function benchTable(rows: readonly BenchRow[]): string {
  const headers = ["scenario", "conc.", "seconds", "floor s", "× floor", "× faster than seq.", "requests", "retries"];
  const body = rows.map((r) => [r.scenario, String(r.concurrency), fixed(r.seconds, 3, 2), fixed(r.floorSeconds, 3, 2), r.vsFloor?.toFixed(2) ?? "", r.speedup?.toFixed(1) ?? "", String(r.requests), String(r.retries)]);
  const widths = headers.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => "| " + cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ") + " |";
  return [line(headers), "|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|", ...body.map(line)].join("\n");
}

/**
 * Replaces what stands between the markers of `page` with the run's table, how it was made and the
 * targets' verdicts. Returns false (and writes nothing) when the page or its markers are missing: an
 * installed package has no docs/.
 */
export function writeTableInto(page: string, run: { command: string; node: string; nodeStartSeconds: number; rows: readonly BenchRow[]; checks: readonly string[] }): boolean {
  if (!existsSync(page)) return false;
  const text = readFileSync(page, "utf8");
  const start = text.indexOf(TABLE_START);
  const end = text.indexOf(TABLE_END);
  if (start < 0 || end < start) return false;
  const block = [
    TABLE_START,
    `\`${run.command}\`, Node ${run.node}; \`node -e 0\` took ${run.nodeStartSeconds} s on this machine (it is in every floor).`,
    "",
    benchTable(run.rows),
    "",
    ...run.checks.map((c) => `- ${c}`),
    TABLE_END,
  ].join("\n");
  writeFileSync(page, text.slice(0, start) + block + text.slice(end + TABLE_END.length));
  return true;
}
