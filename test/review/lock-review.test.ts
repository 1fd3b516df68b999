/**
 * One writer per account per machine, whatever the ledger's path; a stale lock naming this very
 * process; any ledger name; an unfinished replacement through `ledger rebuild`.
 */
import { copyFileSync, existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { holdLedger } from "../../src/cli/exclusive.js";
import type { Runtime } from "../../src/cli/runtime.js";
import { startEmulator, type Emulator } from "../../src/emulator/index.js";
import { LockedError, NotWritableError } from "../../src/errors.js";
import { accountLockPath, acquireAccountLock, acquireLock, lockPathFor } from "../../src/ledger/lock.js";
import { rebuildLedger } from "../../src/ledger/rebuild.js";
import { DEMO_ENV, emulatorEnv, parseJson, runCli, workspace } from "../e2e/harness.js";
import { FIXTURES } from "../secrets/helpers.js";

const SID = (n: number) => `CR${String(n).padStart(32, "0")}`;
const AC = `AC${"a".repeat(32)}`;
const scratch = () => mkdtempSync(join(tmpdir(), "lock-review-"));

let emu: Emulator | undefined;
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

/** A dead process's pid (nothing runs under it until the OS reuses it). */
const staleText = (pid: number, over: Record<string, unknown> = {}) =>
  JSON.stringify({ pid, host: hostname(), command: "apply", startedAt: "2026-01-01T00:00:00.000Z", id: "0123456789abcdef", ...over });

describe("L1: one ledger lock whatever the ledger's spelling", () => {
  it("a symlink to the ledger, a symlinked folder, and a ledger not created yet in a symlinked folder all share the real path's lock", async () => {
    const dir = scratch();
    mkdirSync(join(dir, "real"));
    const real = join(dir, "real", "ledger.jsonl");
    writeFileSync(real, "");
    symlinkSync(real, join(dir, "alias.jsonl"));
    symlinkSync(join(dir, "real"), join(dir, "linked-dir"));
    const held = await acquireLock(real, { command: "apply" });
    try {
      for (const other of [join(dir, "alias.jsonl"), join(dir, "linked-dir", "ledger.jsonl")]) {
        const err = await acquireLock(other, { command: "apply" }).catch((e: unknown) => e);
        expect(err, other).toBeInstanceOf(LockedError);
        expect((err as Error).message).toContain(`holds ${real}.lock`);
      }
    } finally {
      await held.release();
    }
    // Not created yet: the folder's real path and the name.
    const fresh = await acquireLock(join(dir, "linked-dir", "new.jsonl"), { command: "apply" });
    expect(fresh.ledgerPath).toBe(join(dir, "real", "new.jsonl"));
    expect(fresh.path).toBe(join(dir, "real", "new.jsonl.lock"));
    const again = await acquireLock(join(dir, "real", "new.jsonl"), { command: "apply" }).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(LockedError);
    await fresh.release();
    expect(readdirSync(join(dir, "real")).sort()).toEqual(["ledger.jsonl"]);
  });
});

describe("L1: one run per account per machine (the account lock in the state dir)", () => {
  const opts = (stateDir: string, ledgerPath: string, over: Partial<Parameters<typeof acquireAccountLock>[0]> = {}) => ({
    command: "apply",
    stateDir,
    stateDirFrom: "CR2COMMS_STATE_DIR",
    accountSid: AC,
    origin: "https://comms.twilio.com",
    ledgerPath,
    ...over,
  });

  it("a second ledger of the account is refused, naming the other ledger and its holder; another origin or account is independent", async () => {
    const stateDir = join(scratch(), "state");
    const first = await acquireAccountLock(opts(stateDir, "/srv/a/ledger.jsonl", { now: () => new Date("2026-03-04T05:06:07Z") }));
    try {
      const err = await acquireAccountLock(opts(stateDir, "/srv/b/ledger.jsonl")).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LockedError);
      expect((err as LockedError).exitCode).toBe(1);
      expect((err as Error).message).toBe(
        `another cr2comms apply (pid ${process.pid} on host ${hostname()}, started 2026-03-04T05:06:07.000Z) is working on account ${AC} at https://comms.twilio.com with the ledger /srv/a/ledger.jsonl; one account takes one run at a time on this machine, whatever its ledger: wait for it to finish, or, if that process is no longer running, delete ${first.path}`,
      );
      // Many accounts (and emulators of one sample account on other ports) at once, in one process.
      const others = await Promise.all([
        ...Array.from({ length: 6 }, (_, i) => acquireAccountLock(opts(stateDir, `/srv/${i}.jsonl`, { accountSid: `AC${String(i).repeat(32)}` }))),
        ...Array.from({ length: 6 }, (_, i) => acquireAccountLock(opts(stateDir, `/srv/e${i}.jsonl`, { origin: `http://127.0.0.1:${40000 + i}` }))),
      ]);
      expect(new Set(others.map((l) => l.path)).size).toBe(12);
      await Promise.all(others.map((l) => l.release()));
    } finally {
      await first.release();
    }
    expect(existsSync(first.path)).toBe(false);
    const after = await acquireAccountLock(opts(stateDir, "/srv/b/ledger.jsonl"));
    expect(after.warnings).toEqual([]);
    await after.release();
  });

  it("the same account twice at once in one process: exactly one gets it", async () => {
    const stateDir = scratch();
    const settled = await Promise.allSettled([acquireAccountLock(opts(stateDir, "/x/1.jsonl")), acquireAccountLock(opts(stateDir, "/x/2.jsonl"))]);
    const won = settled.filter((s) => s.status === "fulfilled");
    expect(won).toHaveLength(1);
    expect(settled.find((s) => s.status === "rejected")).toMatchObject({ reason: expect.any(LockedError) });
    await (won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof acquireAccountLock>>>).value.release();
  });

  it("a state dir that cannot be created: NotWritableError naming it and the variable", async () => {
    const dir = scratch();
    writeFileSync(join(dir, "file"), "");
    const stateDir = join(dir, "file", "state");
    const err = await acquireAccountLock(opts(stateDir, "/x/1.jsonl", { stateDirFrom: "XDG_STATE_HOME" })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotWritableError);
    expect((err as Error).message).toBe(
      `cannot write the state dir ${stateDir} (from XDG_STATE_HOME), where cr2comms keeps one lock per account: ENOTDIR (not a directory); set CR2COMMS_STATE_DIR to a folder this user can write`,
    );
  });

  it("an account lock of a live run that does not name its ledger (written by something else) is held all the same", async () => {
    const stateDir = scratch();
    const path = accountLockPath(stateDir, AC, "https://comms.twilio.com");
    mkdirSync(join(stateDir, "locks"));
    writeFileSync(path, staleText(process.ppid));
    const err = await acquireAccountLock(opts(stateDir, "/new/ledger.jsonl")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LockedError);
    expect((err as Error).message).toContain(`(pid ${process.ppid} on host ${hostname()}, started 2026-01-01T00:00:00.000Z) is working on account ${AC} at https://comms.twilio.com with the ledger (not named);`);
  });

  it("a stale account lock of a process that is gone is taken over with a warning", async () => {
    const stateDir = scratch();
    const path = accountLockPath(stateDir, AC, "https://comms.twilio.com");
    mkdirSync(join(stateDir, "locks"));
    writeFileSync(path, staleText(999_999_999, { ledger: "/old/ledger.jsonl" }));
    const held = await acquireAccountLock(opts(stateDir, "/new/ledger.jsonl"));
    expect(held.warnings).toEqual([`took over the lock ${path} left by cr2comms apply (pid 999999999 on host ${hostname()}, started 2026-01-01T00:00:00.000Z), which no longer runs`]);
    expect(JSON.parse(readFileSync(path, "utf8"))).toMatchObject({ pid: process.pid, ledger: "/new/ledger.jsonl" });
    await held.release();
  });
});

