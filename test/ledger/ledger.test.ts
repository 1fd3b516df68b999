import { mkdtempSync, readFileSync, writeFileSync, appendFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FileLedger, MemoryLedger, parseLedger, replay } from "../../src/ledger/ledger.js";
import type { LedgerEvent } from "../../src/ledger/types.js";

const SID = "CR00000000000000000000000000000001";
const attempt = { event: "attempt", legacySid: SID, attemptId: "a1", appName: "app", credentialType: "APN", isDefault: false, startedAt: "2026-01-01T00:00:00.000Z" } as const;

describe("replay", () => {
  it("follows an attempt through accepted to confirmed", async () => {
    const ledger = new MemoryLedger();
    await ledger.append(attempt);
    expect((await ledger.entries()).get(SID)?.state).toBe("pending");
    await ledger.append({ event: "accepted", legacySid: SID, attemptId: "a1", commsCredentialId: "comms_credential_x" });
    expect((await ledger.entries()).get(SID)).toMatchObject({ state: "accepted", commsCredentialId: "comms_credential_x" });
    await ledger.append({ event: "confirmed", legacySid: SID, commsCredentialId: "comms_credential_x" });
    const entry = (await ledger.entries()).get(SID)!;
    expect(entry).toMatchObject({ state: "confirmed", appName: "app", credentialType: "APN", createdIds: ["comms_credential_x"] });
    expect(entry.lastAttempt).toEqual({ attemptId: "a1", startedAt: attempt.startedAt, appName: "app", credentialType: "APN" });
  });

  it("marks a failed attempt failed and an abandoned one retryable", () => {
    const base = { v: 1 as const, ts: "t" };
    expect(replay([{ ...base, ...attempt }, { ...base, event: "failed", legacySid: SID, attemptId: "a1", error: "400" }]).get(SID)?.state).toBe("failed");
    expect(replay([{ ...base, ...attempt }, { ...base, event: "abandoned", legacySid: SID, attemptId: "a1", reason: "x" }]).get(SID)?.state).toBe("failed");
  });

  it("keeps every created id and forgets the current one on delete", () => {
    const base = { v: 1 as const, ts: "t" };
    const events: LedgerEvent[] = [
      { ...base, ...attempt },
      { ...base, event: "confirmed", legacySid: SID, commsCredentialId: "c1" },
      { ...base, ...attempt, attemptId: "a2" },
      { ...base, event: "accepted", legacySid: SID, attemptId: "a2", commsCredentialId: "c2" },
      { ...base, event: "confirmed", legacySid: SID, commsCredentialId: "c2" },
      { ...base, event: "deleted", legacySid: SID, commsCredentialId: "c2" },
    ];
    const entry = replay(events).get(SID)!;
    expect(entry.state).toBe("deleted");
    expect(entry.commsCredentialId).toBeUndefined();
    expect(entry.createdIds).toEqual(["c1", "c2"]);
  });
});

describe("FileLedger", () => {
  it("appends one JSON line per event and replays them", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "ledger-")), "sub", "ledger.jsonl");
    const ledger = new FileLedger(path, () => new Date("2026-01-01T00:00:00Z"));
    await ledger.append(attempt);
    await ledger.append({ event: "confirmed", legacySid: SID, commsCredentialId: "c1" });
    const lines = readFileSync(path, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ v: 1, ts: "2026-01-01T00:00:00.000Z", event: "attempt", legacySid: SID });
    expect((await new FileLedger(path).entries()).get(SID)?.state).toBe("confirmed");
  });

  it("ignores a torn last line (crash mid-write) but refuses a corrupt line in the middle", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "ledger-")), "ledger.jsonl");
    const ledger = new FileLedger(path);
    await ledger.append(attempt);
    appendFileSync(path, '{"v":1,"event":"acc');
    expect(await ledger.events()).toHaveLength(1);
    writeFileSync(path, 'garbage\n{"v":1,"ts":"t","event":"confirmed","legacySid":"x","commsCredentialId":"c"}\n');
    await expect(ledger.events()).rejects.toThrow(/ledger .*:1/);
  });

  it("returns nothing for a missing file", async () => {
    expect(await new FileLedger(join(tmpdir(), "does-not-exist-ledger.jsonl")).events()).toEqual([]);
    expect(parseLedger("", "x")).toEqual([]);
  });
});

describe("FileLedger account scoping", () => {
  it("stamps events with the account and refuses another account's ledger", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "ledger-")), "ledger.jsonl");
    const mine = new FileLedger(path, () => new Date(), "AC00000000000000000000000000000001");
    await mine.append(attempt);
    expect(JSON.parse(readFileSync(path, "utf8")).accountSid).toBe("AC00000000000000000000000000000001");
    expect(await mine.events()).toHaveLength(1);
    const theirs = new FileLedger(path, () => new Date(), "AC00000000000000000000000000000002");
    await expect(theirs.entries()).rejects.toThrow(/belongs to account AC0+1, not AC0+2/);
  });
});
