/** `ledger check`, `ledger repair` and checkWritable beyond the common paths. */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LedgerReadError, LedgerWriteError, LockedError, NotWritableError } from "../../src/errors.js";
import { acquireLock, lockPathFor } from "../../src/ledger/lock.js";
import { rebuildLedger } from "../../src/ledger/rebuild.js";
import { checkLedger, repairLedger } from "../../src/ledger/repair.js";
import { checkWritable } from "../../src/ledger/writable.js";
import { TOOL_VERSION } from "../../src/version.js";

const A1 = "AC00000000000000000000000000000001";
const A2 = "AC00000000000000000000000000000002";
const A3 = "AC00000000000000000000000000000003";
const clock = () => new Date("2026-03-04T05:06:07Z");
const STAMP = "20260304T050607Z";
const ev = (n: number, over: Record<string, unknown> = {}) => JSON.stringify({ v: 1, ts: `t${n}`, event: "confirmed", legacySid: `CR${String(n).padStart(32, "0")}`, commsCredentialId: `comms_credential_${n}`, accountSid: A1, ...over });

function scratch(name = "ledger.jsonl"): { dir: string; path: string } {
  const dir = mkdtempSync(join(tmpdir(), "repair-"));
  return { dir, path: join(dir, name) };
}

describe("checkLedger", () => {
  it("a missing ledger: sound, empty, nothing to say", async () => {
    const { path } = scratch();
    expect(await checkLedger(path, { accountSid: A1 })).toEqual({ path, exists: false, ok: true, events: 0, credentials: 0, accounts: [], problems: [] });
  });

  it("an event stamped ahead of now by more than the allowance is flagged with how far; one within it, or unstamped, is not", async () => {
    const { path } = scratch();
    const now = new Date("2026-03-04T05:00:00.000Z");
    const at = (ms: number) => new Date(now.getTime() + ms).toISOString();
    const aheadBy = [10_000, 45_000, 20 * 60_000, 3 * 3_600_000, 3 * 3_600_000 + 20 * 60_000, 5 * 86_400_000];
    writeFileSync(path, [...aheadBy.map((ms, n) => ev(n + 1, { ts: at(ms) })), ev(9, { ts: "t9" })].join("\n") + "\n");
    const check = await checkLedger(path, { now, skewMs: 30_000 });
    expect(check.ok).toBe(false);
    expect(check.problems.map((p) => [p.kind, p.line, p.message.match(/Z, (.*?) ahead/)?.[1]])).toEqual([
      ["future", 2, "45 s"],
      ["future", 3, "20 min"],
      ["future", 4, "3 h"],
      ["future", 5, "3 h 20 min"],
      ["future", 6, "5 days"],
    ]);
    expect(check.problems[0]!.message).toBe(
      `line 2: stamped ${at(45_000)}, 45 s ahead of this machine's clock (2026-03-04T05:00:00.000Z; clocks may differ by 30 s): written while a clock was ahead — check the clock of the machine that ran it`,
    );
  });

  it("problems of lines come in line order, those of the whole file after them", async () => {
    const { path } = scratch();
    writeFileSync(path, `${ev(1, { accountSid: A2 })}\n${ev(2, { ts: "2099-01-01T00:00:00.000Z" })}\n{"v":1}\n`);
    const check = await checkLedger(path, { accountSid: A1, now: clock() });
    expect(check.problems.map((p) => [p.kind, p.line])).toEqual([
      ["future", 2],
      ["malformed", 3],
      ["other-account", undefined],
    ]);
  });

  it("a ledger that cannot be read is one problem, not an empty ledger", async () => {
    const { path } = scratch();
    mkdirSync(path);
    expect(await checkLedger(path)).toEqual({
      path,
      exists: true,
      ok: false,
      events: 0,
      credentials: 0,
      accounts: [],
      problems: [{ kind: "unreadable-file", message: `cannot read ${path}: EISDIR (illegal operation on a directory)` }],
    });
  });

  it("says for each damaged line what it is and why, naming the version a newer event has", async () => {
    const { path } = scratch();
    writeFileSync(path, `${ev(1)}\n{"v":1}\n${ev(2, { v: 2 })}\n`);
    const check = await checkLedger(path);
    expect(check.problems.map((p) => p.message)).toEqual([
      "line 2: not a readable ledger event: not a cr2comms ledger event (v1)",
      `line 3: written by a newer cr2comms (event version 2; this is cr2comms ${TOOL_VERSION}, which reads version 1)`,
    ]);
  });

  it("counts the credentials the ledger knows (deleted ones are not), and accepts events of no account", async () => {
    const { path } = scratch();
    writeFileSync(path, `${ev(1)}\n${ev(2)}\n${ev(3)}\n${ev(3, { event: "deleted" })}\n${ev(4, { accountSid: undefined })}\n`);
    expect(await checkLedger(path, { accountSid: A1 })).toEqual({ path, exists: true, ok: true, events: 5, credentials: 3, accounts: [A1], problems: [] });
    expect(await checkLedger(path)).toMatchObject({ ok: true, accounts: [A1], problems: [] });
  });

  it("events of several accounts: named with their counts, as other accounts when one is given", async () => {
    const { path } = scratch();
    writeFileSync(path, `${ev(1)}\n${ev(2, { accountSid: A2 })}\n${ev(3, { accountSid: A3 })}\n${ev(4, { accountSid: A3 })}\n`);
    expect((await checkLedger(path)).problems).toEqual([{ kind: "several-accounts", message: `events of several accounts: ${A1} (1), ${A2} (1), ${A3} (2)` }]);
    expect((await checkLedger(path, { accountSid: A1 })).problems).toEqual([{ kind: "other-account", message: `events of other accounts than ${A1}: ${A2} (1), ${A3} (2)` }]);
  });
});

