import { describe, expect, it } from "vitest";
import { RECONCILE_CLOCK_SKEW_MS } from "../../src/limits.js";
import { reconcileLost, windowClosesAt } from "../../src/plan/reconcile.js";
import { comms } from "./builders.js";

const startedAt = "2025-06-01T10:00:00.000Z";
const unknownAt = "2025-06-01T10:00:05.000Z";

describe("reconcileLost: rivals", () => {
  const made = comms({ createdAt: "2025-06-01T10:00:01.000Z" });

  it("an attempt is not its own rival, even without a sid", () => {
    const a = { appName: "app_ios", credentialType: "APN" as const, startedAt, unknownAt };
    expect(reconcileLost(a, [made], new Set(), [a])).toEqual({ kind: "one", credential: made });
  });

  it("two attempts of unknown sids whose windows hold one new credential: neither takes it", () => {
    const a = { appName: "app_ios", credentialType: "APN" as const, startedAt, unknownAt };
    const b = { ...a, startedAt: "2025-06-01T09:59:59.000Z" };
    expect(reconcileLost(a, [made], new Set(), [a, b])).toMatchObject({ kind: "ambiguous", ids: [made.id] });
  });

  it("attempts of one sid carry one secret: they are never each other's rivals", () => {
    const a = { appName: "app_ios", credentialType: "APN" as const, startedAt, unknownAt, legacySid: "CR1" };
    const b = { ...a, startedAt: "2025-06-01T09:59:59.000Z" };
    expect(reconcileLost(a, [made], new Set(), [a, b])).toEqual({ kind: "one", credential: made });
    expect(reconcileLost(a, [made], new Set(), [a, { ...b, legacySid: "CR2" }])).toMatchObject({ kind: "ambiguous", ids: [made.id] });
  });
});

describe("windowClosesAt", () => {
  it("a new create may start once the lost one's window and twice the clock skew have passed", () => {
    const a = { appName: "app_ios", credentialType: "APN" as const, startedAt, unknownAt };
    expect(windowClosesAt(a, { skewMs: 1_000 })).toBe(Date.parse(unknownAt) + 2_000);
    expect(windowClosesAt(a)).toBe(Date.parse(unknownAt) + 2 * RECONCILE_CLOCK_SKEW_MS);
    expect(windowClosesAt(a, { skewMs: 0 })).toBe(Date.parse(unknownAt));
  });
});
