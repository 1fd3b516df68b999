import { createHash, randomBytes } from "node:crypto";
import { mkdir, open, realpath, unlink, utimes } from "node:fs/promises";
import { hostname } from "node:os";
import { basename, dirname, join } from "node:path";
import { LockedError, NotWritableError } from "../errors.js";
import { writeFileAtomic } from "../report/atomic.js";
import { escapeControl } from "../text.js";
import { describeOsError, osCode } from "./oserror.js";

/** What a lock file holds: who runs, where, since when. `id` tells two runs of one pid apart. */
export interface LockInfo {
  pid: number;
  host: string;
  command: string;
  startedAt: string;
  id: string;
  /** Account locks: the ledger (real path) the holder works on. */
  ledger?: string;
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
  /** Test seam: how often a held lock's modification time is refreshed (default `LOCK_REFRESH_MS`). */
  refreshMs?: number;
}

export interface HeldLock {
  path: string;
  /** The ledger the lock is for, symlinks resolved. */
  ledgerPath: string;
  /** Removes the lock file if it is still ours (never another run's). Safe to call twice. */
  release(): Promise<void>;
  /** E.g. that a stale lock left by a dead process was taken over. */
  warnings: string[];
}

/** A lock can change hands between our look and our move; give up after this many rounds (each is a few syscalls). */
const LOCK_ROUNDS = 5;

/**
 * A held lock's modification time is refreshed this often. A lock naming this very pid and host
 * cannot be probed (it is ours, or another container's with the same host name, or a dead earlier
 * process's): only one left unrefreshed for `OWN_PID_STALE_MS` is taken over.
 */
export const LOCK_REFRESH_MS = 10_000;
export const OWN_PID_STALE_MS = 60_000;

/** The longest file name (bytes) most filesystems take. */
const NAME_MAX = 255;
/** What `writeFileAtomic` adds to a name for its temporary file (`.<name>.<12 hex>.tmp`). */
const TMP_EXTRA = 18;

/**
 * Lock files this process holds or is creating (path → how many acquisitions). A lock naming this
 * very pid and host that is not here was left by an earlier process that had the same pid.
 */
const inProcess = new Map<string, number>();

const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex");

/**
 * `<ledger>.lock`; for a ledger name too long to take that suffix (and the temporary file written
 * beside it), a fixed-length name derived from the ledger's name, so that any ledger can be locked.
 */
export function lockPathFor(ledgerPath: string): string {
  const name = basename(ledgerPath);
  if (Buffer.byteLength(`${name}.lock`) + TMP_EXTRA <= NAME_MAX) return `${ledgerPath}.lock`;
  return join(dirname(ledgerPath), `.${sha256(name)}.ledger.lock`);
}

/**
 * The ledger's path with every symlink resolved (for a ledger that does not exist yet: its
 * folder's real path and its name), so that two spellings of one ledger share one lock.
 * Creates the folder.
 */
export async function realLedgerPath(ledgerPath: string): Promise<string> {
  const dir = dirname(ledgerPath);
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    throw new NotWritableError(`cannot create the folder of the lock file ${lockPathFor(ledgerPath)}: ${describeOsError(err)}`, { cause: err });
  }
  try {
    return await realpath(ledgerPath);
  } catch {
    // Not there yet (or not readable: opening it reports why): the folder's real path and the name.
  }
  try {
    return join(await realpath(dir), basename(ledgerPath));
  } catch {
    return ledgerPath;
  }
}

/**
 * Takes the one-run-at-a-time lock beside the ledger, or throws `LockedError` naming the holder.
 * The lock file sits beside the ledger's real path (symlinks resolved). It is created exclusively,
 * whole (written aside, then hard-linked into place).
 * A lock left by a process that no longer exists on this host, or naming this very process while
 * this process does not hold it (a reused pid), is taken over (with a warning); one from another
 * host, or one that cannot be read, is never broken.
 */
export async function acquireLock(ledgerPath: string, opts: LockOptions): Promise<HeldLock> {
  const ledger = await realLedgerPath(ledgerPath);
  const path = lockPathFor(ledger);
  return takeLock(path, ledger, infoFor(opts), opts, {
    held: (holder) => `another cr2comms ${describe(holder)} holds ${path}; wait for it to finish, or, if that process is no longer running, delete ${path}`,
    cannotCreate: (err) => `cannot create the lock file ${path}: ${describeOsError(err)}`,
  });
}

