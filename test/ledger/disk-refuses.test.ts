/**
 * The locks and the writability check when the disk refuses a file: an OS error injected into
 * `open` for chosen paths (so these run as root too, where file modes stop nothing).
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { constants, hostname, tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { NotWritableError } from "../../src/errors.js";
import { checkWritable } from "../../src/ledger/writable.js";
import { accountLockPath, acquireAccountLock, acquireLock, lockPathFor } from "../../src/ledger/lock.js";

const inject = vi.hoisted(() => ({ failing: undefined as ((path: string) => boolean) | undefined, code: "EIO" as "EIO" | "EACCES", realpathFails: false }));

vi.mock("node:fs/promises", async (importOriginal) => {
  const fs = await importOriginal<typeof import("node:fs/promises")>();
  const open = ((path: Parameters<typeof fs.open>[0], ...rest: unknown[]) => {
    if (inject.failing?.(String(path))) {
      const code = inject.code;
      return Promise.reject(Object.assign(new Error(`${code}: open '${String(path)}'`), { code, errno: -constants.errno[code], syscall: "open" }));
    }
    return (fs.open as (...a: unknown[]) => ReturnType<typeof fs.open>)(path, ...rest);
  }) as typeof fs.open;
  const realpath = ((path: string, ...rest: unknown[]) =>
    inject.realpathFails
      ? Promise.reject(Object.assign(new Error(`EACCES: realpath '${path}'`), { code: "EACCES", errno: -constants.errno.EACCES, syscall: "realpath" }))
      : (fs.realpath as (...a: unknown[]) => ReturnType<typeof fs.realpath>)(path, ...rest)) as typeof fs.realpath;
  return { ...fs, default: { ...fs, open, realpath }, open, realpath };
});

afterEach(() => {
  inject.failing = undefined;
  inject.realpathFails = false;
  inject.code = "EIO";
});

const scratch = () => mkdtempSync(join(tmpdir(), "lock-io-"));
const stale = JSON.stringify({ pid: 999_999_999, host: hostname(), command: "apply", startedAt: "2026-01-01T00:00:00.000Z", id: "0123456789abcdef" });

describe("the disk refuses", () => {
  it("the lock file cannot be created: NotWritableError, not a lock said to be held; once the disk is back, it is taken", async () => {
    const path = join(scratch(), "ledger.jsonl");
    const lock = lockPathFor(path);
    inject.failing = (p) => basename(p).startsWith(`.${basename(lock)}.`);
    const err = await acquireLock(path, { command: "apply" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotWritableError);
    expect((err as Error).message).toBe(`cannot create the lock file ${lock}: EIO (i/o error)`);
    expect((err as Error).cause).toMatchObject({ code: "EIO" });
    inject.failing = undefined;
    // The failed attempt left no claim in this process: the lock is simply taken, with no warning.
    const held = await acquireLock(path, { command: "apply" });
    expect(held.warnings).toEqual([]);
    await held.release();
  });

  it("a ledger folder whose real path cannot be read: the lock goes beside the ledger path as given", async () => {
    const path = join(scratch(), "ledger.jsonl");
    inject.realpathFails = true;
    const held = await acquireLock(path, { command: "apply" });
    expect(held.ledgerPath).toBe(path);
    expect(existsSync(`${path}.lock`)).toBe(true);
    await held.release();
    expect(existsSync(`${path}.lock`)).toBe(false);
  });

  it("the claim on a stale lock cannot be created: NotWritableError, and the stale lock stays", async () => {
    const dir = scratch();
    const path = join(dir, "ledger.jsonl");
    const lock = lockPathFor(path);
    writeFileSync(lock, stale);
    inject.failing = (p) => basename(p).includes(".cr2comms-takeover-");
    const err = await acquireLock(path, { command: "apply" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotWritableError);
    expect((err as Error).message).toBe(`cannot take over the stale lock ${lock}: EIO (i/o error)`);
    expect(readFileSync(lock, "utf8")).toBe(stale);
  });

  it("the account lock cannot be created in the state dir: NotWritableError naming the folder and the variable", async () => {
    const stateDir = scratch();
    const path = accountLockPath(stateDir, `AC${"b".repeat(32)}`, "https://comms.twilio.com");
    inject.failing = (p) => basename(p).startsWith(`.${basename(path)}.`);
    const err = await acquireAccountLock({
      command: "apply",
      stateDir,
      stateDirFrom: "CR2COMMS_STATE_DIR",
      accountSid: `AC${"b".repeat(32)}`,
      origin: "https://comms.twilio.com",
      ledgerPath: "/l.jsonl",
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotWritableError);
    expect((err as Error).message).toBe(
      `cannot write the state dir ${stateDir} (from CR2COMMS_STATE_DIR), where cr2comms keeps one lock per account: EIO (i/o error); set CR2COMMS_STATE_DIR to a folder this user can write`,
    );
    expect(existsSync(path)).toBe(false);
  });
});

describe("checkWritable when the reports dir refuses this user", () => {
  it("a reports dir that cannot be written (EACCES): one line naming it and the OS error; nothing sent", async () => {
    const dir = scratch();
    const reportsDir = join(dir, "ro");
    inject.code = "EACCES";
    inject.failing = (p) => basename(p).startsWith(".cr2comms-write-probe-");
    const err = await checkWritable({ ledgerPath: join(dir, "ledger.jsonl"), reportsDir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotWritableError);
    expect((err as Error).message).toBe(`cannot write the reports dir ${reportsDir}: EACCES (permission denied); nothing was sent to Comms`);
    // Refused before the ledger was touched.
    expect(existsSync(join(dir, "ledger.jsonl"))).toBe(false);
  });
});
