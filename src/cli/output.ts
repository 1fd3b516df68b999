import { AsyncLocalStorage } from "node:async_hooks";
import { jsonPieces } from "../report/write.js";

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