export interface AccountLockOptions extends LockOptions {
  /** The per-user state folder and what named it (`CR2COMMS_STATE_DIR`, …), for the error when it cannot be written. */
  stateDir: string;
  stateDirFrom: string;
  accountSid: string;
  /** The Comms API origin the run writes to (`https://comms.twilio.com`, an emulator's `http://127.0.0.1:PORT`). */
  origin: string;
  /** The ledger the run uses (real path), named to a second run of the account. */
  ledgerPath: string;
}

/** `<stateDir>/locks/account-<sha256 of account and origin>.lock`. */
export function accountLockPath(stateDir: string, accountSid: string, origin: string): string {
  return join(stateDir, "locks", `account-${sha256(`${accountSid}\n${origin}`)}.lock`);
}

/**
 * Takes the per-account lock in the user's state folder: one run per account on this machine,
 * whatever ledger path it was given (a symlink, a hard link, another reports dir). Keyed on the
 * account and the Comms API origin: an emulator on another port is another account (tests run many
 * emulators with the same sample account at once), a real account is one origin. Same takeover
 * rules as `acquireLock`.
 */
export async function acquireAccountLock(opts: AccountLockOptions): Promise<HeldLock> {
  const { stateDir, stateDirFrom, accountSid, origin } = opts;
  const path = accountLockPath(stateDir, accountSid, origin);
  const unusable = (err: unknown) =>
    `cannot write the state dir ${stateDir} (from ${stateDirFrom}), where cr2comms keeps one lock per account: ${describeOsError(err)}; set CR2COMMS_STATE_DIR to a folder this user can write`;
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new NotWritableError(unusable(err), { cause: err });
  }
  return takeLock(path, opts.ledgerPath, { ...infoFor(opts), ledger: opts.ledgerPath }, opts, {
    held: (holder) =>
      `another cr2comms ${describe(holder)} is working on account ${escapeControl(accountSid)} at ${escapeControl(origin)} with the ledger ${escapeControl(holder.ledger ?? "(not named)")}; one account takes one run at a time on this machine, whatever its ledger: wait for it to finish, or, if that process is no longer running, delete ${path}`,
    cannotCreate: unusable,
  });
}

function infoFor(opts: LockOptions): LockInfo {
  return {
    pid: opts.pid ?? process.pid,
    host: opts.host ?? hostname(),
    command: opts.command,
    startedAt: (opts.now ?? (() => new Date()))().toISOString(),
    id: randomBytes(8).toString("hex"),
  };
}

interface LockTexts {
  /** A live holder refuses us. */
  held(holder: LockInfo): string;
  cannotCreate(err: unknown): string;
}

async function takeLock(path: string, ledgerPath: string, me: LockInfo, opts: LockOptions, texts: LockTexts): Promise<HeldLock> {
  const host = me.host;
  const isAlive = opts.isAlive ?? processExists;
  const text = `${JSON.stringify(me)}\n`;
  const held = (warnings: string[]): HeldLock => {
    let released = false;
    const refresh = setInterval(() => {
      const now = new Date();
      void utimes(path, now, now).catch(() => undefined);
    }, opts.refreshMs ?? LOCK_REFRESH_MS);
    refresh.unref();
    return {
      path,
      ledgerPath,
      warnings,
      release: async () => {
        clearInterval(refresh);
        try {
          await releaseIfOurs(path, me);
        } finally {
          if (!released) forget(path);
          released = true;
        }
      },
    };
  };

  for (let round = 0; round < LOCK_ROUNDS; round++) {
    if (await createOwnLock(path, text, texts)) return held([]);
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
    // Our own pid: held only if this process holds it (a lock is never ours by pid alone: pids are reused).
    const ours = holder.pid === me.pid;
    if (ours ? inProcess.has(path) : isAlive(holder.pid)) throw new LockedError(texts.held(holder));
    if (ours) {
      // The file system's clock, not an injected one: mtimes are real.
      if (Date.now() - current.mtimeMs < OWN_PID_STALE_MS) {
        throw new LockedError(
          `${texts.held(holder)} (it names this very pid and host but not this process: another container with the same host name, or an earlier run with the same pid; it is taken over once it has not been refreshed for ${OWN_PID_STALE_MS / 1000} s)`,
        );
      }
    }
    await opts.pause?.("stale-seen");
    if (await takeOver(path, current.raw, holder, text, isAlive, host, opts.pause, texts)) {
      return held([
        ours
          ? `took over the lock ${path} left by cr2comms ${describe(holder)}: it names this very process, which does not hold it, and was not refreshed for ${OWN_PID_STALE_MS / 1000} s (an earlier run that had the same pid)`
          : `took over the lock ${path} left by cr2comms ${describe(holder)}, which no longer runs`,
      ]);
    }
  }
  throw new LockedError(`the lock ${path} kept changing hands while cr2comms tried to take it; another run is starting — try again`);
}