describe("L1: holdLedger takes and releases both locks, per account, many accounts at once", () => {
  const runtime = (stateDir: string, ledgerPath: string, accountSid: string, warnings: string[]) =>
    ({
      settings: { ledgerPath, reportsDir: join(ledgerPath, "..", "reports"), stateDir, stateDirFrom: "CR2COMMS_STATE_DIR", commsUrl: "https://comms.twilio.com/v1" },
      credentials: { accountSid },
      logger: { warn: (w: string) => warnings.push(w) },
      ledger: { prepareForAppend: async () => [] },
    }) as unknown as Runtime;

  it("accounts are independent; the same account with another ledger is refused; release frees both locks", async () => {
    const dir = scratch();
    const stateDir = join(dir, "state");
    const warnings: string[] = [];
    const accounts = Array.from({ length: 8 }, (_, i) => `AC${String(i).repeat(32)}`);
    const releases = await Promise.all(accounts.map((a, i) => holdLedger(runtime(stateDir, join(dir, `a${i}`, "ledger.jsonl"), a, warnings), "rollback")));
    const err = await holdLedger(runtime(stateDir, join(dir, "other", "ledger.jsonl"), accounts[3]!, warnings), "rollback").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LockedError);
    expect((err as Error).message).toContain(`is working on account ${accounts[3]} at https://comms.twilio.com with the ledger ${join(dir, "a3", "ledger.jsonl")}`);
    // The refused run let go of the ledger lock it had taken.
    expect(existsSync(lockPathFor(join(dir, "other", "ledger.jsonl")))).toBe(false);
    await Promise.all(releases.map((r) => r()));
    expect(readdirSync(join(stateDir, "locks"))).toEqual([]);
    expect(accounts.map((_, i) => existsSync(lockPathFor(join(dir, `a${i}`, "ledger.jsonl"))))).toEqual(accounts.map(() => false));
    expect(warnings).toEqual([]);
  });
});

