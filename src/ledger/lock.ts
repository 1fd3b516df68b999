import { createHash, randomBytes } from "node:crypto";
import { mkdir, open, readFile, unlink } from "node:fs/promises";
import { hostname } from "node:os";
import { dirname } from "node:path";
import { LockedError, NotWritableError } from "../errors.js";
import { writeFileAtomic } from "../report/atomic.js";
import { escapeControl } from "../text.js";
import { describeOsError, osCode } from "./oserror.js";

/** What `<ledger>.lock` holds: who runs, where, since when. `id` tells two runs of one pid apart. */
export interface LockInfo {
  pid: number;
  host: string;
  command: string;
  startedAt: string;
  id: string;
}

export interface LockOptions {
  /** The command taking the lock, named in the message a second run gets (`apply`, `ledger repair`, …). */
  command: string;
  now?: () => Date;
  host?: string;
  pid?: number;
  /** Whether a process of this host still runs; default `process.kill(pid, 0)` (ESRCH = gone). */
  isAlive?: (pid: number) => boolean;
  /** Test seam: awaited at each step of a takeover, so a test can force two runs to interleave. */
  pause?: (step: "stale-seen" | "claimed") => Promise<void>;
}

export interface HeldLock {
  path: string;
  /** Removes the lock file if it is still ours (never another run's). Safe to call twice. */
  release(): Promise<void>;
  /** E.g. that a stale lock left by a dead process was taken over. */
  warnings: string[];
}

/** A lock can change hands between our look and our move; give up after this many rounds (each is a few syscalls). */
const LOCK_ROUNDS = 5;

/** `<ledger>.lock`. */
export function lockPathFor(ledgerPath: string): string {
  return `${ledgerPath}.lock`;
}

/**
 * Takes the one-run-at-a-time lock beside the ledger, or throws `LockedError` naming the holder.
 * The lock file is created exclusively, whole (written aside, then hard-linked into place).
 * A lock left by a process that no longer exists on this host is taken over (with a warning);
 * one from another host, or one that cannot be read, is never broken.
 */
export async function acquireLock(ledgerPath: string, opts: LockOptions): Promise<HeldLock> {
  const path = lockPathFor(ledgerPath);
  const host = opts.host ?? hostname();
  const isAlive = opts.isAlive ?? processExists;
  const me: LockInfo = {
    pid: opts.pid ?? process.pid,
    host,
    command: opts.command,
    startedAt: (opts.now ?? (() => new Date()))().toISOString(),
    id: randomBytes(8).toString("hex"),
  };
  const text = `${JSON.stringify(me)}\n`;
  try {
    await mkdir(dirname(path), { recursive: true });
  } catch (err) {
    throw new NotWritableError(`cannot create the folder of the lock file ${path}: ${describeOsError(err)}`, { cause: err });
  }
  const held = (warnings: string[]): HeldLock => ({ path, warnings, release: () => releaseIfOurs(path, me) });

  for (let round = 0; round < LOCK_ROUNDS; round++) {
    if (await createLock(path, text)) return held([]);
    const current = await readLock(path);
    if (!current) continue; // released between our two looks
    const holder = current.info;
    if (!holder) {
      throw new LockedError(
        `the lock file ${path} exists but is not a readable cr2comms lock (${current.problem}); another run may be starting — if no cr2comms is running, delete ${path}`,
      );
    }
    if (holder.host !== host) {
      throw new LockedError(
        `another cr2comms ${describe(holder)} holds ${path}; its host is not this one (${escapeControl(host)}), so cr2comms cannot tell whether it still runs and never breaks this lock itself: once that run is over, delete ${path} by hand`,
      );
    }
    if (isAlive(holder.pid)) {
      throw new LockedError(`another cr2comms ${describe(holder)} holds ${path}; wait for it to finish, or, if that process is no longer running, delete ${path}`);
    }
    await opts.pause?.("stale-seen");
    if (await takeOver(path, current.raw, holder, text, isAlive, host, opts.pause)) {
      return held([`took over the lock ${path} left by cr2comms ${describe(holder)}, which no longer runs`]);
    }
  }
  throw new LockedError(`the lock ${path} kept changing hands while cr2comms tried to take it; another run is starting — try again`);
}