describe("repairLedger", () => {
  it("a sound ledger is not rewritten", async () => {
    const { path } = scratch();
    writeFileSync(path, `${ev(1)}\n${ev(2)}\n`);
    const inode = statSync(path).ino;
    expect(await repairLedger(path, { now: clock })).toEqual({ moved: [], kept: 2, warnings: [] });
    expect(statSync(path).ino).toBe(inode);
  });

  it("a whole last event missing only its newline gets it; nothing is moved aside", async () => {
    const { dir, path } = scratch();
    writeFileSync(path, `${ev(1)}\n${ev(2)}`);
    expect(await repairLedger(path, { now: clock })).toEqual({ moved: [], kept: 2, warnings: [] });
    expect(readFileSync(path, "utf8")).toBe(`${ev(1)}\n${ev(2)}\n`);
    expect(readdirSync(dir)).toEqual(["ledger.jsonl"]);
  });

  it("a missing ledger: nothing to repair, and none is created", async () => {
    const { dir, path } = scratch();
    expect(await repairLedger(path, { now: clock })).toEqual({ moved: [], kept: 0, warnings: [] });
    expect(readdirSync(dir)).toEqual([]);
  });

  it("a ledger that cannot be read: LedgerReadError, and the lock is released", async () => {
    const { path } = scratch();
    mkdirSync(path);
    const err = await repairLedger(path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LedgerReadError);
    expect((err as Error).message).toBe(`cannot read the ledger ${path}: EISDIR (illegal operation on a directory)`);
    expect((err as Error).cause).toMatchObject({ code: "EISDIR" });
    expect(existsSync(lockPathFor(path))).toBe(false);
  });

  it("a second repair in the same second writes its lines to a new file, one JSON line each", async () => {
    const { path } = scratch();
    writeFileSync(path, `${ev(1)}\ngarbage\n`);
    const first = await repairLedger(path, { now: clock });
    writeFileSync(path, `${ev(1)}\nmore garbage\n{"v":1}\n`);
    const second = await repairLedger(path, { now: clock });
    expect([first.sidePath, second.sidePath]).toEqual([`${path}.unreadable-${STAMP}`, `${path}.unreadable-${STAMP}-2`]);
    expect(JSON.parse(readFileSync(first.sidePath!, "utf8")).text).toBe("garbage");
    const side = readFileSync(second.sidePath!, "utf8");
    expect(side.endsWith("\n")).toBe(true);
    expect(side.trimEnd().split("\n").map((l) => JSON.parse(l).text)).toEqual(["more garbage", '{"v":1}']);
  });

  it("when the unreadable lines cannot be set aside, the ledger is left as it was", async () => {
    // The ledger's and the lock's names fit the 255-byte limit; the side file's temporary name does not.
    const { path } = scratch(`${"l".repeat(214)}.jsonl`);
    const text = `${ev(1)}\ngarbage\n`;
    writeFileSync(path, text);
    const err = await repairLedger(path, { now: clock }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LedgerWriteError);
    expect((err as Error).message).toBe(`cannot write ${path}.unreadable-${STAMP}: ENAMETOOLONG (name too long)`);
    expect(err).toMatchObject({ path: `${path}.unreadable-${STAMP}`, code: "ENAMETOOLONG", cause: expect.objectContaining({ code: "ENAMETOOLONG" }) });
    expect(readFileSync(path, "utf8")).toBe(text);
  });
});

