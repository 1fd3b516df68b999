/**
 * Attacks on the one-writer-per-account locks and on the ledger's replay rules. Each test states the
 * EXPECTED behaviour; "V…" names the finding (test/review/README.md).
 */
import { createHash } from "node:crypto";
import { existsSync, linkSync, mkdtempSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { replay, replayLedger } from "../../src/ledger/ledger.js";
import { checkLedger, repairLedger } from "../../src/ledger/repair.js";
import type { LedgerEvent } from "../../src/ledger/types.js";
import { LockedError } from "../../src/errors.js";
import { acquireAccountLock, acquireLock, lockPathFor, type HeldLock } from "../../src/ledger/lock.js";
import { eventsFromReport, type RunReport } from "../../src/ledger/rebuild.js";
import { planRollback } from "../../src/rollback/rollback.js";
import { computeStatus } from "../../src/status/status.js";
import { plan } from "../../src/plan/planner.js";
import { ACCOUNT, comms as commsCred, entry, legacy, mapping, NOW, okSecret, sid, snapshot } from "../plan/builders.js";
import { runCli } from "../e2e/harness.js";

/** Paths whose content writes fail with ENOSPC (a full disk); everything else is the real fs. */
const full = vi.hoisted(() => ({ disk: undefined as ((path: string) => boolean) | undefined }));
vi.mock("node:fs/promises", async (importOriginal) => {
  const fs = await importOriginal<typeof import("node:fs/promises")>();
  const enospc = () => Promise.reject(Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC", errno: -28, syscall: "write" }));
  const open = (async (path: Parameters<typeof fs.open>[0], ...rest: unknown[]) => {
    const handle = await (fs.open as (...a: unknown[]) => ReturnType<typeof fs.open>)(path, ...rest);
    if (!full.disk?.(String(path))) return handle;
    return new Proxy(handle, {
      get: (target, key) => (key === "writeFile" || key === "write" ? enospc : (Reflect.get(target, key) as unknown as { bind?: unknown }) && typeof Reflect.get(target, key) === "function" ? (Reflect.get(target, key) as (...a: unknown[]) => unknown).bind(target) : Reflect.get(target, key)),
    });
  }) as typeof fs.open;
  return { ...fs, default: { ...fs, open }, open };
});
afterEach(() => {
  full.disk = undefined;
});

const AC = `AC${"b".repeat(32)}`;
const SID = (n: number) => `CR${String(n).padStart(32, "0")}`;
const scratch = () => mkdtempSync(join(tmpdir(), "lock-ledger-attack-"));
/** An origin nothing listens on: `ledger repair` sends nothing, it only keys the account lock. */
const ORIGIN = "http://127.0.0.1:9";

function stampedLedger(path: string, extra = ""): void {
  const base = { v: 1, accountSid: AC, legacySid: SID(1), runId: "run-1" };
  const lines = [
    { ...base, ts: "2026-01-01T00:00:00.000Z", event: "attempt", attemptId: "a1", appName: "app", credentialType: "APN", isDefault: false, startedAt: "2026-01-01T00:00:00.000Z" },
    { ...base, ts: "2026-01-01T00:00:01.000Z", event: "accepted", attemptId: "a1", commsCredentialId: `PN${"1".repeat(32)}` },
  ];
  writeFileSync(path, `${JSON.stringify(lines[0])}\n{not json\n${JSON.stringify(lines[1])}\n${extra}`);
}

describe("V1: ledger repair without the account named", () => {
  it("V1: is refused while the account is held through another path of the ledger (a hard link): the ledger is left as it was, still linked", async () => {
    const dir = scratch();
    const stateDir = join(dir, "state");
    const ledger = join(dir, "ledger.jsonl");
    stampedLedger(ledger);
    const linked = join(dir, "linked.jsonl");
    linkSync(ledger, linked);
    const before = readFileSync(ledger, "utf8");
    // A running apply of the account on the first path holds the account.
    const holder = await acquireAccountLock({ command: "apply", stateDir, stateDirFrom: "CR2COMMS_STATE_DIR", accountSid: AC, origin: ORIGIN, ledgerPath: ledger });
    try {
      const run = await runCli(["ledger", "repair", "--ledger", linked], { env: { CR2COMMS_STATE_DIR: stateDir, CR2COMMS_COMMS_URL: ORIGIN } });
      expect(run.code, run.stderr).toBe(1);
      expect(run.stderr).toContain(`is working on account ${AC} at ${ORIGIN} with the ledger ${ledger}`);
      expect(readFileSync(ledger, "utf8")).toBe(before);
      expect(statSync(linked).ino).toBe(statSync(ledger).ino);
    } finally {
      await holder.release();
    }
    // Free again: the repair runs (it takes and releases the account's lock).
    const run = await runCli(["ledger", "repair", "--ledger", linked], { env: { CR2COMMS_STATE_DIR: stateDir, CR2COMMS_COMMS_URL: ORIGIN } });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain("moved 1 unreadable line(s)");
  });
});

describe("V1: which account locks ledger repair takes", () => {
  /** Records each account lock taken and released, in order. */
  function recorder() {
    const log: string[] = [];
    const lockAccount = async (sid: string, real: string): Promise<HeldLock> => {
      log.push(`lock ${sid} ${real}`);
      return { path: `/locks/${sid}`, ledgerPath: real, warnings: [`held ${sid}`], release: async () => void log.push(`release ${sid}`) };
    };
    return { log, lockAccount };
  }

  it("V1: without the account, each account the readable events are stamped with (once, sorted), released after; with it, only that one", async () => {
    const dir = scratch();
    const path = join(dir, "ledger.jsonl");
    const other = `AC${"a".repeat(32)}`;
    stampedLedger(path, `${JSON.stringify({ v: 1, ts: "2026-01-01T00:00:02.000Z", accountSid: other, legacySid: SID(2), event: "confirmed", commsCredentialId: "c2" })}\n`);
    const r = recorder();
    const result = await repairLedger(path, { lockAccount: r.lockAccount });
    expect(r.log).toEqual([`lock ${other} ${path}`, `lock ${AC} ${path}`, `release ${AC}`, `release ${other}`]);
    expect(result.warnings).toEqual([`held ${other}`, `held ${AC}`]);
    expect(result.moved.map((m) => m.line)).toEqual([2]);
    const given = recorder();
    await repairLedger(path, { accountSid: AC, lockAccount: given.lockAccount });
    expect(given.log).toEqual([`lock ${AC} ${path}`, `release ${AC}`]);
  });

  it("V1: a ledger naming no account, or none at all, takes no account lock", async () => {
    const dir = scratch();
    const path = join(dir, "ledger.jsonl");
    const r = recorder();
    expect(await repairLedger(path, { lockAccount: r.lockAccount })).toEqual({ moved: [], kept: 0, warnings: [] });
    writeFileSync(path, `${JSON.stringify({ v: 1, ts: "2026-01-01T00:00:00.000Z", legacySid: SID(1), event: "confirmed", commsCredentialId: "c1" })}\n{torn`);
    const result = await repairLedger(path, { lockAccount: r.lockAccount });
    expect(result.moved.map((m) => m.kind)).toEqual(["torn"]);
    expect(r.log).toEqual([]);
  });
});

describe("V2: ledger rebuild after a rollback whose delete Comms accepted but was not seen gone", () => {
  const x = "comms_credential_x00001";
  const y = "comms_credential_y00002";
  const target = (credentialType: "APN" | "APN_SANDBOX") => ({ appName: "app_ios", credentialType, isDefault: false });
  const report = (kind: RunReport["kind"], runId: string, startedAt: string, items: RunReport["items"]): RunReport => ({
    path: `${kind}-${runId}.json`,
    kind,
    accountSid: AC,
    runId,
    startedAt,
    finishedAt: startedAt,
    items,
  });
  // Two applies made X and Y in one App; a rollback narrowed to the first report had its DELETE of X
  // accepted (202) while Comms went on listing X.
  const reports = [
    report("apply", "apply-1", "2025-06-01T10:00:00.000Z", [{ legacySid: SID(1), action: "create", status: "confirmed", commsCredentialId: x, target: target("APN") }]),
    report("apply", "apply-2", "2025-06-01T10:10:00.000Z", [{ legacySid: SID(2), action: "create", status: "confirmed", commsCredentialId: y, target: target("APN_SANDBOX") }]),
    report("rollback", "rollback-1", "2025-06-01T11:00:00.000Z", [{ legacySid: SID(1), action: "delete", status: "accepted-unconfirmed", commsCredentialId: x, target: null }]),
  ];
  const listed = [commsCred({ id: x, appName: "app_ios", credentialType: "APN" }), commsCred({ id: y, appName: "app_ios", credentialType: "APN_SANDBOX" })];

  it("V2: the rebuilt ledger keeps X's delete pending: a rollback of the second report is refused (Y is the App's last credential)", () => {
    const entries = replay(reports.flatMap(eventsFromReport));
    expect(entries.get(SID(1))!.pendingDeletes).toEqual([x]);
    const rb = planRollback(entries, listed, { onlyIds: new Set([y]), allowAppDeletion: false });
    expect(rb.deletes).toEqual([]);
    expect(rb.refused.map((r) => [r.appName, r.candidates.map((c) => c.commsCredentialId), r.deletesPending])).toEqual([["app_ios", [y], [x]]]);
  });

  it("V2: status of the rebuilt ledger shows X as delete-pending, not in sync", () => {
    const status = computeStatus(replay(reports.flatMap(eventsFromReport)), listed, { now: NOW });
    expect(status.rows.filter((r) => r.legacySid === SID(1)).map((r) => [r.commsCredentialId, r.kind])).toEqual([[x, "delete-pending"]]);
  });
});

describe("V3: a takeover killed between creating its claim and writing it", () => {
  const dead = 2 ** 22 + 17;
  const staleLock = JSON.stringify({ pid: dead, host: hostname(), command: "apply", startedAt: "2026-01-01T00:00:00.000Z", id: "0123456789abcdef" });
  /** The claim file a takeover of `staleRaw` at `lock` creates. */
  const claimFor = (lock: string, staleRaw: string) => join(lock, "..", `.cr2comms-takeover-${createHash("sha256").update(`${basename(lock)}\n${staleRaw}`).digest("hex")}`);

  it("V3: an empty claim left beside a stale lock: the refusal names both files to delete once no cr2comms runs (not only \"try again\")", async () => {
    const dir = scratch();
    const path = join(dir, "ledger.jsonl");
    const lock = lockPathFor(path);
    writeFileSync(lock, staleLock);
    const claim = claimFor(lock, staleLock);
    writeFileSync(claim, "");
    const err = await acquireLock(path, { command: "apply", isAlive: () => false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LockedError);
    expect((err as Error).message).toContain(`if no cr2comms is running, delete ${lock} and ${claim}`);
    expect(readFileSync(lock, "utf8")).toBe(staleLock);
  });
});

describe("V3: a takeover whose claim cannot be written (a full disk)", () => {
  it("V3: fails saying so, leaves no claim behind, and once the disk has room the next run takes the stale lock over", async () => {
    const dir = scratch();
    const path = join(dir, "ledger.jsonl");
    const lock = lockPathFor(path);
    const staleLock = JSON.stringify({ pid: 2 ** 22 + 17, host: hostname(), command: "apply", startedAt: "2026-01-01T00:00:00.000Z", id: "0123456789abcdef" });
    writeFileSync(lock, staleLock);
    full.disk = (p) => p.includes("cr2comms-takeover-");
    const err = await acquireLock(path, { command: "apply", isAlive: () => false }).catch((e: unknown) => e);
    expect((err as Error).message).toBe(`cannot take over the stale lock ${lock}: ENOSPC (no space left on device)`);
    expect(readdirSync(dir).filter((n) => n.includes("takeover"))).toEqual([]);
    full.disk = undefined;
    const held = await acquireLock(path, { command: "apply", isAlive: () => false });
    expect(held.warnings[0]).toContain(`took over the lock ${lock}`);
    await held.release();
    expect(readdirSync(dir)).toEqual(["ledger.jsonl"].filter((n) => existsSync(join(dir, n))));
  });
});

describe("V4: replay of a copied `delete-accepted` in a ledger whose lines name no run", () => {
  const x = "comms_credential_x00001";
  const y = "comms_credential_y00002";
  const b = { v: 1, ts: "2025-06-01T10:00:00.000Z", accountSid: AC, legacySid: SID(1) } as const;
  const made = (id: string, attemptId: string) => [
    { ...b, event: "attempt", attemptId, appName: "app_ios", credentialType: "APN", isDefault: false, startedAt: b.ts },
    { ...b, event: "accepted", attemptId, commsCredentialId: id },
    { ...b, event: "confirmed", commsCredentialId: id },
  ];
  const deleteAccepted = { ...b, event: "delete-accepted", commsCredentialId: x, reason: "rollback" };
  // X made, rolled back (accepted, then seen gone), Y made again; then the old `delete-accepted` again.
  const events = [...made(x, "a1"), deleteAccepted, { ...b, event: "deleted", commsCredentialId: x, reason: "rollback" }, ...made(y, "a2"), deleteAccepted] as unknown as LedgerEvent[];

  it("V4: a delete of an id already recorded gone is stale: nothing pending, status shows no delete-pending row", () => {
    const { entries, stale } = replayLedger(events);
    expect(entries.get(SID(1))!.pendingDeletes).toBeUndefined();
    expect(stale.map((s) => s.index)).toEqual([8]);
    const status = computeStatus(entries, [commsCred({ id: y, appName: "app_ios", credentialType: "APN" })], { now: NOW });
    expect(status.rows.map((r) => [r.commsCredentialId, r.kind])).toEqual([[y, "in-sync"]]);
  });

  it("V4: `ledger check` flags the copied line", async () => {
    const path = join(scratch(), "ledger.jsonl");
    writeFileSync(path, events.map((e) => JSON.stringify(e)).join("\n") + "\n");
    const check = await checkLedger(path, { accountSid: AC, now: NOW });
    expect(check.problems.map((p) => [p.kind, p.line])).toEqual([["stale", 9]]);
  });
});

describe("V5: apply after a rollback of a finished replacement, while Comms still lists the replaced credential", () => {
  it("V5: the replaced credential (its delete already accepted) is not kept as the sid's credential: the sid is created again", () => {
    const x = "comms_credential_x00001";
    const y = "comms_credential_y00002";
    const b = { v: 1, ts: "2025-06-01T10:00:00.000Z", accountSid: ACCOUNT, legacySid: sid(1) } as const;
    const events = [
      { ...b, runId: "r1", event: "attempt", attemptId: "a1", appName: "app_ios", credentialType: "APN", isDefault: false, startedAt: b.ts },
      { ...b, runId: "r1", event: "accepted", attemptId: "a1", commsCredentialId: x },
      { ...b, runId: "r1", event: "confirmed", commsCredentialId: x },
      { ...b, runId: "r2", event: "attempt", attemptId: "a2", appName: "app_ios", credentialType: "APN", isDefault: false, startedAt: b.ts, replaces: x },
      { ...b, runId: "r2", event: "accepted", attemptId: "a2", commsCredentialId: y },
      { ...b, runId: "r2", event: "confirmed", commsCredentialId: y },
      // The replacement's DELETE of X was accepted (202) and journalled; Comms lists X a while longer.
      { ...b, runId: "r2", event: "deleted", commsCredentialId: x, reason: `replaced by ${y}` },
      { ...b, runId: "r3", event: "delete-accepted", commsCredentialId: y, reason: "rollback" },
      { ...b, runId: "r3", event: "deleted", commsCredentialId: y, reason: "rollback" },
    ] as unknown as LedgerEvent[];
    const snap = snapshot({ legacy: [legacy({ sid: sid(1) })], comms: [commsCred({ id: x })], ledger: replay(events) });
    const item = plan(snap, mapping(entry({ sid: sid(1) })), new Map([[sid(1), okSecret(sid(1))]]), { now: NOW }).items[0]!;
    expect(item.action).toBe("create");
    expect(item.commsCredentialId).toBeUndefined();
  });
});

describe("V6: a live lock naming this very pid and host, not held by this process (two containers with one host name, each cr2comms as pid 1, one shared reports volume)", () => {
  const own = (over: Record<string, unknown> = {}) =>
    JSON.stringify({ pid: process.pid, host: hostname(), command: "apply", startedAt: "2026-01-01T00:00:00.000Z", id: "0123456789abcdef", ...over });

  it("V6: a lock refreshed moments ago is refused, never taken over (the other container's run goes on alone)", async () => {
    const path = join(scratch(), "ledger.jsonl");
    writeFileSync(lockPathFor(path), own());
    const err = await acquireLock(path, { command: "apply" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LockedError);
    expect((err as Error).message).toContain("it names this very pid and host but not this process");
    expect(readFileSync(lockPathFor(path), "utf8")).toBe(own());
  });

  it("V6: a held lock is refreshed while held; released, it is gone", async () => {
    const path = join(scratch(), "ledger.jsonl");
    const held = await acquireLock(path, { command: "apply", refreshMs: 5 });
    const lock = lockPathFor(path);
    const old = new Date(Date.now() - 3_600_000);
    utimesSync(lock, old, old);
    // An hour back (mtimes are not exact to the millisecond): refreshed means near now again.
    const refreshed = () => statSync(lock).mtimeMs > old.getTime() + 1_800_000;
    for (let i = 0; i < 400 && !refreshed(); i++) await new Promise((r) => setTimeout(r, 5));
    expect(refreshed()).toBe(true);
    await held.release();
    expect(existsSync(lock)).toBe(false);
  });
});