/**
 * Replaces a stale lock (content `staleRaw`) by ours. Only the run that creates the claim file
 * named after that content may remove it, so of two runs taking over the same stale lock one
 * wins and the other looks again (and finds the winner's live lock). False: look again.
 */
async function takeOver(
  path: string,
  staleRaw: string,
  stale: LockInfo,
  ourText: string,
  isAlive: (pid: number) => boolean,
  host: string,
  pause: LockOptions["pause"],
): Promise<boolean> {
  const claim = `${path}.takeover-${createHash("sha256").update(staleRaw).digest("hex").slice(0, 16)}`;
  try {
    const handle = await open(claim, "wx", 0o644);
    await handle.writeFile(ourText);
    await handle.close();
  } catch (err) {
    if (osCode(err) !== "EEXIST") throw new NotWritableError(`cannot take over the stale lock ${path}: ${describeOsError(err)}`, { cause: err });
    const other = await readLock(claim);
    const interrupted = other?.info && other.info.host === host && !isAlive(other.info.pid);
    throw new LockedError(
      interrupted
        ? `the lock ${path} was left by cr2comms ${describe(stale)}, and a takeover of it by pid ${other.info!.pid} was interrupted; if no cr2comms is running, delete ${path} and ${claim}`
        : `another cr2comms is taking over the stale lock ${path} (left by ${describe(stale)}); try again in a moment`,
    );
  }
  try {
    await pause?.("claimed");
    // Nobody but the claim holder removes a lock with this content, and no lock can be created
    // while it exists: if it is still there, it stays until we remove it.
    const now = await readLock(path);
    if (now?.raw !== staleRaw) return false;
    await unlink(path);
    return await createLock(path, ourText);
  } finally {
    await unlink(claim).catch(() => undefined);
  }
}

/** True when we created the lock; false when one exists. */
async function createLock(path: string, text: string): Promise<boolean> {
  try {
    await writeFileAtomic(path, text, { overwrite: false });
    return true;
  } catch (err) {
    if (osCode(err) === "EEXIST") return false;
    throw new NotWritableError(`cannot create the lock file ${path}: ${describeOsError(err)}`, { cause: err });
  }
}

/** The lock's text and, when it is a cr2comms lock, its fields; undefined when there is none. */
async function readLock(path: string): Promise<{ raw: string; info?: LockInfo; problem?: string } | undefined> {
  let raw: string;
  try {
    raw = await readFile(path, "utf8");
  } catch (err) {
    if (osCode(err) === "ENOENT") return undefined;
    return { raw: "", problem: describeOsError(err) };
  }
  try {
    const v = JSON.parse(raw) as Partial<LockInfo>;
    if (!Number.isInteger(v.pid) || (v.pid as number) <= 0 || typeof v.host !== "string" || typeof v.command !== "string" || typeof v.startedAt !== "string") {
      return { raw, problem: "missing pid, host, command or startedAt" };
    }
    return { raw, info: { pid: v.pid as number, host: v.host, command: v.command, startedAt: v.startedAt, id: typeof v.id === "string" ? v.id : "" } };
  } catch {
    return { raw, problem: raw.trim() === "" ? "empty" : "not JSON" };
  }
}

async function releaseIfOurs(path: string, me: LockInfo): Promise<void> {
  const current = await readLock(path);
  const info = current?.info;
  if (!info || info.pid !== me.pid || info.startedAt !== me.startedAt || info.id !== me.id) return;
  await unlink(path).catch((err: unknown) => {
    if (osCode(err) !== "ENOENT") throw err;
  });
}

function describe(info: LockInfo): string {
  return `${escapeControl(info.command)} (pid ${info.pid} on host ${escapeControl(info.host)}, started ${escapeControl(info.startedAt)})`;
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return osCode(err) !== "ESRCH";
  }
}
