import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BlockedError, NotWritableError, UsageError } from "../../src/errors.js";
import { FileLedger, parseLedger, replay } from "../../src/ledger/ledger.js";
import { checkLedger, repairLedger } from "../../src/ledger/repair.js";
import { assertLedgerNotLost, eventsFromReport, findEarlierApplyReports, rebuildLedger, readRunReports } from "../../src/ledger/rebuild.js";
import { checkWritable } from "../../src/ledger/writable.js";
import { plan } from "../../src/plan/planner.js";
import { comms, entry, legacy, mapping, NOW, secretsFor, sid, snapshot } from "../plan/builders.js";

const A1 = "AC00000000000000000000000000000001";
const A2 = "AC00000000000000000000000000000002";
const clock = () => new Date("2026-03-04T05:06:07Z");
const ev = (n: number, over: Record<string, unknown> = {}) => JSON.stringify({ v: 1, ts: `t${n}`, event: "confirmed", legacySid: sid(n), commsCredentialId: `comms_credential_${n}`, accountSid: A1, ...over });

function scratch(): { dir: string; path: string; reports: string } {
  const dir = mkdtempSync(join(tmpdir(), "ledger-"));
  return { dir, path: join(dir, "reports", "ledger.jsonl"), reports: join(dir, "reports") };
}

function writeLedger(path: string, text: string): void {
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, text);
}

describe("checkLedger", () => {
  it("counts events and credentials of a sound ledger", async () => {
    const { path } = scratch();
    writeLedger(path, `${ev(1)}\n${ev(2)}\n${ev(2, { event: "deleted" })}\n`);
    expect(await checkLedger(path, { accountSid: A1 })).toMatchObject({ ok: true, events: 3, credentials: 1, accounts: [A1], problems: [] });
  });

  it("names every unreadable line, a torn tail, a newer version and another account; never changes the file", async () => {
    const { path } = scratch();
    const text = `${ev(1)}\ngarbage\n${ev(2, { v: 2 })}\n${ev(3, { accountSid: A2 })}\n{"v":1,"ev`;
    writeLedger(path, text);
    const check = await checkLedger(path, { accountSid: A1 });
    expect(check.ok).toBe(false);
    expect(check.problems.map((p) => [p.kind, p.line])).toEqual([
      ["malformed", 2],
      ["newer-version", 3],
      ["torn", 5],
      ["other-account", undefined],
    ]);
    expect(check.problems[3]!.message).toContain(`${A2} (1)`);
    expect(readFileSync(path, "utf8")).toBe(text);
  });

  it("a missing ledger is sound and empty", async () => {
    expect(await checkLedger(join(scratch().dir, "none.jsonl"))).toMatchObject({ exists: false, ok: true, events: 0 });
  });
});

