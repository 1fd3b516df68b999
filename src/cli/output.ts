import { jsonPieces } from "../report/write.js";
/** stdout carries results (tables or `--json`); logs go to stderr through pino. */
export function print(text: string): void {
  process.stdout.write(text.endsWith("\n") ? text : text + "\n");
}

/** Pretty JSON in pieces (`jsonPieces`): a large report is never one string. */
export function printJson(value: unknown): void {
  for (const piece of jsonPieces(value)) process.stdout.write(piece);
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
