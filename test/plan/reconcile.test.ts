import { describe, expect, it } from "vitest";
import { replay } from "../../src/ledger/ledger.js";
import { adoptionCandidates } from "../../src/plan/reconcile.js";
import { comms } from "./builders.js";

const startedAt = "2025-06-01T10:00:00.000Z";
const lost = { appName: "app_ios", credentialType: "APN" as const, startedAt };

describe("adoptionCandidates", () => {
  it("after a crash, the window ends a request timeout (+ skew) after the last send", () => {
    const at = (t: string) => comms({ createdAt: `2025-06-01T${t}.000Z` });
    expect(adoptionCandidates(lost, [at("10:00:59")], new Set())).toHaveLength(1);
    expect(adoptionCandidates(lost, [at("10:01:01")], new Set())).toHaveLength(0);
    // Re-sent at 10:00:45 (after a 429): it can have been carried out until 10:01:45.
    expect(adoptionCandidates({ ...lost, lastSentAt: "2025-06-01T10:00:45.000Z" }, [at("10:01:40")], new Set())).toHaveLength(1);
  });

  it("excludes claimed and prior ids, other Apps and types, and sorts oldest first", () => {
    const a = comms({ createdAt: "2025-06-01T10:00:02.000Z" });
    const b = comms({ createdAt: "2025-06-01T10:00:01.000Z" });
    const claimed = comms({ createdAt: "2025-06-01T10:00:01.000Z" });
    const prior = comms({ createdAt: "2025-06-01T10:00:01.000Z" });
    const otherApp = comms({ appName: "x", createdAt: "2025-06-01T10:00:01.000Z" });
    const otherType = comms({ credentialType: "FCM", createdAt: "2025-06-01T10:00:01.000Z" });
    const found = adoptionCandidates({ ...lost, priorIds: [prior.id] }, [a, b, claimed, prior, otherApp, otherType], new Set([claimed.id]));
    expect(found.map((c) => c.id)).toEqual([b.id, a.id]);
  });
});

describe("ledger replay of lost creates", () => {
  it("records when an attempt was re-sent and when its loss was noticed", () => {
    const base = { v: 1 as const, legacySid: "CR1" };
    const entry = replay([
      { ...base, ts: startedAt, event: "attempt", attemptId: "a", appName: "app_ios", credentialType: "APN", isDefault: false, startedAt },
      { ...base, ts: "2025-06-01T10:00:05.000Z", event: "resent", attemptId: "a" },
      { ...base, ts: "2025-06-01T10:00:09.000Z", event: "unknown", attemptId: "a", reason: "reset" },
    ]).get("CR1")!;
    expect(entry.state).toBe("pending");
    expect(entry.lastAttempt).toMatchObject({ lastSentAt: "2025-06-01T10:00:05.000Z", unknownAt: "2025-06-01T10:00:09.000Z" });
  });
});