describe("repairLedger", () => {
  it("moves every unreadable line aside with its number and keeps every readable event, in order, byte for byte", async () => {
    const { dir, path } = scratch();
    const keep = [ev(1), ev(2), ev(3), ev(4)];
    writeLedger(path, `${keep[0]}\n${keep[1]}\n{"v":1,"glued":${keep[2]}\n${keep[2]}\n\n${keep[3]}\n{"v":1,"tor`);
    const result = await repairLedger(path, { now: clock });
    expect(result.moved.map((m) => [m.line, m.kind])).toEqual([
      [3, "malformed"],
      [7, "torn"],
    ]);
    expect(result.kept).toBe(4);
    expect(result.sidePath).toBe(`${path}.unreadable-20260304T050607Z`);
    expect(readFileSync(path, "utf8")).toBe(keep.map((l) => `${l}\n`).join(""));
    const side = readFileSync(result.sidePath!, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(side).toEqual([
      expect.objectContaining({ line: 3, kind: "malformed", text: `{"v":1,"glued":${keep[2]}` }),
      expect.objectContaining({ line: 7, kind: "torn", text: '{"v":1,"tor' }),
    ]);
    expect(parseLedger(readFileSync(path, "utf8"), path)).toHaveLength(4);
    expect(readdirSync(join(dir, "reports")).filter((n) => n.endsWith(".lock"))).toEqual([]);
    // A second repair has nothing to do.
    expect((await repairLedger(path, { now: clock })).moved).toEqual([]);
  });

  it("refuses a ledger with events of a newer cr2comms and changes nothing", async () => {
    const { path } = scratch();
    const text = `${ev(1)}\ngarbage\n${ev(2, { v: 3 })}\n`;
    writeLedger(path, text);
    await expect(repairLedger(path)).rejects.toThrow(/:3: written by a newer cr2comms/);
    expect(readFileSync(path, "utf8")).toBe(text);
  });

  it("waits its turn: refused while another run holds the lock", async () => {
    const { path } = scratch();
    writeLedger(path, "garbage\n");
    const { acquireLock } = await import("../../src/ledger/lock.js");
    const held = await acquireLock(path, { command: "apply" });
    await expect(repairLedger(path)).rejects.toThrow(/another cr2comms apply/);
    expect(readFileSync(path, "utf8")).toBe("garbage\n");
    await held.release();
  });
});

/** An applied report as `writeReport` writes it (docs/reports.md). */
function report(kind: "apply" | "rollback", startedAt: string, items: object[], accountSid = A1) {
  return { schemaVersion: 1, kind, mode: "applied", generatedAt: startedAt, accountSid, tool: { name: "cr2comms", version: "0.1.0" }, runId: `run-${startedAt}`, startedAt, finishedAt: startedAt, interrupted: false, requests: {}, summary: {}, problems: [], warnings: [], items };
}
const target = (appName: string, credentialType = "APN") => ({ appName, credentialType, isDefault: false });
const secret = { kind: "apn", contentSha256: "sha-1", subject: "CN=x" };
const item = (n: number, status: string, over: object = {}) => ({
  legacySid: sid(n),
  friendlyName: null,
  legacyType: "apn",
  sandbox: false,
  action: "create",
  target: target("app_ios"),
  commsCredentialId: `comms_credential_${n}`,
  status,
  warnings: [],
  problems: [],
  secret,
  ...over,
});

function writeReports(dir: string, files: Record<string, object>): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, json] of Object.entries(files)) writeFileSync(join(dir, name), JSON.stringify(json));
}

