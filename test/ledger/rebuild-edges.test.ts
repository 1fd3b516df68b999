/** Rebuilding the ledger from reports: what each report proves, which reports are read, and every refusal. */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BlockedError, LedgerWriteError, UsageError } from "../../src/errors.js";
import { parseLedger } from "../../src/ledger/ledger.js";
import { assertLedgerNotLost, eventsFromReport, findEarlierApplyReports, readRunReports, rebuildLedger, type RunReport, type RunReportItem } from "../../src/ledger/rebuild.js";

const A1 = "AC00000000000000000000000000000001";
const A2 = "AC00000000000000000000000000000002";
const SID = (n: number) => `CR0000000000000000000000000000000${n}`;
const clock = () => new Date("2026-03-04T05:06:07Z");
const STAMP = "20260304T050607Z";
const secret = { kind: "apn", contentSha256: "sha-1" };

function scratch(name = "ledger.jsonl"): { dir: string; path: string; reports: string } {
  const dir = mkdtempSync(join(tmpdir(), "rebuild-"));
  const reports = join(dir, "reports");
  mkdirSync(reports);
  return { dir, path: join(reports, name), reports };
}

/** An applied report as `writeReport` writes it (docs/reports.md). */
function report(kind: "apply" | "rollback", startedAt: string, items: unknown[], over: Record<string, unknown> = {}) {
  return { schemaVersion: 1, kind, mode: "applied", accountSid: A1, runId: `run-${startedAt}`, startedAt, finishedAt: startedAt, items, ...over };
}
const item = (n: number, status: string, over: object = {}) => ({
  legacySid: SID(n),
  action: "create",
  target: { appName: "app_ios", credentialType: "APN", isDefault: false },
  commsCredentialId: `comms_credential_${n}`,
  status,
  secret,
  ...over,
});

function write(dir: string, files: Record<string, unknown>): void {
  for (const [name, json] of Object.entries(files)) writeFileSync(join(dir, name), typeof json === "string" ? json : JSON.stringify(json));
}

const base = (over: Partial<RunReport> = {}): RunReport => ({ path: "p", kind: "apply", accountSid: A1, runId: "run", startedAt: "s", finishedAt: "2026-01-01T00:01:00.000Z", items: [], ...over });
const runItem = (over: Partial<RunReportItem> = {}): RunReportItem => ({
  legacySid: SID(1),
  action: "create",
  status: "confirmed",
  commsCredentialId: "new_id",
  target: { appName: "app", credentialType: "APN", isDefault: false },
  ...over,
});