/**
 * Replaces a stale lock (content `staleRaw`) by ours. Only the run that creates the claim file
 * named after that lock and content may remove it, so of two runs taking over the same stale lock
 * one wins and the other looks again (and finds the winner's live lock). False: look again.
 */
async function takeOver(
  path: string,
  staleRaw: string,
  stale: LockInfo,
  ourText: string,
  isAlive: (pid: number) => boolean,
  host: string,
  pause: LockOptions["pause"],
  texts: LockTexts,
): Promise<boolean> {
  // A fixed-length name, whatever the lock's name: a long ledger name must not make the takeover fail.
  const claim = join(dirname(path), `.cr2comms-takeover-${sha256(`${basename(path)}\n${staleRaw}`)}`);
  try {
    // Whole or not at all (written aside, then linked): a run killed, or a disk full, while writing
    // it leaves no empty claim that would stop every later takeover.
    await writeFileAtomic(claim, ourText, { overwrite: false });
  } catch (err) {
    if (osCode(err) !== "EEXIST") throw new NotWritableError(`cannot take over the stale lock ${path}: ${describeOsError(err)}`, { cause: err });
    const other = await readLock(claim);
    const interrupted = other?.info && other.info.host === host && !isAlive(other.info.pid);
    throw new LockedError(
      interrupted
        ? `the lock ${path} was left by cr2comms ${describe(stale)}, and a takeover of it by pid ${other.info!.pid} was interrupted; if no cr2comms is running, delete ${path} and ${claim}`
        : other && !other.info
          ? `the lock ${path} was left by cr2comms ${describe(stale)}, and the claim of a takeover of it, ${claim}, is not a readable claim (${other.problem}); if no cr2comms is running, delete ${path} and ${claim}`
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
    return await createOwnLock(path, ourText, texts);
  } finally {
    await unlink(claim).catch(() => undefined);
  }
}

/** True when we created the lock (and this process now counts it held); false when one exists. */
async function createOwnLock(path: string, text: string, texts: LockTexts): Promise<boolean> {
  // Counted before the file exists, so that another acquisition in this process never sees our
  // fresh lock as one this process does not hold.
  inProcess.set(path, (inProcess.get(path) ?? 0) + 1);
  try {
    await writeFileAtomic(path, text, { overwrite: false });
    return true;
  } catch (err) {
    forget(path);
    if (osCode(err) === "EEXIST") return false;
    throw new NotWritableError(texts.cannotCreate(err), { cause: err });
  }
}

function forget(path: string): void {
  // Always counted: only called after `createOwnLock` counted it (and once per count).
  const n = (inProcess.get(path) as number) - 1;
  if (n > 0) inProcess.set(path, n);
  else inProcess.delete(path);
}

/**
 * The lock's text, when it was last written or refreshed, and, when it is a cr2comms lock, its
 * fields; undefined when there is none.
 */
async function readLock(path: string): Promise<{ raw: string; mtimeMs: number; info?: LockInfo; problem?: string } | undefined> {
  let raw: string;
  let mtimeMs: number;
  try {
    const handle = await open(path, "r");
    try {
      raw = await handle.readFile("utf8");
      mtimeMs = (await handle.stat()).mtimeMs;
    } finally {
      await handle.close();
    }
  } catch (err) {
    if (osCode(err) === "ENOENT") return undefined;
    return { raw: "", mtimeMs: 0, problem: describeOsError(err) };
  }
  try {
    const v = JSON.parse(raw) as Partial<LockInfo>;
    if (!Number.isInteger(v.pid) || (v.pid as number) <= 0 || typeof v.host !== "string" || typeof v.command !== "string" || typeof v.startedAt !== "string") {
      return { raw, mtimeMs, problem: "missing pid, host, command or startedAt" };
    }
    return {
      raw,
      mtimeMs,
      info: {
        pid: v.pid as number,
        host: v.host,
        command: v.command,
        startedAt: v.startedAt,
        id: typeof v.id === "string" ? v.id : "",
        ...(typeof v.ledger === "string" ? { ledger: v.ledger } : {}),
      },
    };
  } catch {
    return { raw, mtimeMs, problem: raw.trim() === "" ? "empty" : "not JSON" };
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
