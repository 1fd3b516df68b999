import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LockedError } from "../../src/errors.js";
import { acquireLock, lockPathFor } from "../../src/ledger/lock.js";

function ledgerPath(): string {
  return join(mkdtempSync(join(tmpdir(), "lock-")), "reports", "ledger.jsonl");
}

/** The pid of a process that has exited: nothing runs under it (until the OS reuses it). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  await new Promise((resolve) => child.on("exit", resolve));
  return child.pid!;
}

const staleLock = (pid: number, host = hostname()) => JSON.stringify({ pid, host, command: "apply", startedAt: "2026-01-01T00:00:00.000Z", id: "dead" });

describe("acquireLock", () => {
  it("writes who holds it beside the ledger; a second run is refused naming the holder; release frees it", async () => {
    const path = ledgerPath();
    const first = await acquireLock(path, { command: "apply", now: () => new Date("2026-05-06T07:08:09Z") });
    expect(first.path).toBe(`${path}.lock`);
    expect(first.warnings).toEqual([]);
    expect(JSON.parse(readFileSync(first.path, "utf8"))).toMatchObject({ pid: process.pid, host: hostname(), command: "apply", startedAt: "2026-05-06T07:08:09.000Z" });

    const err = await acquireLock(path, { command: "apply" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LockedError);
    expect((err as LockedError).exitCode).toBe(1);
    expect((err as Error).message).toBe(
      `another cr2comms apply (pid ${process.pid} on host ${hostname()}, started 2026-05-06T07:08:09.000Z) holds ${path}.lock; wait for it to finish, or, if that process is no longer running, delete ${path}.lock`,
    );

    await first.release();
    expect(existsSync(first.path)).toBe(false);
    const again = await acquireLock(path, { command: "rollback" });
    await again.release();
    await again.release();
  });

  it("takes over a lock left by a process that no longer runs on this host, with a warning", async () => {
    const path = ledgerPath();
    const pid = await deadPid();
    const lock = lockPathFor(path);
    await acquireLock(path, { command: "x" }).then((l) => l.release()); // creates the folder
    writeFileSync(lock, staleLock(pid));
    const held = await acquireLock(path, { command: "apply" });
    expect(held.warnings).toHaveLength(1);
    expect(held.warnings[0]).toContain(`took over the lock ${lock} left by cr2comms apply (pid ${pid} on host ${hostname()}`);
    expect(JSON.parse(readFileSync(lock, "utf8")).pid).toBe(process.pid);
    await held.release();
    expect(readdirSync(join(path, "..")).filter((n) => n.includes("lock"))).toEqual([]);
  });

  it("never breaks a lock from another host, even when the pid does not exist here", async () => {
    const path = ledgerPath();
    await acquireLock(path, { command: "x" }).then((l) => l.release());
    writeFileSync(lockPathFor(path), staleLock(await deadPid(), "build-box-7"));
    const err = await acquireLock(path, { command: "apply" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LockedError);
    expect((err as Error).message).toMatch(/on host build-box-7.*never breaks this lock itself.*delete .*ledger\.jsonl\.lock by hand/);
    expect(readFileSync(lockPathFor(path), "utf8")).toContain("build-box-7");
  });

  it("treats an unreadable lock file as held", async () => {
    const path = ledgerPath();
    await acquireLock(path, { command: "x" }).then((l) => l.release());
    writeFileSync(lockPathFor(path), "{not json");
    await expect(acquireLock(path, { command: "apply" })).rejects.toThrow(new RegExp(`lock file ${lockPathFor(path)} exists but is not a readable cr2comms lock \\(not JSON\\)`));
    writeFileSync(lockPathFor(path), JSON.stringify({ pid: 0, host: hostname() }));
    await expect(acquireLock(path, { command: "apply" })).rejects.toBeInstanceOf(LockedError);
  });

  it("release removes only its own lock", async () => {
    const path = ledgerPath();
    const pid = await deadPid();
    const mine = await acquireLock(path, { command: "apply", pid });
    // Our process "died"; another run took the lock over.
    const theirs = await acquireLock(path, { command: "apply" });
    expect(theirs.warnings).toHaveLength(1);
    await mine.release();
    expect(JSON.parse(readFileSync(theirs.path, "utf8")).pid).toBe(process.pid);
    await theirs.release();
    expect(existsSync(theirs.path)).toBe(false);
  });

  it("same pid, another run (e.g. a lock taken twice in one process): the second is refused and the first keeps it", async () => {
    const path = ledgerPath();
    const a = await acquireLock(path, { command: "apply" });
    await expect(acquireLock(path, { command: "apply" })).rejects.toBeInstanceOf(LockedError);
    await a.release();
    expect(existsSync(a.path)).toBe(false);
  });
});

describe("two runs taking over the same stale lock", () => {
  it("started together: exactly one holds it", async () => {
    for (let round = 0; round < 20; round++) {
      const path = ledgerPath();
      await acquireLock(path, { command: "x" }).then((l) => l.release());
      writeFileSync(lockPathFor(path), staleLock(999_999_999));
      const isAlive = (pid: number) => pid !== 999_999_999;
      const results = await Promise.allSettled([
        acquireLock(path, { command: "apply", pid: 1001, isAlive }),
        acquireLock(path, { command: "apply", pid: 1002, isAlive }),
      ]);
      const won = results.filter((r) => r.status === "fulfilled");
      expect(won).toHaveLength(1);
      const lost = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
      expect(lost.reason).toBeInstanceOf(LockedError);
      const holder = JSON.parse(readFileSync(lockPathFor(path), "utf8"));
      expect([1001, 1002]).toContain(holder.pid);
      expect((lost.reason as Error).message).toMatch(new RegExp(`pid ${holder.pid}|taking over the stale lock`));
    }
  });

  it("one sees the stale lock, the other takes it over entirely, then the first moves on: it must not break the new lock", async () => {
    const path = ledgerPath();
    await acquireLock(path, { command: "x" }).then((l) => l.release());
    writeFileSync(lockPathFor(path), staleLock(999_999_999));
    const isAlive = (pid: number) => pid !== 999_999_999;

    let resumeSlow!: () => void;
    let sawStale!: () => void;
    const slowSawStale = new Promise<void>((r) => (sawStale = r));
    const gate = new Promise<void>((r) => (resumeSlow = r));
    // The slow run stops right after it has judged the lock stale, before it moves on it.
    const slow = acquireLock(path, {
      command: "apply",
      pid: 1001,
      isAlive,
      pause: async (step) => {
        if (step === "stale-seen") {
          sawStale();
          await gate;
        }
      },
    });
    await slowSawStale;
    const fast = await acquireLock(path, { command: "apply", pid: 1002, isAlive });
    expect(fast.warnings).toHaveLength(1);
    resumeSlow();
    await expect(slow).rejects.toThrow(/another cr2comms apply \(pid 1002/);
    expect(JSON.parse(readFileSync(fast.path, "utf8")).pid).toBe(1002);
    await fast.release();
  });

  it("one has claimed the takeover and pauses: the other is refused, and the claim holder gets the lock", async () => {
    const path = ledgerPath();
    await acquireLock(path, { command: "x" }).then((l) => l.release());
    writeFileSync(lockPathFor(path), staleLock(999_999_999));
    const isAlive = (pid: number) => pid !== 999_999_999;
    let resume!: () => void;
    let claimed!: () => void;
    const hasClaimed = new Promise<void>((r) => (claimed = r));
    const gate = new Promise<void>((r) => (resume = r));
    const first = acquireLock(path, {
      command: "apply",
      pid: 1001,
      isAlive,
      pause: async (step) => {
        if (step === "claimed") {
          claimed();
          await gate;
        }
      },
    });
    await hasClaimed;
    await expect(acquireLock(path, { command: "apply", pid: 1002, isAlive })).rejects.toThrow(/taking over the stale lock/);
    resume();
    const held = await first;
    expect(JSON.parse(readFileSync(held.path, "utf8")).pid).toBe(1001);
    await held.release();
  });
});