describe("rebuildLedger", () => {
  it("writes the events the reports prove, oldest first, and the planner then sees nothing to create", async () => {
    const { path, reports } = scratch();
    writeReports(reports, {
      // Named out of order on purpose: the runs' startedAt decides.
      "apply-20260102T000000Z.json": report("apply", "2026-01-02T00:00:00.000Z", [item(1, "confirmed", { action: "already-migrated" }), item(2, "confirmed")]),
      "apply-20260101T000000Z.json": report("apply", "2026-01-01T00:00:00.000Z", [
        item(1, "confirmed"),
        item(3, "accepted-unconfirmed"),
        item(4, "failed", { commsCredentialId: undefined }),
        item(5, "skipped", { action: "drop", target: null, commsCredentialId: undefined }),
      ]),
      "rollback-20260103T000000Z.json": report("rollback", "2026-01-03T00:00:00.000Z", [item(2, "confirmed", { action: "delete" }), item(1, "skipped", { action: "refused" })]),
      "plan-20260101T000000Z.json": { schemaVersion: 1, kind: "plan", accountSid: A1, items: [] },
    });
    writeFileSync(join(reports, "apply-20260104T000000Z.json"), "{ not json");
    const result = await rebuildLedger({ ledgerPath: path, reportsDir: reports, now: clock });
    expect(result.fromReports.map((r) => [r.path.split("/").pop(), r.events])).toEqual([
      ["apply-20260101T000000Z.json", 2],
      ["apply-20260102T000000Z.json", 2],
      ["rollback-20260103T000000Z.json", 1],
    ]);
    expect(result.skipped.map((s) => s.path.split("/").pop())).toEqual(["apply-20260104T000000Z.json"]);
    const events = parseLedger(readFileSync(path, "utf8"), path);
    expect(events.map((e) => [e.event, e.legacySid])).toEqual([
      ["confirmed", sid(1)],
      ["accepted", sid(3)],
      ["confirmed", sid(1)],
      ["confirmed", sid(2)],
      ["deleted", sid(2)],
    ]);
    expect(events.every((e) => e.rebuilt === true && e.accountSid === A1)).toBe(true);

    const entries = await new FileLedger(path, () => NOW, A1).entries();
    expect(entries.get(sid(1))).toMatchObject({ state: "confirmed", commsCredentialId: "comms_credential_1", createdIds: ["comms_credential_1"], appName: "app_ios", credentialType: "APN", secret });
    expect(entries.get(sid(3))).toMatchObject({ state: "accepted", commsCredentialId: "comms_credential_3", appName: "app_ios", credentialType: "APN" });
    expect(entries.get(sid(2))).toMatchObject({ state: "deleted", createdIds: ["comms_credential_2"] });
    expect(result).toMatchObject({ accountSid: A1, events: 5, credentials: 2 });

    // What the planner makes of it: sid 1 migrated, sid 3 waited for (not a fresh create), sid 2 created again.
    const snap = snapshot({
      legacy: [legacy({ sid: sid(1) }), legacy({ sid: sid(2) }), legacy({ sid: sid(3) })],
      comms: [comms({ id: "comms_credential_1", appName: "app_ios" })],
      ledger: entries,
    });
    const p = plan(snap, mapping(entry({ sid: sid(1) }), entry({ sid: sid(2), appName: "app_two" }), entry({ sid: sid(3), appName: "app_three" })), secretsFor(sid(1), sid(2), sid(3)), { now: NOW });
    const bySid = new Map(p.items.map((i) => [i.legacySid, i]));
    expect(bySid.get(sid(1))).toMatchObject({ action: "already-migrated", commsCredentialId: "comms_credential_1" });
    expect(bySid.get(sid(3))).toMatchObject({ action: "create", commsCredentialId: "comms_credential_3" });
    expect(bySid.get(sid(3))!.warnings.join(" ")).toMatch(/waits for it/);
  });

  it("refuses a ledger that holds events unless --force, which moves it aside first", async () => {
    const { path, reports } = scratch();
    writeReports(reports, { "apply-20260101T000000Z.json": report("apply", "2026-01-01T00:00:00.000Z", [item(1, "confirmed")]) });
    writeLedger(path, `${ev(9)}\n`);
    const err = await rebuildLedger({ ledgerPath: path, reportsDir: reports }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BlockedError);
    expect((err as Error).message).toMatch(/already holds 1 line.*--force/);
    const forced = await rebuildLedger({ ledgerPath: path, reportsDir: reports, force: true, now: clock });
    expect(forced.movedAside).toBe(`${path}.before-rebuild-20260304T050607Z`);
    expect(readFileSync(forced.movedAside!, "utf8")).toBe(`${ev(9)}\n`);
    expect(parseLedger(readFileSync(path, "utf8"), path).map((e) => e.legacySid)).toEqual([sid(1)]);
  });

  it("reports of several accounts need --account-sid, which filters them", async () => {
    const { path, reports } = scratch();
    writeReports(reports, {
      "apply-20260101T000000Z.json": report("apply", "2026-01-01T00:00:00.000Z", [item(1, "confirmed")], A1),
      "apply-20260102T000000Z.json": report("apply", "2026-01-02T00:00:00.000Z", [item(2, "confirmed")], A2),
    });
    await expect(rebuildLedger({ ledgerPath: path, reportsDir: reports })).rejects.toBeInstanceOf(UsageError);
    expect(existsSync(path)).toBe(false);
    const result = await rebuildLedger({ ledgerPath: path, reportsDir: reports, accountSid: A2 });
    expect(result.fromReports).toHaveLength(1);
    expect(parseLedger(readFileSync(path, "utf8"), path).map((e) => [e.legacySid, e.accountSid])).toEqual([[sid(2), A2]]);
  });

  it("with nothing to rebuild from, says so and writes no ledger", async () => {
    const { path, reports } = scratch();
    await expect(rebuildLedger({ ledgerPath: path, reportsDir: reports })).rejects.toThrow(/no apply or rollback reports/);
    writeReports(reports, { "apply-20260101T000000Z.json": report("apply", "2026-01-01T00:00:00.000Z", [item(1, "failed", { commsCredentialId: undefined })]) });
    await expect(rebuildLedger({ ledgerPath: path, reportsDir: reports })).rejects.toThrow(/record no credential created/);
    expect(existsSync(path)).toBe(false);
  });

  it("eventsFromReport: an accepted-unconfirmed item keeps the time it was accepted (the settle time counts from it)", async () => {
    const { reports } = scratch();
    writeReports(reports, {
      "apply-20260101T000000Z.json": report("apply", "2026-01-01T00:00:00.000Z", [item(3, "accepted-unconfirmed", { timings: { startedAt: "a", finishedAt: "2026-01-01T00:00:05.000Z", ms: 5 } })]),
    });
    const [r] = (await readRunReports(reports)).reports;
    const [e] = eventsFromReport(r!);
    expect(e).toMatchObject({ event: "accepted", ts: "2026-01-01T00:00:05.000Z" });
    expect(replay([e!]).get(sid(3))?.acceptedAt).toBe("2026-01-01T00:00:05.000Z");
  });
});