describe("L1 through the CLI: apply with another ledger of an account being applied is refused", () => {
  async function setup() {
    emu = await startEmulator({ port: 0 });
    const ws = workspace();
    const stateDir = join(ws.dir, "state");
    const env = { ...emulatorEnv(emu, DEMO_ENV), CR2COMMS_STATE_DIR: stateDir };
    return { e: emu, ws, stateDir, env };
  }

  it("a symlinked, a hard-linked and a second reports dir's ledger: exit 1 naming the ledger in use and its holder; nothing sent; ledger repair and rebuild alike", async () => {
    const { e, ws, stateDir, env } = await setup();
    const first = await runCli(["apply", "--yes", "--json", "--mapping", ws.mapping, "--reports-dir", ws.reports], { env });
    expect(first.code).toBe(0);
    const ledger = join(ws.reports, "ledger.jsonl");
    symlinkSync(ledger, join(ws.dir, "symlinked.jsonl"));
    linkSync(ledger, join(ws.dir, "hardlinked.jsonl"));
    // This test holds the account, as a running apply with the first ledger would.
    const holder = await acquireAccountLock({ command: "apply", stateDir, stateDirFrom: "CR2COMMS_STATE_DIR", accountSid: e.accountSid, origin: e.url, ledgerPath: ledger });
    try {
      const writes = e.writeCount();
      for (const args of [
        ["--ledger", join(ws.dir, "hardlinked.jsonl")],
        ["--ledger", join(ws.dir, "symlinked.jsonl")],
        ["--reports-dir", join(ws.dir, "other-reports")],
      ]) {
        const run = await runCli(["apply", "--yes", "--mapping", ws.mapping, "--reports-dir", ws.reports, ...args], { env });
        expect(run.code, args.join(" ")).toBe(1);
        expect(run.stderr).toContain(`another cr2comms apply (pid ${process.pid} on host ${hostname()}`);
        expect(run.stderr).toContain(`is working on account ${e.accountSid} at ${e.url} with the ledger ${ledger}`);
      }
      expect(e.writeCount()).toBe(writes);
      // ledger repair (given the account) and rebuild write a ledger too: refused alike.
      for (const action of [["repair"], ["rebuild", "--force"]]) {
        const run = await runCli(["ledger", ...action, "--ledger", join(ws.dir, "hardlinked.jsonl"), "--reports-dir", ws.reports], { env });
        expect(run.code, action[0]).toBe(1);
        expect(run.stderr).toContain(`is working on account ${e.accountSid} at ${e.url} with the ledger ${ledger}`);
      }
      expect(readFileSync(join(ws.dir, "hardlinked.jsonl"), "utf8")).toBe(readFileSync(ledger, "utf8"));
    } finally {
      await holder.release();
    }
    // Released: the account is free again, and the runs left no lock behind.
    expect(readdirSync(join(stateDir, "locks"))).toEqual([]);
    const rerun = await runCli(["apply", "--yes", "--mapping", ws.mapping, "--ledger", join(ws.dir, "hardlinked.jsonl"), "--reports-dir", ws.reports], { env });
    expect(rerun.code).toBe(0);
    expect(readdirSync(join(stateDir, "locks"))).toEqual([]);
  });

  it("a state dir that cannot be created: exit 1 naming it and CR2COMMS_STATE_DIR; nothing sent", async () => {
    const { e, ws, env } = await setup();
    writeFileSync(join(ws.dir, "file"), "");
    const stateDir = join(ws.dir, "file", "state");
    const run = await runCli(["apply", "--yes", "--mapping", ws.mapping, "--reports-dir", ws.reports], { env: { ...env, CR2COMMS_STATE_DIR: stateDir } });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`cannot write the state dir ${stateDir} (from CR2COMMS_STATE_DIR)`);
    expect(e.writeCount()).toBe(0);
    // The ledger's lock was released too.
    expect(existsSync(lockPathFor(join(ws.reports, "ledger.jsonl")))).toBe(false);
  });
});

