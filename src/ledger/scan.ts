import { isAccountEvent, LEDGER_VERSION, type LedgerEvent } from "./types.js";

/** Why a ledger line cannot be read. */
export type LineProblemKind =
  /** Not a v1 ledger event: a hand edit, a glued or damaged line. */
  | "malformed"
  /** A last line without its newline that is not a whole event: a write interrupted by a crash. */
  | "torn"
  /** A whole event of a schema version this cr2comms does not know. */
  | "newer-version";

export interface ScannedLine {
  /** 1-based line number in the file. */
  line: number;
  text: string;
  event?: LedgerEvent;
  problem?: { kind: LineProblemKind; reason: string; version?: number };
}

export interface LedgerScan {
  /** Every non-blank line, in file order. */
  lines: ScannedLine[];
  /** The file does not end in a newline: its last line may be an append still in progress. */
  unterminated: boolean;
}

/** Reads one line as a ledger event, or says why it is not one. */
export function scanLine(text: string, line: number, isUnterminatedLast: boolean): ScannedLine {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { line, text, problem: { kind: isUnterminatedLast ? "torn" : "malformed", reason: (err as Error).message } };
  }
  const v = (value as { v?: unknown } | null)?.v;
  if (typeof v === "number" && v > LEDGER_VERSION) {
    return { line, text, problem: { kind: "newer-version", reason: `event version ${v}`, version: v } };
  }
  // Only a JSON object can carry `v: 1` (null, numbers, strings and arrays have no `v`).
  const e = value as { event?: unknown; appName?: unknown; legacySid?: unknown };
  const named = typeof e?.event === "string" && typeof (isAccountEvent({ event: e.event }) ? e.appName : e.legacySid) === "string";
  if (v !== LEDGER_VERSION || !named) {
    return { line, text, problem: { kind: isUnterminatedLast ? "torn" : "malformed", reason: "not a cr2comms ledger event (v1)" } };
  }
  return { line, text, event: value as LedgerEvent };
}

/** Classifies every line of a ledger file. Pure; never throws. */
export function scanLedger(text: string): LedgerScan {
  const parts = text.split("\n");
  const unterminated = !text.endsWith("\n") && text.length > 0;
  const lastIndex = parts.length - 1;
  const lines: ScannedLine[] = [];
  parts.forEach((part, i) => {
    if (part.trim() === "") return;
    lines.push(scanLine(part, i + 1, unterminated && i === lastIndex));
  });
  return { lines, unterminated };
}
