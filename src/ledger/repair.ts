import { readFile } from "node:fs/promises";
import { LedgerReadError, LedgerWriteError } from "../errors.js";
import { writeFileAtomic } from "../report/atomic.js";
import { reportStamp } from "../report/write.js";
import { escapeControl } from "../text.js";
import { TOOL_VERSION } from "../version.js";
import { RECONCILE_CLOCK_SKEW_MS } from "../limits.js";
import { replayLedger } from "./ledger.js";
import { acquireLock, type HeldLock } from "./lock.js";
import { describeOsError, osCode } from "./oserror.js";
import { scanLedger, type LineProblemKind } from "./scan.js";
import { LEDGER_VERSION, type LedgerEvent } from "./types.js";

export interface LedgerProblem {
  /**
   * `lost`: the ledger is missing or empty but apply reports say credentials were created.
   * `stale`: an event replay leaves out, because it would undo what a later line recorded (a copy of an old line).
   * `future`: an event stamped later than now by more than the clock-skew allowance (written while a clock was ahead).
   */
  kind: LineProblemKind | "other-account" | "several-accounts" | "unreadable-file" | "lost" | "stale" | "future";
  /** 1-based line, for line problems. */
  line?: number;
  message: string;
}

/** What `cr2comms ledger check` found. `ok` when every line is a readable v1 event of one account. */
export interface LedgerCheck {
  path: string;
  exists: boolean;
  ok: boolean;
  /** Readable events. */
  events: number;
  /** Legacy sids whose Comms credential the ledger currently knows. */
  credentials: number;
  /** Accounts the events are stamped with. */
  accounts: string[];
  problems: LedgerProblem[];
}

const PROBLEM_TEXT: Record<LineProblemKind, string> = {
  malformed: "not a readable ledger event",
  torn: "incomplete last line (a write cut short by a crash, or an append still in progress)",
  "newer-version": "written by a newer cr2comms",
};

/**
 * Reads every line of the ledger and says what is wrong; never modifies it and takes no lock.
 * `now` (default: the clock) and `skewMs` (default `RECONCILE_CLOCK_SKEW_MS`) judge events from the future.
 */
export async function checkLedger(path: string, opts: { accountSid?: string; now?: Date; skewMs?: number } = {}): Promise<LedgerCheck> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if (osCode(err) === "ENOENT") return { path, exists: false, ok: true, events: 0, credentials: 0, accounts: [], problems: [] };
    const problems: LedgerProblem[] = [{ kind: "unreadable-file", message: `cannot read ${path}: ${describeOsError(err)}` }];
    return { path, exists: true, ok: false, events: 0, credentials: 0, accounts: [], problems };
  }
  const scan = scanLedger(text);
  const events: LedgerEvent[] = [];
  /** The file line of each event. */
  const lineOf: number[] = [];
  const problems: LedgerProblem[] = [];
  for (const l of scan.lines) {
    if (l.event) {
      events.push(l.event);
      lineOf.push(l.line);
    } else if (l.problem) {
      const why = l.problem.kind === "newer-version" ? `${PROBLEM_TEXT[l.problem.kind]} (${l.problem.reason}; this is cr2comms ${TOOL_VERSION}, which reads version ${LEDGER_VERSION})` : `${PROBLEM_TEXT[l.problem.kind]}: ${l.problem.reason}`;
      problems.push({ kind: l.problem.kind, line: l.line, message: `line ${l.line}: ${why}` });
    }
  }
  const byAccount = new Map<string, number>();
  for (const e of events) if (e.accountSid) byAccount.set(e.accountSid, (byAccount.get(e.accountSid) ?? 0) + 1);
  const accounts = [...byAccount.keys()];
  const others = opts.accountSid ? accounts.filter((a) => a !== opts.accountSid) : [];
  if (others.length) {
    problems.push({ kind: "other-account", message: `events of other accounts than ${opts.accountSid}: ${others.map((a) => `${a} (${byAccount.get(a)})`).join(", ")}` });
  } else if (!opts.accountSid && accounts.length > 1) {
    problems.push({ kind: "several-accounts", message: `events of several accounts: ${accounts.map((a) => `${a} (${byAccount.get(a)})`).join(", ")}` });
  }
  const { entries, stale } = replayLedger(events);
  for (const st of stale) {
    const line = lineOf[st.index]!;
    problems.push({ kind: "stale", line, message: `line ${line}: ${escapeControl(st.reason)}; replay leaves it out (it would undo what later lines recorded)` });
  }
  const now = (opts.now ?? new Date()).getTime();
  const skewMs = opts.skewMs ?? RECONCILE_CLOCK_SKEW_MS;
  for (const [i, e] of events.entries()) {
    const at = Date.parse(e.ts);
    if (!(at > now + skewMs)) continue;
    const line = lineOf[i]!;
    problems.push({
      kind: "future",
      line,
      message: `line ${line}: stamped ${escapeControl(e.ts)}, ${describeAhead(at - now)} ahead of this machine's clock (${new Date(now).toISOString()}; clocks may differ by ${skewMs / 1000} s): written while a clock was ahead — check the clock of the machine that ran it`,
    });
  }
  problems.sort((a, b) => (a.line ?? Number.MAX_SAFE_INTEGER) - (b.line ?? Number.MAX_SAFE_INTEGER));
  const credentials = [...entries.values()].filter((e) => e.commsCredentialId !== undefined).length;
  return { path, exists: true, ok: problems.length === 0, events: events.length, credentials, accounts, problems };
}

