import { linesLength } from "./mermaid.js";

/**
 * A pull-request comment holds 65,536 characters; a report's Markdown stays at or under this, with
 * room to spare for what a CI step adds around it.
 */
export const MARKDOWN_BUDGET_CHARS = 60_000;

/** Sections with more rows than this are folded into `<details>`. */
export const OPEN_ROWS = 20;

/** One `## title` section whose rows may be folded and cut to fit. */
export interface FitSection {
  title: string;
  /** Lines always shown under the title (e.g. `None.` when there are no rows). */
  lead?: readonly string[];
  /** Lines shown before the rows whenever any are (a table's header). */
  head?: readonly string[];
  rows: readonly string[];
  /** What a row is, plural, for the fold and the "more" line: `warnings`, `credentials`. */
  noun: string;
}

export interface FitOptions {
  /** Characters the sections may take together, newlines included. */
  budget: number;
  /** Where the rest is, e.g. "the JSON report beside this file (same name, `.json`)". */
  restIn: string;
  openRows?: number;
}

export interface Fitted {
  lines: string[];
  /** Rows left out, over all sections. */
  omitted: number;
}

/** The most a "more" line takes: reserved in every section, so a cut never overruns the budget. */
const MORE_RESERVE = 240;

function moreLine(omitted: number, noun: string, restIn: string): string {
  return `*… ${omitted.toLocaleString("en-US")} more ${noun} not shown here: ${restIn} has them all.*`;
}

function frame(s: FitSection, rows: readonly string[], omitted: number, folded: boolean, restIn: string): string[] {
  const out = [`## ${s.title}`, ""];
  for (const l of s.lead ?? []) out.push(l);
  if ((s.lead ?? []).length) out.push("");
  if (rows.length === 0 && omitted === 0) return out;
  if (folded) out.push(`<details><summary>${(rows.length + omitted).toLocaleString("en-US")} ${s.noun}</summary>`, "");
  if (rows.length) {
    for (const l of s.head ?? []) out.push(l);
    for (const r of rows) out.push(r);
    out.push("");
  }
  if (omitted > 0) out.push(moreLine(omitted, s.noun, restIn), "");
  if (folded) out.push("</details>", "");
  return out;
}

/**
 * Renders the sections within `budget` characters: each keeps its title and lead; rows past
 * `openRows` are folded into `<details>`; the rows' share of the budget is split fairly (a section
 * needing less than an equal share gives the rest to the others), rows are kept in order, and a
 * section cut short ends with a line saying how many rows are left out and where they are.
 * Reusable for any report (plan, apply, status, a roll-up over many accounts).
 */
export function fitSections(sections: readonly FitSection[], opts: FitOptions): Fitted {
  const openRows = opts.openRows ?? OPEN_ROWS;
  const folded = sections.map((s) => s.rows.length > openRows);
  const fixed = sections.map((s, i) => linesLength(frame(s, [], 0, folded[i]!, opts.restIn)) + linesLength(s.head ?? []) + (s.rows.length ? MORE_RESERVE + 2 : 0));
  const need = sections.map((s) => linesLength(s.rows));
  // Even the titles may not all fit (a plan with hundreds of Apps): whole sections from the end go.
  const droppedNote = 2 * MORE_RESERVE;
  let shown = sections.length;
  let fixedTotal = 0;
  for (const f of fixed) fixedTotal += f;
  while (shown > 0 && fixedTotal + (shown < sections.length ? droppedNote : 0) > opts.budget) fixedTotal -= fixed[--shown]!;
  const remaining = opts.budget - fixedTotal - (shown < sections.length ? droppedNote : 0);
  const grant = waterFill(need.slice(0, shown), Math.max(0, remaining));

  const lines: string[] = [];
  let omitted = 0;
  sections.slice(0, shown).forEach((s, i) => {
    const kept: string[] = [];
    let used = 0;
    for (const r of s.rows) {
      if (used + r.length + 1 > grant[i]!) break;
      used += r.length + 1;
      kept.push(r);
    }
    const left = s.rows.length - kept.length;
    omitted += left;
    for (const l of frame(s, kept, left, folded[i]!, opts.restIn)) lines.push(l);
  });
  if (shown < sections.length) {
    let rows = 0;
    for (const s of sections.slice(shown)) rows += s.rows.length;
    omitted += rows;
    const n = sections.length - shown;
    lines.push(`*… ${n.toLocaleString("en-US")} more section(s) with ${rows.toLocaleString("en-US")} row(s) not shown here: ${opts.restIn} has them all.*`, "");
  }
  return { lines, omitted };
}

/** Splits `total` over the needs: whoever needs less than an equal share gets it all, the rest share what is left. */
export function waterFill(need: readonly number[], total: number): number[] {
  const grant = need.map(() => 0);
  let open = need.map((_, i) => i).filter((i) => need[i]! > 0);
  let left = total;
  while (open.length > 0) {
    const share = Math.floor(left / open.length);
    const small = open.filter((i) => need[i]! <= share);
    if (small.length === 0) {
      for (const i of open) grant[i] = share;
      break;
    }
    for (const i of small) {
      grant[i] = need[i]!;
      left -= need[i]!;
    }
    open = open.filter((i) => need[i]! > share);
  }
  return grant;
}
