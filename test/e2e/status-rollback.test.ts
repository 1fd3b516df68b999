import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startEmulator, type Emulator } from "../../src/emulator/index.js";
import { DEMO_ENV, emulatorEnv, parseJson, runCli, workspace } from "./harness.js";

const SID = (n: number) => `CR${String(n).padStart(32, "0")}`;
let emu: Emulator | undefined;
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

/** An emulator where the demo mapping has been applied. */
async function migrated() {
  emu = await startEmulator({ port: 0 });
  const ws = workspace();
  const env = emulatorEnv(emu, DEMO_ENV);
  const cli = (args: string[]) => runCli([...args, "--json", "--mapping", ws.mapping, "--reports-dir", ws.reports], { env });
  const applied = await cli(["apply", "--yes"]);
  expect(applied.code).toBe(0);
  const report = parseJson(applied.stdout);
  const idOf = (n: number): string => report.items.find((i: any) => i.legacySid === SID(n)).commsCredentialId;
  return { emu, ws, cli, report, idOf };
}

const ids = (e: Emulator) => e.state.commsCredentials().map((c) => c.id).sort();

describe("status", () => {
  it("is in sync after apply (exit 0) and lists the credential cr2comms did not create", async () => {
    const { cli } = await migrated();
    const run = await cli(["status"]);
    expect(run.code).toBe(0);
    const status = parseJson(run.stdout);
    expect(status.drift).toBe(false);
    expect(status.items.map((r: any) => r.kind)).toEqual(["in-sync", "in-sync", "in-sync", "in-sync"]);
    expect(status.notCreatedByCr2comms.map((c: any) => c.appName)).toEqual(["marketing_web"]);
  });

  it("reports a credential deleted out of band and a default taken away as drift (exit 2)", async () => {
    const { emu, cli, idOf } = await migrated();
    emu.state.deleteComms(idOf(3));
    emu.state.addComms({ appName: "limonade_ios", credentialType: "APN", isDefault: true }); // takes SID1's default
    const run = await cli(["status"]);
    expect(run.code).toBe(2);
    const rows = Object.fromEntries(parseJson(run.stdout).items.map((r: any) => [r.legacySid, r.kind]));
    expect(rows).toEqual({ [SID(1)]: "default-changed", [SID(2)]: "in-sync", [SID(3)]: "missing", [SID(5)]: "in-sync" });
    expect(parseJson(run.stdout).notCreatedByCr2comms).toHaveLength(2);
  });

  it("prints a table without --json", async () => {
    const { ws, emu } = await migrated();
    const run = await runCli(["status", "--reports-dir", ws.reports], { env: emulatorEnv(emu) });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/in-sync/);
    expect(run.stdout).toMatch(/Not created by cr2comms \(left untouched\): 1/);
  });
});

