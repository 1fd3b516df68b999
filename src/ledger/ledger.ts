import { closeSync, constants, fstatSync, fsync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, readSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import type { SecretFingerprint } from "../domain.js";
import { LedgerReadError, LedgerWriteError, UsageError } from "../errors.js";
import { reportStamp } from "../report/write.js";
import { escapeControl } from "../text.js";
import { TOOL_VERSION } from "../version.js";
import { describeOsError, osCode } from "./oserror.js";
import { scanLedger, scanLine, type ScannedLine } from "./scan.js";
import { isAccountEvent, LEDGER_VERSION, REPLACED_REASON, type AccountEvent, type Ledger, type LedgerEntry, type LedgerEvent, type LedgerEventInput } from "./types.js";

/** An event that replay leaves out: applying it would undo what an event written after it recorded. */
export interface StaleEvent {
  /** Its index in the events replayed (file order). */
  index: number;
  reason: string;
}

/** Replays events, oldest first, into one entry per legacy sid. */
export function replay(events: readonly LedgerEvent[]): Map<string, LedgerEntry> {
  return replayLedger(events).entries;
}

/**
 * `replay`, also saying which events it left out as stale. Events are ordered by their place in the
 * file, never by their time stamps (a clock may have been wrong). A run holds the lock while it
 * appends, so each run's events are written together: an event of a run that ended before another
 * run's events began is a copy of an old line. Within a sid, an attempt's outcome counts only while
 * it is the sid's latest attempt and only once. A stale event changes nothing, except that a Comms id
 * it names stays known to the sid (`createdIds`): rollback and status still see it.
 */
export function replayLedger(events: readonly LedgerEvent[]): { entries: Map<string, LedgerEntry>; stale: StaleEvent[] } {
  const entries = new Map<string, LedgerEntry>();
  const stale: StaleEvent[] = [];
  const entryFor = (sid: string): LedgerEntry => {
    let entry = entries.get(sid);
    if (!entry) {
      entry = { legacySid: sid, state: "pending", createdIds: [], runIds: [] };
      entries.set(sid, entry);
    }
    return entry;
  };
  // What each attempt sent, so that the id it created is known by its fingerprint.
  const attemptSecrets = new Map<string, SecretFingerprint>();
  const runs = { current: undefined as string | undefined, ended: new Set<string>() };
  // Per sid: the attempts seen, and those already answered by an `accepted`.
  const attempts = new Map<string, Set<string>>();
  const answered = new Map<string, Set<string>>();
  const seen = (map: Map<string, Set<string>>, sid: string): Set<string> => {
    let set = map.get(sid);
    if (!set) map.set(sid, (set = new Set()));
    return set;
  };
  // Each line as written: a line equal to an earlier one, time stamp included, is a copy of it (what
  // tells a copy apart where lines name no run).
  const lines = new Set<string>();
  for (const [index, e] of events.entries()) {
    const why =
      staleRun(e, runs) ??
      (isAccountEvent(e) ? undefined : (staleForSid(e, entries.get(e.legacySid), seen(attempts, e.legacySid), seen(answered, e.legacySid)) ?? copyOf(e, lines)));
    if (why !== undefined) {
      stale.push({ index, reason: why });
      if (!isAccountEvent(e) && (e.event === "accepted" || e.event === "confirmed" || e.event === "unconfirmed" || e.event === "surfaced")) {
        const entry = entryFor(e.legacySid);
        if (!entry.createdIds.includes(e.commsCredentialId)) entry.createdIds.push(e.commsCredentialId);
      }
      continue;
    }
    if (!isAccountEvent(e) && (e.event === "attempt" || e.event === "accepted")) seen(e.event === "attempt" ? attempts : answered, e.legacySid).add(e.attemptId);
    // Account-level events (the default App) belong to no legacy sid.
    if (isAccountEvent(e)) continue;
    const entry = entryFor(e.legacySid);
    if (e.runId && !entry.runIds.includes(e.runId)) entry.runIds.push(e.runId);
    switch (e.event) {
      case "attempt":
        if (e.replaces) {
          // The old credential stays the sid's own (`commsCredentialId`, `secret`) until the new one is accepted.
          entry.replacing = {
            oldId: e.replaces,
            attemptId: e.attemptId,
            oldWasDefault: e.replacesDefault === true,
            ...(e.secret ? { secret: e.secret } : {}),
            oldState: entry.replacing?.oldId === e.replaces ? entry.replacing.oldState : entry.state === "pending" ? "confirmed" : entry.state,
          };
        } else {
          delete entry.replacing;
          entry.isDefault = e.isDefault;
          if (e.secret) entry.secret = e.secret;
        }
        entry.state = "pending";
        entry.appName = e.appName;
        entry.credentialType = e.credentialType;
        entry.lastAttempt = {
          attemptId: e.attemptId,
          startedAt: e.startedAt,
          appName: e.appName,
          credentialType: e.credentialType,
          ...(e.priorIds ? { priorIds: e.priorIds } : {}),
          ...(typeof e.serverStartedAt === "string" ? { serverStartedAt: e.serverStartedAt } : {}),
        };
        if (e.secret) attemptSecrets.set(e.attemptId, e.secret);
        break;
      case "accepted": {
        takeTarget(entry, e);
        entry.state = "accepted";
        entry.commsCredentialId = e.commsCredentialId;
        entry.acceptedAt = e.ts;
        if (e.resourceLocation) entry.resourceLocation = e.resourceLocation;
        if (!entry.createdIds.includes(e.commsCredentialId)) entry.createdIds.push(e.commsCredentialId);
        const sent = e.secret ?? attemptSecrets.get(e.attemptId);
        if (sent) entry.secretById = { ...entry.secretById, [e.commsCredentialId]: sent };
        if (entry.replacing?.attemptId === e.attemptId) {
          entry.replacing.newId = e.commsCredentialId;
          if (entry.replacing.secret) entry.secret = entry.replacing.secret;
          entry.isDefault = false;
        }
        break;
      }
      case "confirmed":
        takeTarget(entry, e);
        entry.state = "confirmed";
        entry.commsCredentialId = e.commsCredentialId;
        if (!entry.createdIds.includes(e.commsCredentialId)) entry.createdIds.push(e.commsCredentialId);
        if (e.secret) entry.secretById = { ...entry.secretById, [e.commsCredentialId]: e.secret };
        break;
      case "unconfirmed":
        entry.state = "unconfirmed";
        entry.commsCredentialId = e.commsCredentialId;
        if (!entry.createdIds.includes(e.commsCredentialId)) entry.createdIds.push(e.commsCredentialId);
        break;
      case "failed":
      case "abandoned":
        // What an abandoned attempt made may still appear: it stays known (see `reconcileLost`).
        if (e.event === "abandoned" && entry.lastAttempt?.attemptId === e.attemptId) (entry.abandonedAttempts ??= []).push({ ...entry.lastAttempt });
        // A failure after an accepted id keeps the id (it exists); a failed create leaves nothing.
        if (entry.state !== "pending") break;
        if (entry.replacing && !entry.replacing.newId && (e.attemptId === undefined || e.attemptId === entry.replacing.attemptId)) {
          // The replacement created nothing: the old credential is still the sid's own.
          entry.state = entry.replacing.oldState;
          delete entry.replacing;
        } else {
          entry.state = "failed";
        }
        break;
      case "resent":
        if (entry.lastAttempt?.attemptId === e.attemptId) entry.lastAttempt.lastSentAt = e.ts;
        break;
      case "unknown":
        if (entry.lastAttempt?.attemptId === e.attemptId) entry.lastAttempt.unknownAt = e.ts;
        break;
      case "surfaced":
        if (!entry.createdIds.includes(e.commsCredentialId)) entry.createdIds.push(e.commsCredentialId);
        break;
      case "default-set":
        entry.isDefault = e.isDefault;
        break;
      case "delete-accepted":
        if (!entry.pendingDeletes?.includes(e.commsCredentialId)) entry.pendingDeletes = [...(entry.pendingDeletes ?? []), e.commsCredentialId];
        break;
      case "deleted":
        if (entry.pendingDeletes?.includes(e.commsCredentialId)) {
          entry.pendingDeletes = entry.pendingDeletes.filter((id) => id !== e.commsCredentialId);
          if (entry.pendingDeletes.length === 0) delete entry.pendingDeletes;
        }
        if (entry.replacing?.oldId === e.commsCredentialId) {
          if (e.reason?.startsWith(REPLACED_REASON)) entry.replacedIds = [...(entry.replacedIds ?? []), e.commsCredentialId];
          delete entry.replacing;
        }
        if (entry.commsCredentialId === e.commsCredentialId) {
          entry.state = "deleted";
          delete entry.commsCredentialId;
          delete entry.resourceLocation;
        }
        break;
    }
  }
  return { entries, stale };
}

/** A run's events are written together (it holds the lock): one of a run that already ended is a copy. */
function staleRun(e: LedgerEvent, runs: { current: string | undefined; ended: Set<string> }): string | undefined {
  if (!e.runId || e.runId === runs.current) return undefined;
  if (runs.ended.has(e.runId)) return `written by run ${e.runId} after run ${runs.current} began (a run's events are written together): a copy of an earlier line`;
  if (runs.current) runs.ended.add(runs.current);
  runs.current = e.runId;
  return undefined;
}

/** An event equal to an earlier line, time stamp and all: a copy (ids never come back once gone, so a copied delete would show one pending again). */
function copyOf(e: LedgerEvent, lines: Set<string>): string | undefined {
  const text = JSON.stringify(e);
  if (lines.has(text)) return `repeats an earlier line of ${(e as { legacySid: string }).legacySid} exactly (its time stamp too): a copy`;
  lines.add(text);
  return undefined;
}

/** An attempt repeated, or an outcome for an attempt that a later one superseded or that was already accepted. */
function staleForSid(e: Exclude<LedgerEvent, AccountEvent>, entry: LedgerEntry | undefined, attempts: ReadonlySet<string>, answered: ReadonlySet<string>): string | undefined {
  const latest = entry?.lastAttempt?.attemptId;
  switch (e.event) {
    case "attempt":
      return attempts.has(e.attemptId) ? `repeats attempt ${e.attemptId} of ${e.legacySid}, recorded earlier` : undefined;
    case "accepted":
      if (attempts.has(e.attemptId) && e.attemptId !== latest) return `accepts attempt ${e.attemptId} of ${e.legacySid}, which the later attempt ${latest} superseded`;
      return answered.has(e.attemptId) ? `accepts attempt ${e.attemptId} of ${e.legacySid} again (already accepted earlier)` : undefined;
    case "failed":
    case "abandoned":
      if (e.attemptId !== undefined && attempts.has(e.attemptId) && e.attemptId !== latest) return `ends attempt ${e.attemptId} of ${e.legacySid}, which the later attempt ${latest} superseded`;
      return undefined;
    default:
      return undefined;
  }
}

/** The fingerprint the ledger recorded for one of the Comms credentials cr2comms created for a sid. */
export function recordedSecret(entry: LedgerEntry, id: string): SecretFingerprint | undefined {
  return entry.secretById?.[id] ?? (entry.commsCredentialId === id && !entry.replacing ? entry.secret : undefined);
}

/** A rebuilt event says where its credential is, as an attempt would have. */
function takeTarget(entry: LedgerEntry, e: Extract<LedgerEvent, { event: "accepted" | "confirmed" }>): void {
  if (e.appName !== undefined) entry.appName = e.appName;
  if (e.credentialType !== undefined) entry.credentialType = e.credentialType;
  if (e.isDefault !== undefined) entry.isDefault = e.isDefault;
  if (e.secret !== undefined) entry.secret = e.secret;
}

/** The ledger in memory: what tests use. */
export class MemoryLedger implements Ledger {
  readonly list: LedgerEvent[] = [];
  constructor(private readonly clock: () => Date = () => new Date()) {}
  async append(event: LedgerEventInput): Promise<void> {
    this.list.push({ v: 1, ts: this.clock().toISOString(), ...event } as LedgerEvent);
  }
  async events(): Promise<LedgerEvent[]> {
    return [...this.list];
  }
  async entries(): Promise<Map<string, LedgerEntry>> {
    return replay(this.list);
  }
}

/** The two system calls an append makes; tests pass doubles to force short or failing writes. */
export interface LedgerIo {
  /** As `fs.writeSync(fd, buffer, offset, length)`: returns the bytes written, which may be fewer. */
  write(fd: number, buffer: Buffer, offset: number, length: number): number;
  /** Flushes to disk; may return a promise (the real one runs on libuv's thread pool). */
  fsync(fd: number): void | Promise<void>;
}

const NODE_IO: LedgerIo = {
  write: (fd, buffer, offset, length) => writeSync(fd, buffer, offset, length),
  // Off the event loop: requests in flight keep being served while the disk flushes.
  fsync: (fd) => new Promise<void>((resolve, reject) => fsync(fd, (err) => (err ? reject(err) : resolve()))),
};

/** An event waiting for the group commit that makes it durable. */
interface Waiting {
  line: Buffer;
  resolve: () => void;
  reject: (err: unknown) => void;
}

const APPEND_FLAGS = constants.O_RDWR | constants.O_APPEND | constants.O_CREAT;
const NEWLINE = 0x0a;

/**
 * `reports/ledger.jsonl`: append-only JSON lines. Each append is written whole and fsync'd before
 * it resolves, so an event survives a crash (SIGKILL) that happens right after the step it records.
 * Appends are group-committed: while one write and fsync is under way, the events appended meanwhile
 * wait and then go out together, in order, with one fsync — so 16 requests in flight cost a few
 * fsyncs, not one each, and the event loop is never blocked on the disk.
 * Only the run holding the lock (`acquireLock`) appends; it calls `prepareForAppend` first.
 */
export class FileLedger implements Ledger {
  /** Known to end in a newline (or be empty): checked on the first append, kept by each whole append. */
  private tailWhole = false;
  private readonly io: LedgerIo;
  /** Events appended while a group is being written: the next group. */
  private waiting: Waiting[] = [];
  /** A group commit (or prepareForAppend) is under way: appends wait in `waiting`. */
  private committing = false;

  /**
   * With `accountSid`, every appended event is stamped with it and reading a ledger that holds
   * another account's events is refused: its Comms ids mean nothing in this account.
   */
  constructor(
    readonly path: string,
    private readonly clock: () => Date = () => new Date(),
    private readonly accountSid?: string,
    options: { io?: LedgerIo } = {},
  ) {
    this.io = options.io ?? NODE_IO;
  }

  /**
   * Called once by the lock holder before its first append: creates the folder and the file if
   * needed, and sets aside a torn last line (a write cut short by a crash) into
   * `<ledger>.torn-<UTC stamp>` so that the next event does not glue onto it. A last line that is a
   * whole event missing only its newline gets the newline. Returns warnings saying what was done.
   * Appends made meanwhile wait for it (it writes, fsyncs and may cut the file back, as a group does).
   */
  async prepareForAppend(): Promise<string[]> {
    if (this.committing) throw new Error("prepareForAppend is called before the first append, not while appends are under way");
    this.committing = true;
    try {
      return await this.prepareTail();
    } finally {
      this.committing = false;
      if (this.waiting.length > 0) void this.commitGroups();
    }
  }

  private async prepareTail(): Promise<string[]> {
    const fd = this.openForAppend();
    try {
      const size = fstatSync(fd).size;
      if (size === 0 || lastByte(fd, size) === NEWLINE) {
        this.tailWhole = true;
        return [];
      }
      const text = readFileSync(fd);
      const cut = text.lastIndexOf(NEWLINE) + 1;
      const fragment = text.subarray(cut);
      const line = text.subarray(0, cut).toString("utf8").split("\n").length;
      const scanned = scanLine(fragment.toString("utf8"), line, true);
      if (scanned.problem?.kind === "newer-version") throw newerVersionError(this.path, scanned);
      if (scanned.event) {
        await this.writeAll(fd, Buffer.from("\n"), size);
        this.tailWhole = true;
        return [`the last line of the ledger ${this.path} (line ${line}) is a whole event whose line end was never written; the line end was added`];
      }
      const tornPath = await this.setAside(fragment);
      try {
        ftruncateSync(fd, cut);
        await this.io.fsync(fd);
      } catch (err) {
        throw new LedgerWriteError(`cannot cut the torn last line off the ledger ${this.path}: ${describeOsError(err)}`, this.path, osCode(err), { cause: err });
      }
      this.tailWhole = true;
      return [
        `the ledger ${this.path} ended in an incomplete line ${line} (${fragment.length} bytes from a write cut short by a crash); it was moved to ${tornPath} and the ledger keeps its ${line - 1} complete line(s)`,
      ];
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Resolves once the event is on disk (written whole and fsync'd), together with any appended
   * meanwhile. `async` so that a failure to build the line (as any other) is a rejection, not a throw.
   */
  async append(event: LedgerEventInput): Promise<void> {
    const stamp = this.accountSid ? { accountSid: this.accountSid } : {};
    const line = Buffer.from(JSON.stringify({ v: LEDGER_VERSION, ts: this.clock().toISOString(), ...stamp, ...event }) + "\n", "utf8");
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ line, resolve, reject });
      if (!this.committing) void this.commitGroups();
    });
  }

  /** Writes the waiting events as one group after another until none wait. A failed group fails each of its events. */
  private async commitGroups(): Promise<void> {
    this.committing = true;
    process.on("exit", this.flushOnExit);
    while (this.waiting.length > 0) {
      const group = this.waiting;
      this.waiting = [];
      try {
        await this.writeGroup(Buffer.concat(group.map((w) => w.line)));
        for (const w of group) w.resolve();
      } catch (err) {
        for (const w of group) w.reject(err);
      }
    }
    process.off("exit", this.flushOnExit);
    this.committing = false;
  }

  /**
   * `process.exit` while events wait behind a group's fsync (a second Ctrl-C exits at once): they
   * are written and fsync'd now, synchronously, as every append was before group commit — an event
   * whose append was called is on disk when the process ends. Nothing can be reported any more: a
   * failure here leaves what a crash would, and the next run reconciles it.
   */
  private readonly flushOnExit = (): void => {
    const group = this.waiting;
    this.waiting = [];
    if (group.length === 0) return;
    let fd: number;
    try {
      fd = openSync(this.path, APPEND_FLAGS, 0o644);
    } catch {
      return;
    }
    try {
      const size = fstatSync(fd).size;
      if (!this.tailWhole && size > 0 && lastByte(fd, size) !== NEWLINE) return;
      writeBytes(this.io, fd, Buffer.concat(group.map((w) => w.line)));
      fsyncSync(fd);
    } catch {
      // Exiting: see above.
    } finally {
      closeSync(fd);
    }
  };

  private async writeGroup(lines: Buffer): Promise<void> {
    const fd = this.openForAppend();
    try {
      const size = fstatSync(fd).size;
      if (!this.tailWhole) {
        if (size > 0 && lastByte(fd, size) !== NEWLINE) {
          throw new LedgerWriteError(
            `the ledger ${this.path} ends in an incomplete line (a write cut short); appending would damage the next event — run \`cr2comms ledger repair\` first`,
            this.path,
            undefined,
          );
        }
        this.tailWhole = true;
      }
      await this.writeAll(fd, lines, size);
    } finally {
      closeSync(fd);
    }
  }

  async events(): Promise<LedgerEvent[]> {
    let text: string;
    try {
      text = readFileSync(this.path, "utf8");
    } catch (err) {
      if (osCode(err) === "ENOENT") return [];
      throw new LedgerReadError(`cannot read the ledger ${this.path}: ${describeOsError(err)}`, { cause: err });
    }
    const events = parseLedger(text, this.path);
    const other = this.accountSid ? events.find((e) => e.accountSid && e.accountSid !== this.accountSid) : undefined;
    if (other) {
      throw new UsageError(
        `the ledger ${this.path} belongs to account ${escapeControl(String(other.accountSid))}, not ${this.accountSid}: use a separate --ledger (or --reports-dir) per account`,
      );
    }
    return events;
  }

  async entries(): Promise<Map<string, LedgerEntry>> {
    return replay(await this.events());
  }

  private openForAppend(): number {
    try {
      mkdirSync(dirname(this.path), { recursive: true });
      return openSync(this.path, APPEND_FLAGS, 0o644);
    } catch (err) {
      throw new LedgerWriteError(`cannot open the ledger ${this.path} for appending: ${describeOsError(err)}`, this.path, osCode(err), { cause: err });
    }
  }

  /**
   * Writes every byte (a write may take fewer than asked) and fsyncs. On failure the file is cut
   * back to `sizeBefore`, so no fragment is left for the next append to glue onto.
   */
  private async writeAll(fd: number, bytes: Buffer, sizeBefore: number): Promise<void> {
    try {
      await writeFully(this.io, fd, bytes);
    } catch (err) {
      try {
        ftruncateSync(fd, sizeBefore);
        fsyncSync(fd);
      } catch {
        this.tailWhole = false;
      }
      throw new LedgerWriteError(`cannot append to the ledger ${this.path}: ${describeOsError(err)}`, this.path, osCode(err), { cause: err });
    }
  }

  /** Writes the fragment to a new `<ledger>.torn-<stamp>[-n]` file, flushed before the ledger is cut. */
  private async setAside(fragment: Buffer): Promise<string> {
    const base = `${this.path}.torn-${reportStamp(this.clock())}`;
    for (let n = 1; ; n++) {
      const candidate = n === 1 ? base : `${base}-${n}`;
      let fd: number;
      try {
        fd = openSync(candidate, "wx", 0o644);
      } catch (err) {
        if (osCode(err) === "EEXIST") continue;
        throw new LedgerWriteError(`cannot set the torn last line of ${this.path} aside in ${candidate}: ${describeOsError(err)}`, this.path, osCode(err), { cause: err });
      }
      try {
        await writeFully(NODE_IO, fd, fragment);
      } catch (err) {
        throw new LedgerWriteError(`cannot set the torn last line of ${this.path} aside in ${candidate}: ${describeOsError(err)}`, this.path, osCode(err), { cause: err });
      } finally {
        closeSync(fd);
      }
      return candidate;
    }
  }
}

