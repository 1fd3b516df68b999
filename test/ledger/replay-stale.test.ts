/** Replay orders events by their place in the file and leaves out stale ones: copies of old lines that would undo later ones. */
import { describe, expect, it } from "vitest";
import { replay, replayLedger } from "../../src/ledger/ledger.js";
import type { LedgerEvent } from "../../src/ledger/types.js";
import { computeDefaultApp } from "../../src/status/status.js";

const SID = "CR00000000000000000000000000000001";
const where = { appName: "app", credentialType: "APN" as const, startedAt: "2026-01-01T00:00:00.000Z", isDefault: false };
const ev = (e: Record<string, unknown>): LedgerEvent => ({ v: 1, ts: "2026-01-01T00:00:00.000Z", legacySid: SID, ...e }) as LedgerEvent;
const reasons = (events: LedgerEvent[]) => replayLedger(events).stale.map((s) => [s.index, s.reason]);

describe("replay: stale events", () => {
  it("an attempt repeated is left out: the outcome recorded after the first stays", () => {
    const events = [ev({ event: "attempt", attemptId: "a1", ...where }), ev({ event: "accepted", attemptId: "a1", commsCredentialId: "x" }), ev({ event: "confirmed", commsCredentialId: "x" })];
    const again = [...events, events[0]!];
    expect(replay(again).get(SID)).toEqual(replay(events).get(SID));
    expect(reasons(again)).toEqual([[3, `repeats attempt a1 of ${SID}, recorded earlier`]]);
  });

  it("an attempt accepted a second time is left out: it does not take a confirmed credential back to accepted", () => {
    const events = [ev({ event: "attempt", attemptId: "a1", ...where }), ev({ event: "accepted", attemptId: "a1", commsCredentialId: "x" }), ev({ event: "confirmed", commsCredentialId: "x" })];
    const again = [...events, events[1]!];
    expect(replay(again).get(SID)).toMatchObject({ state: "confirmed", commsCredentialId: "x" });
    expect(reasons(again)).toEqual([[3, `accepts attempt a1 of ${SID} again (already accepted earlier)`]]);
  });

  it("an accepted of a superseded attempt is left out, and the id it names stays known to the sid", () => {
    const events = [ev({ event: "attempt", attemptId: "a1", ...where }), ev({ event: "attempt", attemptId: "a2", ...where }), ev({ event: "accepted", attemptId: "a1", commsCredentialId: "late" })];
    const entry = replay(events).get(SID)!;
    expect([entry.state, entry.commsCredentialId, entry.lastAttempt?.attemptId, entry.createdIds]).toEqual(["pending", undefined, "a2", ["late"]]);
    expect(reasons(events)).toEqual([[2, `accepts attempt a1 of ${SID}, which the later attempt a2 superseded`]]);
  });

  it("events are ordered by place and run, not by time stamp: an event of a run that ended is left out, wherever its time says it belongs", () => {
    const run1 = [ev({ event: "attempt", attemptId: "a1", ...where, runId: "r1" }), ev({ event: "accepted", attemptId: "a1", commsCredentialId: "x", runId: "r1" })];
    const run2 = [ev({ event: "confirmed", commsCredentialId: "x", runId: "r2", ts: "2025-01-01T00:00:00.000Z" })];
    const copy = ev({ event: "unconfirmed", commsCredentialId: "x", reason: "timeout", runId: "r1" });
    // r2's event carries an older time stamp than r1's: it still comes after them.
    expect(replay([...run1, ...run2]).get(SID)!.state).toBe("confirmed");
    expect(replay([...run1, ...run2, copy]).get(SID)!.state).toBe("confirmed");
    expect(reasons([...run1, ...run2, copy])).toEqual([[3, "written by run r1 after run r2 began (a run's events are written together): a copy of an earlier line"]]);
    // Events without a run id (older ledgers) are not judged by run.
    expect(reasons([...run1, ...run2, ev({ event: "default-set", commsCredentialId: "x", isDefault: true })])).toEqual([]);
  });

  it("status's default App ignores a stale copy of an old app-default-set", () => {
    const set = (appName: string, runId: string): LedgerEvent => ({ v: 1, ts: "2026-01-01T00:00:00.000Z", event: "app-default-set", appName, patched: true, runId }) as LedgerEvent;
    const events = [set("app_a", "r1"), set("app_b", "r2"), set("app_a", "r1")];
    const apps = [{ name: "app_b", isDefault: true, createdAt: "", updatedAt: "" }];
    expect(computeDefaultApp(events, apps)).toMatchObject({ setByCr2comms: "app_b", drift: false });
  });

  it("a pending delete is remembered until its `deleted`, for a current or a superseded id", () => {
    const made = [ev({ event: "attempt", attemptId: "a1", ...where }), ev({ event: "accepted", attemptId: "a1", commsCredentialId: "x" }), ev({ event: "confirmed", commsCredentialId: "x" })];
    const pending = [...made, ev({ event: "delete-accepted", commsCredentialId: "x" }), ev({ event: "delete-accepted", commsCredentialId: "x" })];
    expect(replay(pending).get(SID)).toMatchObject({ state: "confirmed", commsCredentialId: "x", pendingDeletes: ["x"] });
    const gone = replay([...pending, ev({ event: "deleted", commsCredentialId: "x", reason: "rollback" })]).get(SID)!;
    expect([gone.state, gone.pendingDeletes]).toEqual(["deleted", undefined]);
    const other = replay([...pending, ev({ event: "delete-accepted", commsCredentialId: "y" }), ev({ event: "deleted", commsCredentialId: "y" })]).get(SID)!;
    expect(other.pendingDeletes).toEqual(["x"]);
  });
});
