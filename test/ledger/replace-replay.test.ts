import { describe, expect, it } from "vitest";
import type { SecretFingerprint } from "../../src/domain.js";
import { recordedSecret, replay } from "../../src/ledger/ledger.js";
import { eventsFromReport, type RunReport } from "../../src/ledger/rebuild.js";
import type { LedgerEvent } from "../../src/ledger/types.js";

const SID = "CR00000000000000000000000000000001";
const OLD: SecretFingerprint = { kind: "apn", contentSha256: "c-old", certSha256: "old", notAfter: "2026-01-01T00:00:00.000Z" };
const NEW: SecretFingerprint = { kind: "apn", contentSha256: "c-new", certSha256: "new", notAfter: "2027-01-01T00:00:00.000Z" };
let t = 0;
const ev = (e: Record<string, unknown>): LedgerEvent => ({ v: 1, ts: new Date(Date.UTC(2026, 0, 1, 0, 0, t++)).toISOString(), legacySid: SID, runId: "r", ...e }) as LedgerEvent;
const where = { appName: "app", credentialType: "APN" as const, startedAt: "2026-01-01T00:00:00.000Z" };

const migrated = [
  ev({ event: "attempt", attemptId: "a0", ...where, isDefault: false, secret: OLD }),
  ev({ event: "accepted", attemptId: "a0", commsCredentialId: "old_id" }),
  ev({ event: "confirmed", commsCredentialId: "old_id" }),
];
const begun = ev({ event: "attempt", attemptId: "a1", ...where, isDefault: false, secret: NEW, replaces: "old_id", replacesDefault: true });

describe("replay of a replacement", () => {
  it("records the fingerprint of what was sent for each credential", () => {
    const e = replay(migrated).get(SID)!;
    expect(e.secretById).toEqual({ old_id: OLD });
    expect(recordedSecret(e, "old_id")).toEqual(OLD);
  });

  it("while the new credential's create is open, the old one stays the sid's own (id and fingerprint)", () => {
    const e = replay([...migrated, begun]).get(SID)!;
    expect(e).toMatchObject({ state: "pending", commsCredentialId: "old_id", secret: OLD, replacing: { oldId: "old_id", attemptId: "a1", oldWasDefault: true, oldState: "confirmed", secret: NEW } });
    expect(recordedSecret(e, "old_id")).toEqual(OLD);
  });

  it("a replacement whose create failed or was abandoned leaves the old credential as it was", () => {
    for (const end of [ev({ event: "failed", attemptId: "a1", error: "400" }), ev({ event: "abandoned", attemptId: "a1", reason: "nothing appeared" })]) {
      const e = replay([...migrated, begun, end]).get(SID)!;
      expect(e).toMatchObject({ state: "confirmed", commsCredentialId: "old_id", secret: OLD });
      expect(e.replacing).toBeUndefined();
    }
  });

  it("accepted → the new one is the sid's; deleted (replaced) → the replacement is over and remembered", () => {
    const accepted = [...migrated, begun, ev({ event: "accepted", attemptId: "a1", commsCredentialId: "new_id" }), ev({ event: "confirmed", commsCredentialId: "new_id" })];
    const mid = replay(accepted).get(SID)!;
    expect(mid).toMatchObject({ state: "confirmed", commsCredentialId: "new_id", secret: NEW, isDefault: false, replacing: { oldId: "old_id", newId: "new_id" }, createdIds: ["old_id", "new_id"] });
    expect(mid.secretById).toEqual({ old_id: OLD, new_id: NEW });
    const done = replay([
      ...accepted,
      ev({ event: "default-set", commsCredentialId: "new_id", isDefault: true }),
      ev({ event: "deleted", commsCredentialId: "old_id", reason: "replaced by new_id" }),
    ]).get(SID)!;
    expect(done).toMatchObject({ state: "confirmed", commsCredentialId: "new_id", isDefault: true, replacedIds: ["old_id"] });
    expect(done.replacing).toBeUndefined();
  });
});

describe("ledger rebuild from a report with a replace", () => {
  it("a confirmed replace proves the new credential and the deletion of the old one", () => {
    const report: RunReport = {
      path: "apply-x.json",
      kind: "apply",
      accountSid: "AC00000000000000000000000000000000",
      runId: "run",
      startedAt: "2026-01-01T00:00:00.000Z",
      finishedAt: "2026-01-01T00:01:00.000Z",
      items: [{ legacySid: SID, action: "replace", status: "confirmed", commsCredentialId: "new_id", target: { appName: "app", credentialType: "APN", isDefault: false }, secret: NEW, replacedId: "old_id" }],
    };
    const events = eventsFromReport(report);
    expect(events.map((e) => [e.event, "commsCredentialId" in e ? e.commsCredentialId : ""])).toEqual([
      ["confirmed", "new_id"],
      ["deleted", "old_id"],
    ]);
    const e = replay(events).get(SID)!;
    expect(e).toMatchObject({ state: "confirmed", commsCredentialId: "new_id", secret: NEW });
    expect(recordedSecret(e, "new_id")).toEqual(NEW);
    // Unfinished: the replace attempt and its new credential (accepted: a later apply confirms it, never
    // re-creates it, and deletes the old one); nothing says the old one was deleted.
    for (const status of ["accepted-unconfirmed", "planned", "failed"]) {
      const unfinished = eventsFromReport({ ...report, items: [{ ...report.items[0]!, status }] });
      expect(unfinished.map((x) => x.event)).toEqual(["attempt", "accepted"]);
      expect(replay(unfinished).get(SID)).toMatchObject({ state: "accepted", commsCredentialId: "new_id", replacing: { oldId: "old_id", newId: "new_id" } });
    }
    // A failed replace that never made a new credential names only the old one: nothing is proved.
    expect(eventsFromReport({ ...report, items: [{ ...report.items[0]!, status: "failed", commsCredentialId: "old_id" }] })).toEqual([]);
  });
});
