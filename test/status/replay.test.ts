import { describe, expect, it } from "vitest";
import { replay } from "../../src/ledger/ledger.js";
import type { LedgerEvent } from "../../src/ledger/types.js";

const SID = "CR00000000000000000000000000000001";
let clock = 0;
/** One ledger line as written (loosely typed: tests build every kind of event). */
const ev = (e: Record<string, unknown>): LedgerEvent =>
  ({ v: 1, ts: new Date(Date.UTC(2025, 5, 1, 12, 0, clock++)).toISOString(), legacySid: SID, ...e }) as unknown as LedgerEvent;
const attempt = (attemptId: string, extra: Record<string, unknown> = {}) =>
  ev({ event: "attempt", attemptId, appName: "app_ios", credentialType: "APN", isDefault: false, startedAt: "2025-06-01T11:00:00.000Z", ...extra });
const one = (events: LedgerEvent[]) => replay(events).get(SID)!;

// What status, rollback and the planner read from the ledger: each replay rule, one at a time.
describe("replay", () => {
  it("a sid first seen in a non-attempt event starts pending, with no ids and no runs", () => {
    expect(one([ev({ event: "default-set", commsCredentialId: "c1", isDefault: true })])).toEqual({ legacySid: SID, state: "pending", createdIds: [], runIds: [], isDefault: true });
  });

  it("collects each run id once, in order, and ignores events without one", () => {
    const e = one([attempt("a1", { runId: "r1" }), ev({ event: "unknown", attemptId: "a1", reason: "x", runId: "r1" }), ev({ event: "abandoned", attemptId: "a1", reason: "x" }), attempt("a2", { runId: "r2" })]);
    expect(e.runIds).toEqual(["r1", "r2"]);
  });

  it("keeps the secret fingerprint of the last attempt that had one", () => {
    const fp = { kind: "apn" as const, contentSha256: "abc" };
    expect(one([attempt("a1", { secret: fp }), attempt("a2")]).secret).toEqual(fp);
  });

  it("keeps the resource location of the last accepted event that had one, and each id once", () => {
    const e = one([attempt("a1"), ev({ event: "accepted", attemptId: "a1", commsCredentialId: "c1", resourceLocation: "https://x/c1" }), ev({ event: "accepted", attemptId: "a1", commsCredentialId: "c1" }), ev({ event: "confirmed", commsCredentialId: "c1" })]);
    expect(e).toMatchObject({ state: "confirmed", commsCredentialId: "c1", resourceLocation: "https://x/c1", createdIds: ["c1"] });
  });

  it("an unconfirmed create keeps its id, once, as cr2comms's", () => {
    const e = one([attempt("a1"), ev({ event: "unconfirmed", commsCredentialId: "c1", reason: "timeout" }), ev({ event: "unconfirmed", commsCredentialId: "c1", reason: "timeout" })]);
    expect(e).toMatchObject({ state: "unconfirmed", commsCredentialId: "c1", createdIds: ["c1"] });
  });

  it("a failure or an abandoned attempt after an accepted id does not hide that id", () => {
    const accepted = [attempt("a1"), ev({ event: "accepted", attemptId: "a1", commsCredentialId: "c1" })];
    expect(one([...accepted, ev({ event: "failed", attemptId: "a1", error: "x" })]).state).toBe("accepted");
    expect(one([...accepted, ev({ event: "abandoned", attemptId: "a1", reason: "x" })]).state).toBe("accepted");
    expect(one([attempt("a1"), ev({ event: "abandoned", attemptId: "a1", reason: "x" })]).state).toBe("failed");
  });

  it("re-sends and lost answers of another attempt do not move the last attempt's window", () => {
    const e = one([attempt("a2"), ev({ event: "resent", attemptId: "a1" }), ev({ event: "unknown", attemptId: "a1", reason: "x" })]);
    expect(e.lastAttempt).toEqual({ attemptId: "a2", startedAt: "2025-06-01T11:00:00.000Z", appName: "app_ios", credentialType: "APN" });
    const orphan = one([ev({ event: "resent", attemptId: "a1" }), ev({ event: "unknown", attemptId: "a1", reason: "x" })]);
    expect(orphan.lastAttempt).toBeUndefined();
  });

  it("a re-send and a lost answer of the last attempt are recorded on it", () => {
    const resent = ev({ event: "resent", attemptId: "a1" });
    const unknown = ev({ event: "unknown", attemptId: "a1", reason: "x" });
    expect(one([attempt("a1"), resent, unknown]).lastAttempt).toMatchObject({ lastSentAt: resent.ts, unknownAt: unknown.ts });
  });

  it("a delete of an id that is no longer the sid's current one leaves the entry as it is", () => {
    const events = [attempt("a1"), ev({ event: "accepted", attemptId: "a1", commsCredentialId: "c1" }), ev({ event: "confirmed", commsCredentialId: "c2" })];
    expect(one([...events, ev({ event: "deleted", commsCredentialId: "c1" })])).toMatchObject({ state: "confirmed", commsCredentialId: "c2" });
    const gone = one([...events, ev({ event: "deleted", commsCredentialId: "c2" })]);
    expect(gone.state).toBe("deleted");
    expect(gone.commsCredentialId).toBeUndefined();
    expect(gone.createdIds).toEqual(["c1", "c2"]);
  });
});