/** Every byte (a write may take fewer than asked), then fsync. */
async function writeFully(io: LedgerIo, fd: number, bytes: Buffer): Promise<void> {
  writeBytes(io, fd, bytes);
  await io.fsync(fd);
}

/** Every byte: a write may take fewer than asked. */
function writeBytes(io: LedgerIo, fd: number, bytes: Buffer): void {
  let done = 0;
  while (done < bytes.length) {
    const n = io.write(fd, bytes, done, bytes.length - done);
    if (!(n > 0)) throw Object.assign(new Error("the write made no progress"), { code: "EIO" });
    done += n;
  }
}

function lastByte(fd: number, size: number): number {
  const one = Buffer.alloc(1);
  readSync(fd, one, 0, 1, size - 1);
  return one[0]!;
}

export const REPAIR_HINT = "run `cr2comms ledger repair` to set unreadable lines aside (every readable event is kept)";

function newerVersionError(path: string, line: ScannedLine): LedgerReadError {
  return new LedgerReadError(
    `ledger ${path}:${line.line}: written by a newer cr2comms (event version ${line.problem?.version}; cr2comms ${TOOL_VERSION} reads version ${LEDGER_VERSION}): use that newer cr2comms with this ledger`,
  );
}

/**
 * Parses JSON lines. A torn last line (no newline: a crash mid-write, or an append still in
 * progress) is ignored; any other unreadable line was damaged or edited by hand and is refused
 * rather than guessed at, naming the line and the repair command. Events of an unknown (newer)
 * version are refused wherever they are.
 */
export function parseLedger(text: string, path: string): LedgerEvent[] {
  const events: LedgerEvent[] = [];
  for (const line of scanLedger(text).lines) {
    if (line.event) {
      events.push(line.event);
      continue;
    }
    if (line.problem?.kind === "newer-version") throw newerVersionError(path, line);
    if (line.problem?.kind === "torn") continue;
    throw new LedgerReadError(`ledger ${path}:${line.line}: ${escapeControl(line.problem?.reason ?? "unreadable")}; ${REPAIR_HINT}`);
  }
  return events;
}