describe("readRunReports", () => {
  it("orders runs by when they started, then by file name, whatever their names say", async () => {
    const { reports } = scratch();
    write(reports, {
      "apply-20260101T000000Z.json": report("apply", "2026-01-03T00:00:00.000Z", []),
      "apply-20260102T000000Z.json": report("apply", "2026-01-01T00:00:00.000Z", []),
      "apply-20260102T000000Z-2.json": report("apply", "2026-01-02T00:00:00.000Z", []),
      "rollback-20260101T000000Z.json": report("rollback", "2026-01-02T00:00:00.000Z", []),
    });
    const { reports: read } = await readRunReports(reports);
    expect(read.map((r) => r.path.split("/").pop())).toEqual([
      "apply-20260102T000000Z.json",
      "apply-20260102T000000Z-2.json",
      "rollback-20260101T000000Z.json",
      "apply-20260101T000000Z.json",
    ]);
  });

  it("skips files that are not readable run reports, saying why, and reads only report names", async () => {
    const { reports } = scratch();
    write(reports, {
      "apply-20260101T000000Z.json": "null",
      "apply-20260102T000000Z.json": report("apply", "2026-01-02T00:00:00.000Z", [], { schemaVersion: 2 }),
      "apply-20260103T000000Z.json": report("apply", "2026-01-03T00:00:00.000Z", [], { kind: "plan" }),
      "apply-20260104T000000Z.json": report("apply", "2026-01-04T00:00:00.000Z", [], { runId: 7 }),
      "apply-20260105T000000Z.json": report("apply", "2026-01-05T00:00:00.000Z", [], { items: {} }),
      "rollback-20260106T000000Z.json": report("rollback", "2026-01-06T00:00:00.000Z", []),
      "apply-latest.json": report("apply", "2026-01-07T00:00:00.000Z", []),
      "plan-20260101T000000Z.json": report("apply", "2026-01-08T00:00:00.000Z", []),
    });
    const { reports: read, skipped } = await readRunReports(reports);
    expect(read.map((r) => r.path.split("/").pop())).toEqual(["rollback-20260106T000000Z.json"]);
    expect(skipped.map((s) => [s.path.split("/").pop(), s.reason])).toEqual([
      ["apply-20260101T000000Z.json", "not a cr2comms report of schemaVersion 1"],
      ["apply-20260102T000000Z.json", "not a cr2comms report of schemaVersion 1"],
      ["apply-20260103T000000Z.json", 'kind is "plan", not apply or rollback'],
      ["apply-20260104T000000Z.json", "runId is missing"],
      ["apply-20260105T000000Z.json", "items is missing"],
    ]);
  });

  it("keeps only the item fields it can trust", async () => {
    const { reports } = scratch();
    write(reports, {
      "apply-20260101T000000Z.json": report("apply", "2026-01-01T00:00:00.000Z", [
        null,
        { action: "create", status: "confirmed" },
        { legacySid: SID(1), status: "confirmed" },
        { legacySid: SID(1), action: "create" },
        item(2, "confirmed", { target: { appName: "app_fcm", credentialType: "FCM", isDefault: true }, secret: { kind: "fcm", contentSha256: "sha-2" }, timings: { finishedAt: "2026-01-01T00:00:09.000Z" } }),
        item(3, "confirmed", { target: { appName: "app", credentialType: "SMS" }, secret: { kind: "pem", contentSha256: "x" }, commsCredentialId: 3 }),
        item(4, "confirmed", { target: null, secret: { kind: "apn" }, replaces: { commsCredentialId: "old_4" }, timings: { finishedAt: 5 } }),
        item(5, "confirmed", { target: { credentialType: "APN" }, replaces: { commsCredentialId: 5 } }),
        item(6, "confirmed", { target: { appName: "app", credentialType: "APN", isDefault: "yes" } }),
      ]),
    });
    const [r] = (await readRunReports(reports)).reports;
    expect(r!.items).toEqual([
      { legacySid: SID(2), action: "create", status: "confirmed", commsCredentialId: "comms_credential_2", target: { appName: "app_fcm", credentialType: "FCM", isDefault: true }, finishedAt: "2026-01-01T00:00:09.000Z", secret: { kind: "fcm", contentSha256: "sha-2" } },
      { legacySid: SID(3), action: "create", status: "confirmed", target: null },
      { legacySid: SID(4), action: "create", status: "confirmed", commsCredentialId: "comms_credential_4", target: null, replacedId: "old_4", replacedWasDefault: false },
      { legacySid: SID(5), action: "create", status: "confirmed", commsCredentialId: "comms_credential_5", target: null, secret },
      { legacySid: SID(6), action: "create", status: "confirmed", commsCredentialId: "comms_credential_6", target: { appName: "app", credentialType: "APN", isDefault: false }, secret },
    ]);
  });

  it("reads the default Apps a run confirmed, and nothing from odd account actions", async () => {
    const { reports } = scratch();
    const actions = [
      null,
      { action: "set-default-app", appName: "ios", status: "confirmed" },
      { action: "set-default-app", appName: "web", status: "confirmed", patched: false },
      { action: "set-default-app", appName: "tv", status: "failed" },
      { action: "set-default-app", appName: 5, status: "confirmed" },
      { action: "other", appName: "x", status: "confirmed" },
    ];
    write(reports, {
      "apply-20260101T000000Z.json": report("apply", "2026-01-01T00:00:00.000Z", [], { accountActions: actions }),
      "apply-20260102T000000Z.json": report("apply", "2026-01-02T00:00:00.000Z", [], { accountActions: { action: "set-default-app" } }),
    });
    const read = (await readRunReports(reports)).reports;
    expect(read.map((r) => r.defaultApps)).toEqual([
      [
        { appName: "ios", patched: true },
        { appName: "web", patched: false },
      ],
      undefined,
    ]);
  });

  it("a missing reports dir holds no reports; one that cannot be listed is refused", async () => {
    const { dir } = scratch();
    expect(await readRunReports(join(dir, "none"))).toEqual({ reports: [], skipped: [] });
    writeFileSync(join(dir, "file"), "");
    const err = await readRunReports(join(dir, "file")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BlockedError);
    expect((err as Error).message).toBe(`cannot list the reports dir ${join(dir, "file")}: ENOTDIR (not a directory)`);
    expect((err as Error).cause).toMatchObject({ code: "ENOTDIR" });
  });
});

