/** Account-level ledger events (the default App): written, read back, replayed around, rebuilt from reports. */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FileLedger, replay, scanLine } from "../../src/ledger/index.js";
import { eventsFromReport, readRunReports, type RunReport } from "../../src/ledger/rebuild.js";

const SID = "CR00000000000000000000000000000001";

describe("account-level ledger events", () => {
  it("a file ledger writes and reads them back; replay keeps them out of the per-sid entries", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "cr2comms-account-events-")), "ledger.jsonl");
    const ledger = new FileLedger(path);
    await ledger.append({ event: "attempt", legacySid: SID, attemptId: "a1", appName: "ios", credentialType: "APN", isDefault: false, startedAt: "2026-01-01T00:00:00Z" });
    await ledger.append({ event: "app-default-requested", appName: "ios", from: "web" });
    await ledger.append({ event: "app-default-set", appName: "ios", from: "web", patched: true });
    const events = await ledger.events();
    expect(events.map((e) => e.event)).toEqual(["attempt", "app-default-requested", "app-default-set"]);
    expect([...replay(events).keys()]).toEqual([SID]);
    expect(readFileSync(path, "utf8")).not.toMatch(/"legacySid":null/);
  });

  it("scanning accepts an account event with its appName and refuses one without", () => {
    expect(scanLine(JSON.stringify({ v: 1, ts: "t", event: "app-default-set", appName: "ios", patched: false }), 1, false).event?.event).toBe("app-default-set");
    expect(scanLine(JSON.stringify({ v: 1, ts: "t", event: "app-default-set", patched: false }), 1, false).problem?.kind).toBe("malformed");
    expect(scanLine(JSON.stringify({ v: 1, ts: "t", event: "confirmed", commsCredentialId: "x" }), 1, false).problem?.kind).toBe("malformed");
  });

  it("reading an apply report picks up the default App it confirmed (and not one that failed)", async () => {
    const dir = join(mkdtempSync(join(tmpdir(), "cr2comms-account-reports-")), "reports");
    mkdirSync(dir);
    const base = { schemaVersion: 1, kind: "apply", mode: "applied", accountSid: "AC1", runId: "r", startedAt: "2026-01-01T00:00:00Z", finishedAt: "2026-01-01T00:01:00Z", items: [] };
    writeFileSync(join(dir, "apply-20260101T000000Z.json"), JSON.stringify({ ...base, accountActions: [{ action: "set-default-app", appName: "ios", via: "patch", status: "confirmed", patched: true }] }));
    writeFileSync(join(dir, "apply-20260102T000000Z.json"), JSON.stringify({ ...base, runId: "r2", startedAt: "2026-01-02T00:00:00Z", accountActions: [{ action: "set-default-app", appName: "web", via: "patch", status: "failed" }] }));
    const { reports } = await readRunReports(dir);
    expect(reports.map((r) => r.defaultApps)).toEqual([[{ appName: "ios", patched: true }], undefined]);
  });

  it("ledger rebuild turns a confirmed default App of an apply report into an app-default-set event", () => {
    const report: RunReport = {
      path: "apply-x.json",
      kind: "apply",
      accountSid: "AC1",
      runId: "run-1",
      startedAt: "2026-01-01T00:00:00Z",
      finishedAt: "2026-01-01T00:01:00Z",
      items: [],
      defaultApps: [{ appName: "ios", patched: true }],
    };
    expect(eventsFromReport(report)).toEqual([
      { v: 1, ts: "2026-01-01T00:01:00Z", runId: "run-1", accountSid: "AC1", rebuilt: true, event: "app-default-set", appName: "ios", patched: true },
    ]);
  });
});
