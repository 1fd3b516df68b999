/** The one-run lock when the lock file is odd, the disk refuses, or a takeover is cut short. */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { LockedError, NotWritableError } from "../../src/errors.js";
import { acquireLock, lockPathFor } from "../../src/ledger/lock.js";

function scratch(name = "ledger.jsonl"): { dir: string; path: string; lock: string } {
  const dir = mkdtempSync(join(tmpdir(), "lock-edge-"));
  const path = join(dir, name);
  return { dir, path, lock: lockPathFor(path) };
}

/** The pid of a process that has exited: nothing runs under it (until the OS reuses it). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  await new Promise((resolve) => child.on("exit", resolve));
  return child.pid!;
}

const lockText = (over: Record<string, unknown> = {}) =>
  JSON.stringify({ pid: 4242, host: hostname(), command: "apply", startedAt: "2026-01-01T00:00:00.000Z", id: "0123456789abcdef", ...over });

async function refusal(path: string): Promise<Error> {
  const err = await acquireLock(path, { command: "apply" }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(LockedError);
  return err as Error;
}

describe("a lock file that is not a cr2comms lock is never broken", () => {
  it("missing or wrong fields", async () => {
    const { path, lock } = scratch();
    const wrong: Record<string, unknown>[] = [
      { pid: undefined },
      { pid: 0 },
      { pid: -5 },
      { pid: 12.5 },
      { pid: "4242" },
      { host: undefined },
      { host: 7 },
      { command: undefined },
      { startedAt: undefined },
      { startedAt: 1 },
    ];
    for (const over of wrong) {
      writeFileSync(lock, lockText(over));
      expect((await refusal(path)).message, JSON.stringify(over)).toBe(
        `the lock file ${lock} exists but is not a readable cr2comms lock (missing pid, host, command or startedAt); another run may be starting — if no cr2comms is running, delete ${lock}`,
      );
      expect(readFileSync(lock, "utf8")).toBe(lockText(over));
    }
  });

  it("an empty or blank lock file (a run that has just created it)", async () => {
    const { path, lock } = scratch();
    for (const text of ["", "  \n"]) {
      writeFileSync(lock, text);
      expect((await refusal(path)).message).toContain(`not a readable cr2comms lock (empty)`);
    }
  });

  it("a lock that cannot be read (a folder in its place)", async () => {
    const { path, lock } = scratch();
    mkdirSync(lock);
    expect((await refusal(path)).message).toContain(`${lock} exists but is not a readable cr2comms lock (EISDIR (illegal operation on a directory))`);
    expect(existsSync(lock)).toBe(true);
  });

  it("a live holder's lock without a run id (an older cr2comms) is still held", async () => {
    const { path, lock } = scratch();
    writeFileSync(lock, lockText({ pid: process.ppid, id: undefined }));
    expect((await refusal(path)).message).toContain(`another cr2comms apply (pid ${process.ppid} on host ${hostname()}`);
  });
});

describe("the disk refuses", () => {
  it("the lock's folder cannot be created: NotWritableError naming it", async () => {
    const { dir } = scratch();
    writeFileSync(join(dir, "file"), "");
    const path = join(dir, "file", "reports", "ledger.jsonl");
    const err = await acquireLock(path, { command: "apply" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotWritableError);
    expect((err as Error).message).toBe(`cannot create the folder of the lock file ${path}.lock: ENOTDIR (not a directory)`);
    expect((err as Error).cause).toMatchObject({ code: "ENOTDIR" });
  });
});

describe("release", () => {
  it("leaves a lock that another run wrote in its place (other pid, other start, or other run id)", async () => {
    const { path, lock } = scratch();
    const held = await acquireLock(path, { command: "apply", now: () => new Date("2026-02-03T04:05:06Z") });
    const mine = JSON.parse(readFileSync(lock, "utf8")) as Record<string, unknown>;
    for (const over of [{ pid: (mine.pid as number) + 1 }, { startedAt: "2026-02-03T04:05:07.000Z" }, { id: "fedcba9876543210" }]) {
      const theirs = JSON.stringify({ ...mine, ...over });
      writeFileSync(lock, theirs);
      await held.release();
      expect(readFileSync(lock, "utf8"), JSON.stringify(over)).toBe(theirs);
    }
    writeFileSync(lock, JSON.stringify(mine));
    await held.release();
    expect(existsSync(lock)).toBe(false);
  });
});

describe("taking over a stale lock, interrupted or contested", () => {
  it("a takeover cut short by a run that died, or an unreadable claim: the next run is refused, told which files to delete; other claims just say wait", async () => {
    const { dir, path, lock } = scratch();
    const stalePid = await deadPid();
    const claimerPid = await deadPid();
    writeFileSync(lock, lockText({ pid: stalePid }));
    let claimed!: () => void;
    let resume!: () => void;
    const hasClaimed = new Promise<void>((r) => (claimed = r));
    const gate = new Promise<void>((r) => (resume = r));
    // The claimer stops right after claiming, as a run killed at that point would.
    const claimer = acquireLock(path, {
      command: "apply",
      pid: claimerPid,
      pause: async (step) => {
        if (step === "claimed") {
          claimed();
          await gate;
        }
      },
    });
    await hasClaimed;
    const [claimName] = readdirSync(dir).filter((n) => n.includes("takeover"));
    const claim = join(dir, claimName!);

    expect((await refusal(path)).message).toBe(
      `the lock ${lock} was left by cr2comms apply (pid ${stalePid} on host ${hostname()}, started 2026-01-01T00:00:00.000Z), and a takeover of it by pid ${claimerPid} was interrupted; if no cr2comms is running, delete ${lock} and ${claim}`,
    );
    const claimText = readFileSync(claim, "utf8");
    const taking = `another cr2comms is taking over the stale lock ${lock} (left by apply (pid ${stalePid} on host ${hostname()}, started 2026-01-01T00:00:00.000Z)); try again in a moment`;
    // A claim from another host, or by a live process: someone may be taking over right now.
    for (const other of [lockText({ pid: claimerPid, host: "build-box-7" }), lockText({ pid: process.pid })]) {
      writeFileSync(claim, other);
      expect((await refusal(path)).message).toBe(taking);
    }
    // An unreadable claim is no takeover under way (a claim is written whole before it has its name).
    writeFileSync(claim, "{half");
    expect((await refusal(path)).message).toBe(
      `the lock ${lock} was left by cr2comms apply (pid ${stalePid} on host ${hostname()}, started 2026-01-01T00:00:00.000Z), and the claim of a takeover of it, ${claim}, is not a readable claim (not JSON); if no cr2comms is running, delete ${lock} and ${claim}`,
    );
    writeFileSync(claim, claimText);

    resume();
    const held = await claimer;
    expect(held.warnings[0]).toContain(`took over the lock ${lock} left by cr2comms apply (pid ${stalePid}`);
    expect(JSON.parse(readFileSync(lock, "utf8")).pid).toBe(claimerPid);
    expect(existsSync(claim)).toBe(false);
    await held.release();
  });

  it("a stale lock deleted by hand during the takeover: the lock is simply taken", async () => {
    const { dir, path, lock } = scratch();
    writeFileSync(lock, lockText({ pid: await deadPid() }));
    const held = await acquireLock(path, {
      command: "apply",
      pause: async (step) => {
        if (step === "claimed") unlinkSync(lock);
      },
    });
    expect(held.warnings).toEqual([]);
    expect(JSON.parse(readFileSync(lock, "utf8")).pid).toBe(process.pid);
    await held.release();
    expect(readdirSync(dir)).toEqual([]);
  });

  it("a lock that keeps changing hands: after a few rounds the run gives up, asking to try again", async () => {
    const { path, lock } = scratch();
    const dead = await deadPid();
    writeFileSync(lock, lockText({ pid: dead }));
    let rounds = 0;
    const err = await acquireLock(path, {
      command: "apply",
      // Each time we have claimed the stale lock, another stale lock has replaced it.
      pause: async (step) => {
        if (step === "claimed") writeFileSync(lock, lockText({ pid: dead, startedAt: `2026-01-01T00:00:0${++rounds}.000Z` }));
      },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LockedError);
    expect((err as Error).message).toBe(`the lock ${lock} kept changing hands while cr2comms tried to take it; another run is starting — try again`);
    // LOCK_ROUNDS
    expect(rounds).toBe(5);
  });
});

describe("a holder this user may not signal", () => {
  it("(kill says EPERM: another user's process) counts as running, so its lock is not taken over; ESRCH is gone", async () => {
    const { path, lock } = scratch();
    writeFileSync(lock, lockText({ pid: 4242 }));
    const error = (code: string) => Object.assign(new Error(code), { code });
    const kill = vi.spyOn(process, "kill").mockImplementation(() => {
      throw error("EPERM");
    });
    try {
      expect((await refusal(path)).message).toContain("wait for it to finish");
      expect(kill).toHaveBeenCalledWith(4242, 0);
      kill.mockImplementation(() => {
        throw error("ESRCH");
      });
      const held = await acquireLock(path, { command: "apply" });
      expect(held.warnings[0]).toContain("which no longer runs");
      await held.release();
    } finally {
      kill.mockRestore();
    }
  });
});