describe("eventsFromReport", () => {
  it("a rollback proves deletions: deleted credentials (seen gone) and ones found already gone; a delete only accepted stays pending; nothing else", () => {
    const events = eventsFromReport(
      base({
        kind: "rollback",
        runId: "rb",
        items: [
          runItem({ legacySid: SID(1), action: "delete", status: "confirmed", commsCredentialId: "c1" }),
          runItem({ legacySid: SID(2), action: "delete", status: "failed", commsCredentialId: "c2" }),
          runItem({ legacySid: SID(3), action: "already-gone", status: "skipped", commsCredentialId: "c3" }),
          runItem({ legacySid: SID(4), action: "refused", status: "confirmed", commsCredentialId: "c4" }),
          runItem({ legacySid: SID(5), action: "already-gone", status: "skipped", commsCredentialId: undefined }),
          // Accepted but never seen gone: pending (`delete-accepted`), as rollback journalled it; never
          // `deleted` (the ledger would say deleted while Comms may still list it).
          runItem({ legacySid: SID(6), action: "delete", status: "accepted-unconfirmed", commsCredentialId: "c6" }),
        ],
      }),
    );
    expect(events).toEqual([
      { v: 1, ts: "2026-01-01T00:01:00.000Z", legacySid: SID(1), runId: "rb", accountSid: A1, rebuilt: true, event: "deleted", commsCredentialId: "c1", reason: "rebuilt from a rollback report" },
      { v: 1, ts: "2026-01-01T00:01:00.000Z", legacySid: SID(3), runId: "rb", accountSid: A1, rebuilt: true, event: "deleted", commsCredentialId: "c3", reason: "rebuilt from a rollback report" },
      { v: 1, ts: "2026-01-01T00:01:00.000Z", legacySid: SID(6), runId: "rb", accountSid: A1, rebuilt: true, event: "delete-accepted", commsCredentialId: "c6", reason: "rebuilt from a rollback report" },
    ]);
  });

  it("a replace: confirmed proves the deletion of the old credential ('replaced by' the new one); an unfinished one proves the replace attempt and its accepted new credential", () => {
    const replace = runItem({ action: "replace", replacedId: "old_id", secret: { kind: "apn", contentSha256: "s" } });
    expect(eventsFromReport(base({ items: [replace] })).map((e) => [e.event, "reason" in e ? e.reason : undefined])).toEqual([
      ["confirmed", undefined],
      ["deleted", "replaced by new_id"],
    ]);
    const [attempt, accepted, ...rest] = eventsFromReport(base({ runId: "run-7", items: [{ ...replace, status: "planned", replacedWasDefault: true, startedAt: "2026-01-01T00:00:30.000Z" }] }));
    const attemptId = `rebuilt-run-7-${SID(1)}`;
    expect(attempt).toMatchObject({ event: "attempt", attemptId, appName: "app", isDefault: false, startedAt: "2026-01-01T00:00:30.000Z", replaces: "old_id", replacesDefault: true, secret: { kind: "apn", contentSha256: "s" } });
    expect(accepted).toMatchObject({ event: "accepted", attemptId, commsCredentialId: "new_id", appName: "app", secret: { kind: "apn", contentSha256: "s" } });
    expect(rest).toEqual([]);
    // Without the item's own start time, the run's.
    expect(eventsFromReport(base({ items: [{ ...replace, status: "failed" }] }))[0]).toMatchObject({ event: "attempt", startedAt: base({}).startedAt, replacesDefault: false });
  });

  it("proves nothing of an unfinished create, a replace without its old id, or an item without a target", () => {
    const none = [
      runItem({ status: "failed", replacedId: "old_id" }),
      runItem({ action: "replace", status: "failed" }),
      runItem({ action: "replace", status: "skipped", replacedId: "old_id" }),
      runItem({ status: "confirmed", target: null }),
    ];
    for (const i of none) expect(eventsFromReport(base({ items: [i] })), JSON.stringify(i)).toEqual([]);
    // A confirmed create names no credential it replaced: it proves no deletion.
    expect(eventsFromReport(base({ items: [runItem({ replacedId: "old_id" })] })).map((e) => e.event)).toEqual(["confirmed"]);
    expect(eventsFromReport(base({ items: [runItem({ action: "replace" })] })).map((e) => e.event)).toEqual(["confirmed"]);
    // A replace that names its own new id as the one replaced deleted nothing.
    expect(eventsFromReport(base({ items: [runItem({ action: "replace", replacedId: "new_id" })] })).map((e) => e.event)).toEqual(["confirmed"]);
  });
});

describe("findEarlierApplyReports", () => {
  it("counts a run that created one credential among failures, not one whose only id is a failed item's", async () => {
    const { reports } = scratch();
    write(reports, {
      "apply-20260101T000000Z.json": report("apply", "2026-01-01T00:00:00.000Z", [item(1, "failed", { commsCredentialId: undefined }), item(2, "confirmed")]),
      "apply-20260102T000000Z.json": report("apply", "2026-01-02T00:00:00.000Z", [item(3, "failed", { action: "replace" })]),
    });
    expect(await findEarlierApplyReports(reports, A1)).toEqual([join(reports, "apply-20260101T000000Z.json")]);
  });
});