describe("L2: a stale lock naming this very process (a reused pid)", () => {
  it("is taken over with a warning when this process does not hold it and it was not refreshed for a minute; held by this process, it is refused", async () => {
    const dir = scratch();
    const path = join(dir, "ledger.jsonl");
    writeFileSync(lockPathFor(path), staleText(process.pid));
    // Left long ago: not refreshed since (a live holder refreshes its lock).
    const longAgo = new Date(Date.now() - 3_600_000);
    utimesSync(lockPathFor(path), longAgo, longAgo);
    const held = await acquireLock(path, { command: "apply" });
    expect(held.warnings).toEqual([
      `took over the lock ${lockPathFor(path)} left by cr2comms apply (pid ${process.pid} on host ${hostname()}, started 2026-01-01T00:00:00.000Z): it names this very process, which does not hold it, and was not refreshed for 60 s (an earlier run that had the same pid)`,
    ]);
    try {
      const err = await acquireLock(path, { command: "rollback" }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LockedError);
      expect((err as Error).message).toContain(`another cr2comms apply (pid ${process.pid} on host ${hostname()}`);
    } finally {
      await held.release();
    }
    expect(existsSync(lockPathFor(path))).toBe(false);
  });

  it("the account lock alike", async () => {
    const stateDir = scratch();
    const path = accountLockPath(stateDir, AC, "https://comms.twilio.com");
    mkdirSync(join(stateDir, "locks"));
    writeFileSync(path, staleText(process.pid, { ledger: "/old.jsonl" }));
    utimesSync(path, new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000));
    const held = await acquireAccountLock({ command: "apply", stateDir, stateDirFrom: "CR2COMMS_STATE_DIR", accountSid: AC, origin: "https://comms.twilio.com", ledgerPath: "/new.jsonl" });
    expect(held.warnings[0]).toContain("it names this very process, which does not hold it");
    await held.release();
  });
});

