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
  const e = value as Partial<LedgerEvent> | null;
  const sidOk = (x: Partial<LedgerEvent>): boolean =>
    typeof x.event === "string" && (isAccountEvent({ event: x.event }) ? typeof (x as { appName?: unknown }).appName === "string" : typeof (x as { legacySid?: unknown }).legacySid === "string");
  if (typeof e !== "object" || e === null || Array.isArray(e) || v !== LEDGER_VERSION || typeof e.event !== "string" || !sidOk(e)) {
    return { line, text, problem: { kind: isUnterminatedLast ? "torn" : "malformed", reason: "not a cr2comms ledger event (v1)" } };
  }
  return { line, text, event: e as LedgerEvent };
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