describe("rebuildLedger refusals and corner cases", () => {
  it("an empty or blank ledger file holds nothing: it is replaced without --force", async () => {
    const { path, reports } = scratch();
    write(reports, { "apply-20260101T000000Z.json": report("apply", "2026-01-01T00:00:00.000Z", [item(1, "confirmed")]) });
    for (const text of ["", "\n  \n"]) {
      writeFileSync(path, text);
      const result = await rebuildLedger({ ledgerPath: path, reportsDir: reports, now: clock });
      expect(result.movedAside).toBeUndefined();
      expect(parseLedger(readFileSync(path, "utf8"), path).map((e) => e.legacySid)).toEqual([SID(1)]);
    }
  });

  it("--force twice in one second: the second old ledger goes to a new name, the first is kept", async () => {
    const { path, reports } = scratch();
    write(reports, { "apply-20260101T000000Z.json": report("apply", "2026-01-01T00:00:00.000Z", [item(1, "confirmed")]) });
    writeFileSync(path, "first\n");
    expect((await rebuildLedger({ ledgerPath: path, reportsDir: reports, force: true, now: clock })).movedAside).toBe(`${path}.before-rebuild-${STAMP}`);
    writeFileSync(path, "second\n");
    expect((await rebuildLedger({ ledgerPath: path, reportsDir: reports, force: true, now: clock })).movedAside).toBe(`${path}.before-rebuild-${STAMP}-2`);
    expect(readFileSync(`${path}.before-rebuild-${STAMP}`, "utf8")).toBe("first\n");
    expect(readFileSync(`${path}.before-rebuild-${STAMP}-2`, "utf8")).toBe("second\n");
  });

  it("an old ledger that cannot be moved aside: LedgerWriteError, and the old ledger stays (no endless search for a name)", async () => {
    // The ledger's name fits; with `.before-rebuild-<stamp>` added it is too long for the filesystem.
    const { path, reports } = scratch(`${"l".repeat(222)}.jsonl`);
    write(reports, { "apply-20260101T000000Z.json": report("apply", "2026-01-01T00:00:00.000Z", [item(1, "confirmed")]) });
    writeFileSync(path, "old\n");
    const err = await rebuildLedger({ ledgerPath: path, reportsDir: reports, force: true, now: clock }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LedgerWriteError);
    expect((err as Error).message).toBe(`cannot move the old ledger ${path} aside to ${path}.before-rebuild-${STAMP}: ENAMETOOLONG (name too long)`);
    expect(err).toMatchObject({ path, code: "ENAMETOOLONG", cause: expect.objectContaining({ code: "ENAMETOOLONG" }) });
    expect(readFileSync(path, "utf8")).toBe("old\n");
    expect(readdirSync(reports).filter((n) => n.endsWith(".lock"))).toEqual([]);
  });

  it("a ledger that cannot be read is refused", async () => {
    const { path, reports } = scratch();
    mkdirSync(path);
    const err = await rebuildLedger({ ledgerPath: path, reportsDir: reports }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BlockedError);
    expect((err as Error).message).toBe(`cannot read the ledger ${path}: EISDIR (illegal operation on a directory)`);
    expect((err as Error).cause).toMatchObject({ code: "EISDIR" });
  });

  it("names the accounts when the reports are of several, and the account asked for when it has none", async () => {
    const { path, reports } = scratch();
    write(reports, {
      "apply-20260101T000000Z.json": report("apply", "2026-01-01T00:00:00.000Z", [item(1, "confirmed")]),
      "apply-20260102T000000Z.json": report("apply", "2026-01-02T00:00:00.000Z", [item(2, "confirmed")], { accountSid: A2 }),
    });
    const err = await rebuildLedger({ ledgerPath: path, reportsDir: reports }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toBe(`the reports in ${reports} are of 2 accounts (${A1}, ${A2}): say which with --account-sid`);
    const none = "AC00000000000000000000000000000009";
    await expect(rebuildLedger({ ledgerPath: path, reportsDir: reports, accountSid: none })).rejects.toThrow(`no apply or rollback reports of ${none} in ${reports}: nothing to rebuild the ledger from`);
    const { reports: empty } = scratch();
    await expect(rebuildLedger({ ledgerPath: path, reportsDir: empty })).rejects.toThrow(`no apply or rollback reports in ${empty}: nothing to rebuild the ledger from`);
  });
});

describe("assertLedgerNotLost", () => {
  it("a ledger that cannot be read is refused, not taken as lost", async () => {
    const { path, reports } = scratch();
    mkdirSync(path);
    const err = await assertLedgerNotLost({ ledgerPath: path, reportsDir: reports, accountSid: A1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BlockedError);
    expect((err as Error).message).toBe(`cannot read the ledger ${path}: EISDIR (illegal operation on a directory)`);
    expect((err as Error).cause).toMatchObject({ code: "EISDIR" });
  });
});