describe.skipIf(process.platform !== "linux")("while repair or rebuild runs, another run is refused, naming it", () => {
  // The ledger is a FIFO: the command takes the lock, then waits in its read until the test writes.
  async function whileReading(path: string, run: () => Promise<unknown>, ledgerText: string): Promise<{ refusal: Error; result: unknown }> {
    execFileSync("mkfifo", [path]);
    const running = run();
    const lock = lockPathFor(path);
    while (!existsSync(lock)) await new Promise((r) => setImmediate(r));
    const refusal = (await acquireLock(path, { command: "apply" }).catch((e: unknown) => e)) as Error;
    await writeFile(path, ledgerText);
    return { refusal, result: await running };
  }

  it("ledger repair", async () => {
    const { path } = scratch();
    const { refusal, result } = await whileReading(path, () => repairLedger(path), `${ev(1)}\n`);
    expect(refusal).toBeInstanceOf(LockedError);
    expect(refusal.message).toMatch(/^another cr2comms ledger repair \(pid \d+/);
    expect(result).toMatchObject({ kept: 1 });
  });

  it("ledger rebuild", async () => {
    const { dir, path } = scratch();
    const { refusal } = await whileReading(path, () => rebuildLedger({ ledgerPath: path, reportsDir: join(dir, "none") }).catch((e: unknown) => e), "");
    expect(refusal).toBeInstanceOf(LockedError);
    expect(refusal.message).toMatch(/^another cr2comms ledger rebuild \(pid \d+/);
  });
});

describe("checkWritable", () => {
  it("a reports dir that is a file: the error is the folder's (EEXIST), kept as the cause", async () => {
    const { dir } = scratch();
    const reportsDir = join(dir, "reports");
    writeFileSync(reportsDir, "");
    const err = await checkWritable({ ledgerPath: join(dir, "ledger.jsonl"), reportsDir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotWritableError);
    expect((err as Error).message).toBe(`cannot write the reports dir ${reportsDir}: EEXIST (file already exists); nothing was sent to Comms`);
    expect((err as Error).cause).toMatchObject({ code: "EEXIST" });
  });

  it("a reports dir in which no file can be created (its path leaves no room for a name)", async () => {
    const { dir } = scratch();
    // Just under PATH_MAX (4096): the folder can be made, a file in it cannot be named.
    const parts: string[] = [];
    while (join(dir, ...parts).length < 3850) parts.push("d".repeat(200));
    const reportsDir = join(dir, ...parts, "r".repeat(4080 - join(dir, ...parts).length));
    const err = await checkWritable({ ledgerPath: join(dir, "ledger.jsonl"), reportsDir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotWritableError);
    expect((err as Error).message).toBe(`cannot write the reports dir ${reportsDir}: ENAMETOOLONG (name too long); nothing was sent to Comms`);
    expect(existsSync(reportsDir)).toBe(true);
  });

  it("a ledger folder that cannot be created: named as the ledger's folder", async () => {
    const { dir } = scratch();
    writeFileSync(join(dir, "file"), "");
    const ledgerDir = join(dir, "file", "sub");
    await expect(checkWritable({ ledgerPath: join(ledgerDir, "ledger.jsonl"), reportsDir: join(dir, "reports") })).rejects.toThrow(
      `cannot write the ledger's folder ${ledgerDir}: ENOTDIR (not a directory); nothing was sent to Comms`,
    );
  });
});
