/**
 * Attacks on the one-writer-per-account locks and on the ledger's replay rules. Each test states the
 * EXPECTED behaviour; "V…" names the finding (test/review/README.md).
 */
import { linkSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { replay } from "../../src/ledger/ledger.js";
import { acquireAccountLock } from "../../src/ledger/lock.js";
import { eventsFromReport, type RunReport } from "../../src/ledger/rebuild.js";
import { planRollback } from "../../src/rollback/rollback.js";
import { computeStatus } from "../../src/status/status.js";
import { comms as commsCred, NOW } from "../plan/builders.js";
import { runCli } from "../e2e/harness.js";

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
