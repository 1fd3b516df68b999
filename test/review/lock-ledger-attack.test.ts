/**
 * Attacks on the one-writer-per-account locks and on the ledger's replay rules. Each test states the
 * EXPECTED behaviour; "V…" names the finding (test/review/README.md).
 */
import { linkSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { acquireAccountLock } from "../../src/ledger/lock.js";
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