describe("L4: a ledger of any name can be locked, and a stale lock of it taken over", () => {
  it("names from 180 to 255 bytes", async () => {
    const dir = scratch();
    for (const length of [180, 182, 200, 226, 229, 232, 233, 240, 255]) {
      const path = join(dir, `${"l".repeat(length - 6)}.jsonl`);
      const lock = lockPathFor(path);
      writeFileSync(lock, staleText(999_999_999));
      const held = await acquireLock(path, { command: "apply" });
      expect(held.warnings, `${length}`).toHaveLength(1);
      expect(held.path).toBe(lock);
      const refused = await acquireLock(path, { command: "apply" }).catch((e: unknown) => e);
      expect(refused, `${length}`).toBeInstanceOf(LockedError);
      await held.release();
      expect(existsSync(lock)).toBe(false);
    }
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe("L5: ledger rebuild --force never renames the old ledger over a symlink at its aside name", () => {
  it("a dangling symlink and a symlink loop at the name: both stay, the old ledger goes to the next name", async () => {
    const dir = scratch();
    const reports = join(dir, "reports");
    mkdirSync(reports);
    const report = {
      schemaVersion: 1,
      kind: "apply",
      accountSid: AC,
      runId: "run-1",
      startedAt: "2026-01-01T00:00:00.000Z",
      finishedAt: "2026-01-01T00:00:01.000Z",
      items: [{ legacySid: SID(1), action: "create", status: "confirmed", commsCredentialId: "CC1", target: { appName: "app", credentialType: "APN", isDefault: true } }],
    };
    writeFileSync(join(reports, "apply-20260101T000000Z.json"), JSON.stringify(report));
    const now = () => new Date("2026-02-03T04:05:06Z");
    const path = join(dir, "ledger.jsonl");
    const aside = `${path}.before-rebuild-20260203T040506Z`;
    for (const [name, target] of [
      ["dangling", join(dir, "nowhere")],
      ["loop", aside],
    ] as const) {
      writeFileSync(path, `{"old":"${name}"}\n`);
      rmSync(aside, { force: true });
      rmSync(`${aside}-2`, { force: true });
      symlinkSync(target, aside);
      const result = await rebuildLedger({ ledgerPath: path, reportsDir: reports, force: true, now });
      expect(result.movedAside, name).toBe(`${aside}-2`);
      expect(readFileSync(`${aside}-2`, "utf8")).toBe(`{"old":"${name}"}\n`);
      expect(existsSync(join(dir, "nowhere"))).toBe(false);
    }
  });
});

describe("L3: an unfinished replacement survives a lost ledger and `ledger rebuild`", () => {
  it("rotation stopped between the new credential and the old one's delete, ledger lost, rebuilt: the rerun deletes the old one once, creates nothing, status in sync", async () => {
    emu = await startEmulator({ port: 0 });
    const e = emu;
    const ws = workspace();
    const env = emulatorEnv(e, DEMO_ENV);
    const cli = (args: string[]) => runCli([...args, "--json", "--mapping", ws.mapping, "--reports-dir", ws.reports], { env });
    const applied = await cli(["apply", "--yes"]);
    expect(applied.code).toBe(0);
    const oldId: string = parseJson(applied.stdout).items.find((i: any) => i.legacySid === SID(1)).commsCredentialId;
    const secrets = join(ws.dir, "mappings", "examples", "secrets");
    copyFileSync(join(FIXTURES, "apn-cn-prod.cert.pem"), join(secrets, "renewed.cert.pem"));
    copyFileSync(join(FIXTURES, "apn-cn-prod.key.pem"), join(secrets, "renewed.key.pem"));
    writeFileSync(ws.mapping, readFileSync(ws.mapping, "utf8").replace("limonade-ios-prod.cert.pem", "renewed.cert.pem").replace("limonade-ios-prod.key.pem", "renewed.key.pem"));
    const apns = () => e.state.commsCredentials().filter((c) => c.appName === "limonade_ios" && c.credentialType === "APN");

    // The old credential's delete never reaches Comms: the run stops with the new one in place.
    e.setFaults({ script: [{ method: "DELETE", kind: "drop-before-commit", times: 20 }] });
    const start = e.requests.length;
    const stopped = await cli(["apply", "--yes"]);
    e.setFaults(undefined);
    const item = parseJson(stopped.stdout).items.find((i: any) => i.legacySid === SID(1));
    expect(item).toMatchObject({ action: "replace", status: "failed", replaces: { commsCredentialId: oldId } });
    const newId: string = item.commsCredentialId;
    expect(apns().map((c) => c.id).sort()).toEqual([newId, oldId].sort());

    rmSync(join(ws.reports, "ledger.jsonl"));
    const rebuilt = await cli(["ledger", "rebuild"]);
    expect(rebuilt.code).toBe(0);

    const rerun = await cli(["apply", "--yes"]);
    expect(rerun.code).toBe(0);
    expect(parseJson(rerun.stdout).items.find((i: any) => i.legacySid === SID(1))).toMatchObject({ action: "replace", status: "confirmed", commsCredentialId: newId });
    expect(apns()).toMatchObject([{ id: newId, isDefault: true }]);
    const sent = e.requests.slice(start);
    expect(sent.filter((r) => r.method === "POST" && /\/PushNotifications\/Credentials$/.test(r.path))).toHaveLength(1);
    expect(sent.filter((r) => r.method === "DELETE" && r.status !== "dropped" && typeof r.status === "number" && r.status < 300).map((r) => r.path)).toEqual([expect.stringContaining(oldId)]);

    const status = await cli(["status"]);
    expect(status.code).toBe(0);
    expect(parseJson(status.stdout).items.map((r: any) => r.kind)).toEqual(["in-sync", "in-sync", "in-sync", "in-sync"]);
  });
});
