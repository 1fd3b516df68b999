import { AsyncLocalStorage } from "node:async_hooks";
import { jsonPieces } from "../report/write.js";
import { escapeControl } from "../text.js";

/**
 * Where a command's results go: stdout, unless it runs as one account of a fleet, whose
 * per-account tables must not reach stdout (the fleet prints its own roll-up).
 */
const sink = new AsyncLocalStorage<(text: string) => void>();

/** Runs `f` with everything it prints sent to `write` instead of stdout. */
export function withOutput<T>(write: (text: string) => void, f: () => Promise<T>): Promise<T> {
  return sink.run(write, f);
}

const out = (text: string): void => {
  const write = sink.getStore();
  if (write) write(text);
  else process.stdout.write(text);
};

/** stdout carries results (tables or `--json`); logs go to stderr through pino. */
export function print(text: string): void {
  out(text.endsWith("\n") ? text : text + "\n");
}

/** Pretty JSON in pieces (`jsonPieces`): a large report is never one string. */
export function printJson(value: unknown): void {
  for (const piece of jsonPieces(value)) out(piece);
}

/** "3 create, 1 drop" in a stable order. */
export function formatCounts(counts: Record<string, number>, order: readonly string[] = []): string {
  const keys = [...order.filter((k) => counts[k]), ...Object.keys(counts).filter((k) => !order.includes(k)).sort()];
  return keys.map((k) => `${counts[k]} ${k}`).join(", ") || "nothing";
}

/**
 * A reader that stops early (`cr2comms inventory | head -1`) closes the pipe: later writes fail
 * with EPIPE. That is not the command's failure, so the output is dropped quietly and the command
 * finishes (an apply still journals and reports) with its own exit code.
 */
export function ignoreClosedStdout(stream: NodeJS.WritableStream): void {
  stream.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE" || err.code === "ERR_STREAM_DESTROYED") return;
    throw err;
  });
}

/** The terminal's width when stdout is one; undefined into a pipe or a file. */
export function terminalColumns(stream: { isTTY?: boolean; columns?: number } = process.stdout): number | undefined {
  return stream.isTTY && stream.columns ? stream.columns : undefined;
}

/** Help's width: the terminal's (at most 120, for reading), or 80 into a pipe. */
export function helpWidth(stream: { isTTY?: boolean; columns?: number } = process.stdout): number {
  return Math.min(120, terminalColumns(stream) ?? 80);
}

/**
 * `text` broken at spaces into lines of at most `width` columns, every line after the first
 * indented by `indent` spaces (a hanging indent, as help lays out a description). A word longer
 * than the room is left whole rather than cut.
 */
export function wrapText(text: string, width: number, indent = 0, first = ""): string {
  const room = Math.max(20, width - indent);
  const lines: string[] = [];
  let line = first;
  let start = first.length;
  for (const word of text.split(" ")) {
    if (line.length > start && line.length + 1 + word.length > (lines.length === 0 ? width : indent + room)) {
      lines.push(line.trimEnd());
      line = " ".repeat(indent);
      start = indent;
    }
    line += (line.length > start ? " " : "") + word;
  }
  lines.push(line.trimEnd());
  return lines.join("\n");
}

/** A table column and how it may give way to a narrow terminal. */
export interface FitColumn {
  header: string;
  /**
   * `sid`: shortened in the middle (`CR000000…000001`: both ends tell sids apart); `text`:
   * shortened at the end with `…`, or, as the last column, wrapped within it; `keep`: never shortened.
   */
  fit?: "sid" | "text" | "keep";
  /** Left out when nothing else fits, lowest first; never when undefined. */
  drop?: number;
}

const SID_MIN = 15;
const TEXT_MIN = 10;
const WRAP_MIN = 24;

/** `text` of at most `width` columns, its middle replaced by `…`. */
export function abbreviateMiddle(text: string, width: number): string {
  if (text.length <= width) return text;
  const keep = width - 1;
  return `${text.slice(0, Math.ceil(keep / 2))}…${text.slice(text.length - Math.floor(keep / 2))}`;
}