describe("findEarlierApplyReports", () => {
  it("lists the apply reports of the account that record a created credential", async () => {
    const { reports } = scratch();
    writeReports(reports, {
      "apply-20260101T000000Z.json": report("apply", "2026-01-01T00:00:00.000Z", [item(1, "failed", { commsCredentialId: undefined })]),
      "apply-20260102T000000Z.json": report("apply", "2026-01-02T00:00:00.000Z", [item(1, "accepted-unconfirmed")]),
      "apply-20260103T000000Z.json": report("apply", "2026-01-03T00:00:00.000Z", [item(1, "confirmed")], A2),
      "rollback-20260104T000000Z.json": report("rollback", "2026-01-04T00:00:00.000Z", [item(1, "confirmed", { action: "delete" })]),
    });
    expect(await findEarlierApplyReports(reports, A1)).toEqual([join(reports, "apply-20260102T000000Z.json")]);
    expect(await findEarlierApplyReports(join(reports, "nope"), A1)).toEqual([]);
  });
});

describe("assertLedgerNotLost", () => {
  it("refuses a missing or empty ledger beside apply reports that created credentials, and nothing else", async () => {
    const { path, reports } = scratch();
    const opts = { ledgerPath: path, reportsDir: reports, accountSid: A1 };
    await assertLedgerNotLost(opts);
    writeReports(reports, { "apply-20260101T000000Z.json": report("apply", "2026-01-01T00:00:00.000Z", [item(1, "confirmed")]) });
    const err = await assertLedgerNotLost(opts).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BlockedError);
    expect((err as Error).message).toBe(
      `the ledger ${path} is missing but ${reports} holds 1 apply report(s) for ${A1} that created credentials: run \`cr2comms ledger rebuild\` first (an apply now would create them a second time)`,
    );
    writeFileSync(path, "\n");
    await expect(assertLedgerNotLost(opts)).rejects.toThrow(/is empty but/);
    await assertLedgerNotLost({ ...opts, accountSid: A2 });
    writeFileSync(path, `${ev(1)}\n`);
    await assertLedgerNotLost(opts);
  });
});

describe("checkWritable", () => {
  it("passes, creating the folders and the ledger, and leaves no probe behind", async () => {
    const { dir } = scratch();
    const reportsDir = join(dir, "r", "s");
    await checkWritable({ ledgerPath: join(dir, "l", "ledger.jsonl"), reportsDir });
    expect(readdirSync(reportsDir)).toEqual([]);
    expect(existsSync(join(dir, "l", "ledger.jsonl"))).toBe(true);
  });

  it("a reports dir under a regular file: one line naming it and the OS error; nothing sent", async () => {
    const { dir } = scratch();
    writeFileSync(join(dir, "file"), "");
    const err = await checkWritable({ ledgerPath: join(dir, "ledger.jsonl"), reportsDir: join(dir, "file", "reports") }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotWritableError);
    expect((err as NotWritableError).exitCode).toBe(1);
    expect((err as Error).message).toBe(`cannot write the reports dir ${join(dir, "file", "reports")}: ENOTDIR (not a directory); nothing was sent to Comms`);
  });

  it("a ledger that cannot be opened for appending", async () => {
    const { dir } = scratch();
    mkdirSync(join(dir, "ledger.jsonl"));
    await expect(checkWritable({ ledgerPath: join(dir, "ledger.jsonl"), reportsDir: join(dir, "r") })).rejects.toThrow(
      `cannot write the ledger ${join(dir, "ledger.jsonl")}: EISDIR (illegal operation on a directory); nothing was sent to Comms`,
    );
  });
});
