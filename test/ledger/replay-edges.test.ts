/** Replay of the less common event sequences: retried replacements, abandoned attempts, surfaced ids, rebuilt events. */
import { describe, expect, it } from "vitest";
import type { SecretFingerprint } from "../../src/domain.js";
import { recordedSecret, replay, replayLedger } from "../../src/ledger/ledger.js";
import type { LedgerEntry, LedgerEvent } from "../../src/ledger/types.js";

const SID = "CR00000000000000000000000000000001";
const S1: SecretFingerprint = { kind: "apn", contentSha256: "c-1" };
const S2: SecretFingerprint = { kind: "apn", contentSha256: "c-2" };
const where = { appName: "app", credentialType: "APN" as const, startedAt: "2026-01-01T00:00:00.000Z" };
const ev = (e: Record<string, unknown>): LedgerEvent => ({ v: 1, ts: "2026-01-01T00:00:00.000Z", legacySid: SID, ...e }) as LedgerEvent;
const one = (events: LedgerEvent[]): LedgerEntry => replay(events).get(SID)!;

const createdAccepted = [ev({ event: "attempt", attemptId: "a0", ...where, isDefault: false, secret: S1 }), ev({ event: "accepted", attemptId: "a0", commsCredentialId: "old_id" })];
const replaceAttempt = (attemptId: string, extra: Record<string, unknown> = {}) => ev({ event: "attempt", attemptId, ...where, isDefault: false, secret: S2, replaces: "old_id", ...extra });

describe("replay of a replacement, less common paths", () => {
  it("the old credential was only accepted (not yet confirmed): a failed replacement, also after a retry, leaves it accepted", () => {
    const first = one([...createdAccepted, replaceAttempt("a1")]);
    expect(first.replacing).toMatchObject({ oldId: "old_id", oldState: "accepted", oldWasDefault: false });
    const retried = [...createdAccepted, replaceAttempt("a1"), replaceAttempt("a2")];
    expect(one(retried).replacing).toMatchObject({ attemptId: "a2", oldState: "accepted" });
    expect(one([...retried, ev({ event: "failed", attemptId: "a2", error: "400" })])).toMatchObject({ state: "accepted", commsCredentialId: "old_id" });
  });

  it("a replacement of a credential the ledger knew nothing else about: when it fails, the old one counts as confirmed", () => {
    const e = one([replaceAttempt("a1"), ev({ event: "failed", attemptId: "a1", error: "400" })]);
    expect(e.state).toBe("confirmed");
    expect(e.replacing).toBeUndefined();
  });

  it("a failure without an attempt id ends the replacement too; one of a superseded attempt is stale and changes nothing", () => {
    const begun = [...createdAccepted, replaceAttempt("a1")];
    expect(one([...begun, ev({ event: "failed", error: "interrupted" })])).toMatchObject({ state: "accepted" });
    const late = [...begun, ev({ event: "failed", attemptId: "a0", error: "late" })];
    expect(one(late)).toEqual(one(begun));
    expect(replayLedger(late).stale).toEqual([{ index: 3, reason: `ends attempt a0 of ${SID}, which the later attempt a1 superseded` }]);
  });

  it("only the deletion of the replaced credential ends the replacement, and only a 'replaced by' reason remembers it", () => {
    const accepted = [...createdAccepted, replaceAttempt("a1"), ev({ event: "accepted", attemptId: "a1", commsCredentialId: "new_id" })];
    const unrelated = one([...accepted, ev({ event: "deleted", commsCredentialId: "dup_id", reason: "rollback" })]);
    expect(unrelated.replacing).toMatchObject({ oldId: "old_id", newId: "new_id" });
    const rolledBack = one([...accepted, ev({ event: "deleted", commsCredentialId: "old_id", reason: "rollback" })]);
    expect(rolledBack.replacing).toBeUndefined();
    expect(rolledBack.replacedIds).toBeUndefined();
    const noReason = one([...accepted, ev({ event: "deleted", commsCredentialId: "old_id" })]);
    expect(noReason.replacing).toBeUndefined();
    expect(noReason.replacedIds).toBeUndefined();
  });

  it("a replacement attempt says whether the old credential was the default only when it says so", () => {
    expect(one([...createdAccepted, replaceAttempt("a1", { replacesDefault: false })]).replacing?.oldWasDefault).toBe(false);
    expect(one([...createdAccepted, replaceAttempt("a1", { replacesDefault: true })]).replacing?.oldWasDefault).toBe(true);
  });
});

describe("replay of abandoned attempts and surfaced credentials", () => {
  it("an abandoned attempt is remembered (what it may still have made can appear); a failed one or another attempt's abandonment is not", () => {
    const attempt = ev({ event: "attempt", attemptId: "a1", ...where, isDefault: false });
    expect(one([attempt, ev({ event: "abandoned", attemptId: "a1", reason: "nothing appeared" })]).abandonedAttempts).toEqual([
      { attemptId: "a1", startedAt: where.startedAt, appName: "app", credentialType: "APN" },
    ]);
    expect(one([attempt, ev({ event: "failed", attemptId: "a1", error: "400" })]).abandonedAttempts).toBeUndefined();
    expect(one([attempt, ev({ event: "abandoned", attemptId: "a0", reason: "x" })]).abandonedAttempts).toBeUndefined();
    expect(one([ev({ event: "abandoned", attemptId: "a0", reason: "x" })]).abandonedAttempts).toBeUndefined();
  });

  it("a surfaced credential joins the ids cr2comms created for the sid, once", () => {
    const e = one([
      ev({ event: "attempt", attemptId: "a1", ...where, isDefault: false }),
      ev({ event: "abandoned", attemptId: "a1", reason: "x" }),
      ev({ event: "surfaced", attemptId: "a1", commsCredentialId: "late_id" }),
      ev({ event: "surfaced", attemptId: "a1", commsCredentialId: "late_id" }),
    ]);
    expect(e.createdIds).toEqual(["late_id"]);
    expect(e.state).toBe("failed");
  });
});

describe("replay of rebuilt events and recorded fingerprints", () => {
  it("rebuilt confirmed events carry where the credential is and what it holds, for each credential", () => {
    const e = one([
      ev({ event: "confirmed", commsCredentialId: "c1", appName: "app", credentialType: "APN", isDefault: true, secret: S1, rebuilt: true }),
      ev({ event: "confirmed", commsCredentialId: "c2", appName: "app", credentialType: "APN", isDefault: false, secret: S2, rebuilt: true }),
    ]);
    expect(e).toMatchObject({ state: "confirmed", commsCredentialId: "c2", isDefault: false, secret: S2 });
    expect(recordedSecret(e, "c1")).toEqual(S1);
    expect(recordedSecret(e, "c2")).toEqual(S2);
    expect(one([ev({ event: "confirmed", commsCredentialId: "c1", isDefault: true, rebuilt: true })]).isDefault).toBe(true);
  });

  it("recordedSecret falls back to the sid's fingerprint only for its current credential outside a replacement", () => {
    const base: LedgerEntry = { legacySid: SID, state: "confirmed", createdIds: ["c1", "c2"], runIds: [], commsCredentialId: "c2", secret: S1 };
    expect(recordedSecret(base, "c2")).toEqual(S1);
    expect(recordedSecret(base, "c1")).toBeUndefined();
    expect(recordedSecret({ ...base, replacing: { oldId: "c2", attemptId: "a1", oldWasDefault: false, oldState: "confirmed" } }, "c2")).toBeUndefined();
  });
});