/** "3 h 20 min", "45 s": how far ahead. */
function describeAhead(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const min = Math.round(s / 60);
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  return h < 48 ? `${h} h${min % 60 ? ` ${min % 60} min` : ""}` : `${Math.round(h / 24)} days`;
}

export interface RepairResult {
  /** The lines moved out of the ledger, with why. */
  moved: { line: number; kind: LineProblemKind; reason: string }[];
  /** `<ledger>.unreadable-<stamp>`: one JSON line per moved line `{line, kind, reason, text}`. */
  sidePath?: string;
  /** Readable events kept, in their order. */
  kept: number;
  /** From taking the lock (e.g. a stale lock taken over). */
  warnings: string[];
}

/**
 * `cr2comms ledger repair`: under the lock, moves every unreadable line (malformed, torn) into
 * `<ledger>.unreadable-<stamp>` and rewrites the ledger atomically with every readable event, in
 * order and byte for byte. Refuses a ledger holding events of a newer cr2comms (it cannot judge them).
 */
export async function repairLedger(
  path: string,
  opts: {
    now?: () => Date;
    /** The account the ledger is for; without it, every account its readable events are stamped with. */
    accountSid?: string;
    /** Takes an account's lock (see `acquireAccountLock`); `ledgerPath` is the real path. */
    lockAccount?: (accountSid: string, ledgerPath: string) => Promise<HeldLock>;
  } = {},
): Promise<RepairResult> {
  const now = opts.now ?? (() => new Date());
  const lock = await acquireLock(path, { command: "ledger repair", now });
  const accountLocks: HeldLock[] = [];
  try {
    const read = async (): Promise<string | undefined> => {
      try {
        return await readFile(path, "utf8");
      } catch (err) {
        if (osCode(err) === "ENOENT") return undefined;
        throw new LedgerReadError(`cannot read the ledger ${path}: ${describeOsError(err)}`, { cause: err });
      }
    };
    // Another path of this ledger (a hard link) has another ledger lock: the account's lock is what
    // keeps a run of the account from appending while the ledger is rewritten. Read again once held.
    let text = await read();
    if (opts.lockAccount) {
      const accounts = opts.accountSid ? [opts.accountSid] : stampedAccounts(text ?? "");
      for (const sid of accounts) accountLocks.push(await opts.lockAccount(sid, lock.ledgerPath));
      if (accounts.length) text = await read();
    }
    const warnings = [...lock.warnings, ...accountLocks.flatMap((l) => l.warnings)];
    if (text === undefined) return { moved: [], kept: 0, warnings };
    const scan = scanLedger(text);
    const newer = scan.lines.find((l) => l.problem?.kind === "newer-version");
    if (newer) {
      throw new LedgerReadError(
        `ledger ${path}:${newer.line}: written by a newer cr2comms (${newer.problem!.reason}); this cr2comms ${TOOL_VERSION} cannot judge it and repairs nothing — use that newer cr2comms`,
      );
    }
    const bad = scan.lines.filter((l) => l.problem);
    const good = scan.lines.filter((l) => l.event);
    if (bad.length === 0 && !scan.unterminated) return { moved: [], kept: good.length, warnings };

    let sidePath: string | undefined;
    if (bad.length) {
      const side = bad.map((l) => JSON.stringify({ line: l.line, kind: l.problem!.kind, reason: l.problem!.reason, text: l.text })).join("\n") + "\n";
      sidePath = await writeAside(`${path}.unreadable-${reportStamp(now())}`, side);
    }
    try {
      await writeFileAtomic(path, good.map((l) => `${l.text}\n`).join(""), { overwrite: true });
    } catch (err) {
      throw new LedgerWriteError(`cannot rewrite the ledger ${path}: ${describeOsError(err)}`, path, osCode(err), { cause: err });
    }
    return {
      moved: bad.map((l) => ({ line: l.line, kind: l.problem!.kind as LineProblemKind, reason: l.problem!.reason })),
      ...(sidePath ? { sidePath } : {}),
      kept: good.length,
      warnings,
    };
  } finally {
    for (const l of accountLocks.reverse()) await l.release();
    await lock.release();
  }
}

/** The accounts a ledger's readable events are stamped with, sorted. */
function stampedAccounts(text: string): string[] {
  const sids = new Set<string>();
  for (const l of scanLedger(text).lines) if (typeof l.event?.accountSid === "string") sids.add(l.event.accountSid);
  return [...sids].sort();
}

/** Writes a new file `base` (or `base-2`, …), never replacing one; returns its path. */
export async function writeAside(base: string, text: string): Promise<string> {
  for (let n = 1; ; n++) {
    const candidate = n === 1 ? base : `${base}-${n}`;
    try {
      await writeFileAtomic(candidate, text, { overwrite: false });
      return candidate;
    } catch (err) {
      if (osCode(err) === "EEXIST") continue;
      throw new LedgerWriteError(`cannot write ${candidate}: ${describeOsError(err)}`, candidate, osCode(err), { cause: err });
    }
  }
}