describe("status reports", () => {
  it("writes status-<time>.json and .md beside the other reports: the JSON as --json has it, the Markdown with a gantt of expiries, those inside --expiring-within marked", async () => {
    const { cli, ws } = await migrated();
    const run = await cli(["status", "--expiring-within", "36500"]);
    expect(run.code).toBe(2);
    const out = parseJson(run.stdout);
    expect(out.reportPaths.jsonPath).toMatch(/status-\d{8}T\d{6}Z\.json$/);
    expect(dirname(out.reportPaths.jsonPath)).toBe(ws.reports);
    const json = JSON.parse(readFileSync(out.reportPaths.jsonPath, "utf8"));
    expect(json).toMatchObject({ schemaVersion: 1, kind: "status", drift: false, expiringWithinDays: 36500, accountSid: out.accountSid });
    expect(json.items.filter((i: any) => i.expiring).map((i: any) => i.legacySid).sort()).toEqual([SID(1), SID(2), SID(5)]);
    const md = readFileSync(out.reportPaths.markdownPath, "utf8");
    expect(md).toMatch(/^# cr2comms status\n/);
    const gantt = /```mermaid\n(gantt\n[\s\S]*?)```/.exec(md)![1]!;
    expect(gantt.match(/ :crit, c\d+, \d{4}-\d\d-\d\d, \d{4}-\d\d-\d\d$/gm)).toHaveLength(3);
    expect(gantt).toContain("  section limonade_ios\n");
  });
});

describe("rollback", () => {
  it("refuses, per App, to delete an App's last credential and names the Apps (exit 1)", async () => {
    const { emu, cli } = await migrated();
    const before = ids(emu);
    const run = await cli(["rollback", "--yes"]);
    expect(run.code).toBe(1);
    const report = parseJson(run.stdout);
    expect(report.kind).toBe("rollback");
    expect(report.items.length).toBeGreaterThan(0);
    expect(report.items.every((i: any) => i.action === "refused")).toBe(true);
    expect(report.problems.join(" ")).toMatch(/limonade_android/);
    expect(report.problems.join(" ")).toMatch(/limonade_ios_beta/);
    expect(ids(emu)).toEqual(before);
    expect(emu.requests.filter((r) => r.method === "DELETE")).toHaveLength(0);
  });

  it("deletes what it created in an App that keeps another credential, never the others", async () => {
    const { emu, ws, cli, idOf } = await migrated();
    const foreign = emu.state.addComms({ appName: "limonade_ios", credentialType: "FCM" });
    const run = await cli(["rollback", "--yes"]);
    expect(run.code).toBe(1); // the other Apps were refused
    const left = ids(emu);
    expect(left).not.toContain(idOf(1));
    expect(left).not.toContain(idOf(2));
    expect(left).toContain(foreign.id);
    expect(left).toContain(idOf(3));
    expect(emu.state.commsCredentials().some((c) => c.appName === "marketing_web")).toBe(true);
    const deleted = readFileSync(join(ws.reports, "ledger.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l)).filter((e) => e.event === "deleted");
    expect(deleted.map((e) => e.legacySid).sort()).toEqual([SID(1), SID(2)]);
  });

  it("with --allow-app-deletion deletes everything it created, records it, and status then shows it rolled back", async () => {
    const { emu, ws, cli } = await migrated();
    const run = await cli(["rollback", "--yes", "--allow-app-deletion"]);
    expect(run.code).toBe(0);
    const report = parseJson(run.stdout);
    expect(report.items.filter((i: any) => i.action === "delete" && i.status === "confirmed")).toHaveLength(4);
    // Without --concurrency the deletes share an adaptive limit, as apply's writes do; the report says how it went.
    expect(report.concurrency).toMatchObject({ mode: "adaptive", start: 4, throttled: 0 });
    expect(readFileSync(report.reportPaths.markdownPath, "utf8")).toMatch(/- Concurrency: adaptive/);
    expect(emu.state.commsCredentials().map((c) => c.appName)).toEqual(["marketing_web"]);
    const events = readFileSync(join(ws.reports, "ledger.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(events.filter((e) => e.event === "deleted")).toHaveLength(4);
    const status = await cli(["status"]);
    expect(status.code).toBe(0);
    expect(parseJson(status.stdout).items.map((r: any) => r.kind)).toEqual(["rolled-back", "rolled-back", "rolled-back", "rolled-back"]);
    // A second rollback has nothing left to do.
    const again = await cli(["rollback", "--yes", "--allow-app-deletion"]);
    expect(again.code).toBe(0);
    expect(parseJson(again.stdout).items).toHaveLength(0);
  });

  it("--report limits the rollback to one apply report's creates", async () => {
    const { emu, ws, cli, report, idOf } = await migrated();
    // A later apply recreates SID3 after an out-of-band delete; roll back only that run.
    emu.state.deleteComms(idOf(3));
    const second = parseJson((await cli(["apply", "--yes"])).stdout);
    const recreated = second.items.find((i: any) => i.legacySid === SID(3)).commsCredentialId;
    const run = await cli(["rollback", "--yes", "--allow-app-deletion", "--report", second.reportPaths.jsonPath]);
    expect(run.code).toBe(0);
    expect(ids(emu)).not.toContain(recreated);
    for (const n of [1, 2, 5]) expect(ids(emu)).toContain(idOf(n));
    expect(report.reportPaths.jsonPath).toContain(ws.reports);
  });

  it("needs --yes without a terminal", async () => {
    const { emu, ws } = await migrated();
    const run = await runCli(["rollback", "--reports-dir", ws.reports], { env: emulatorEnv(emu) });
    expect(run.code).toBe(64);
    expect(emu.requests.filter((r) => r.method === "DELETE")).toHaveLength(0);
  });
});