/**
 * A table (as `renderTable` lays it out) that fits `width` columns: sids are shortened in the
 * middle, text at the end (the last text column wraps within itself instead), then columns are
 * left out, as each column allows. Without a width (not a terminal) the table is whole. Returns
 * the headers of the columns left out, for a line saying where the whole data is.
 */
export function fitTable(columns: FitColumn[], rows: string[][], width: number | undefined): { text: string; dropped: string[] } {
  const cells = rows.map((r) => columns.map((_, c) => escapeControl(r[c] ?? "")));
  let shown = columns.map((_, c) => c);
  const dropped: string[] = [];
  const natural = (c: number) => Math.max(columns[c]!.header.length, ...cells.map((r) => r[c]!.length));
  const widths = columns.map((_, c) => natural(c));
  const total = () => shown.reduce((sum, c) => sum + widths[c]!, 0) + 2 * (shown.length - 1);
  const last = () => shown[shown.length - 1]!;
  const floor = (c: number) => {
    const col = columns[c]!;
    const min = col.fit === "sid" ? SID_MIN : col.fit === "text" ? (c === last() ? WRAP_MIN : TEXT_MIN) : widths[c]!;
    return Math.min(widths[c]!, Math.max(min, col.header.length));
  };
  if (width !== undefined) {
    for (;;) {
      let excess = total() - width;
      if (excess <= 0) break;
      // Shorten the columns that may give way, the widest by one column at a time (so the room is
      // shared out), then leave one out.
      for (;;) {
        const give = shown.filter((c) => widths[c]! > floor(c)).sort((a, b) => widths[b]! - widths[a]!);
        if (excess <= 0 || give.length === 0) break;
        widths[give[0]!]! -= 1;
        excess -= 1;
      }
      if (excess <= 0) break;
      const droppable = shown.filter((c) => columns[c]!.drop !== undefined).sort((a, b) => columns[a]!.drop! - columns[b]!.drop!);
      if (droppable.length === 0) break;
      dropped.push(columns[droppable[0]!]!.header);
      shown = shown.filter((c) => c !== droppable[0]);
      for (const c of shown) widths[c] = natural(c);
    }
  }
  const wrapLast = columns[last()]!.fit === "text";
  const cell = (text: string, c: number): string[] => {
    const w = widths[c]!;
    if (text.length <= w) return [text];
    if (columns[c]!.fit === "sid") return [abbreviateMiddle(text, w)];
    if (c === last() && wrapLast) return wrapText(text, w).split("\n").flatMap((l) => (l.length <= w ? [l] : chunk(l, w)));
    return [`${text.slice(0, w - 1)}…`];
  };
  const line = (parts: string[]) => parts.map((p, i) => (i === parts.length - 1 ? p : p.padEnd(widths[shown[i]!]!))).join("  ").trimEnd();
  const out = [line(shown.map((c) => columns[c]!.header)), shown.map((c) => "-".repeat(Math.max(widths[c]!, 1))).join("  ")];
  for (const r of cells) {
    const parts = shown.map((c) => cell(r[c]!, c));
    const height = Math.max(...parts.map((p) => p.length));
    for (let i = 0; i < height; i++) out.push(line(parts.map((p) => p[i] ?? "")));
  }
  return { text: out.join("\n"), dropped };
}

function chunk(text: string, width: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += width) out.push(text.slice(i, i + width));
  return out;
}

/** What to print under a table that left columns out. */
export function droppedNote(dropped: string[], width: number | undefined): string | undefined {
  return dropped.length ? `(left out to fit ${width} columns: ${dropped.join(", ")}; --json has every field)` : undefined;
}

/** A table fitted to the terminal (`fitTable`) on stdout, with a line naming any column left out. */
export function printTable(columns: FitColumn[], rows: string[][], width: number | undefined = terminalColumns()): void {
  const fitted = fitTable(columns, rows, width);
  print(fitted.text);
  const note = droppedNote(fitted.dropped, width);
  if (note) print(note);
}

/** A line of prose on stdout, wrapped at spaces to the terminal's width (whole into a pipe). */
export function printWrapped(text: string, width: number | undefined = terminalColumns()): void {
  print(width ? text.split("\n").map((l) => wrapText(l, width)).join("\n") : text);
}
