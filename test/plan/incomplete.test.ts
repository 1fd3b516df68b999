import { describe, expect, it } from "vitest";
import { observe } from "../../src/observe/observe.js";
import { MemoryLedger } from "../../src/ledger/ledger.js";
import { adoptionCandidates } from "../../src/plan/reconcile.js";
import { plan } from "../../src/plan/index.js";
import type { CommsClient } from "../../src/comms/types.js";
import { comms, entry, legacy, mapping, NOW, secretsFor, sid } from "./builders.js";

describe("incomplete answers", () => {
  it("a Comms credential listed without an id is never a candidate for a lost create", () => {
    const lost = { appName: "app_ios", credentialType: "APN" as const, startedAt: "2025-06-01T10:00:00.000Z" };
    const noId = { ...comms({ createdAt: "2025-06-01T10:00:01.000Z" }), id: "", missing: ["id"] };
    expect(adoptionCandidates(lost, [noId], new Set())).toEqual([]);
  });

  it("what observing skipped reaches the plan's warnings, and a credential without an App is not counted as one", async () => {
    const listed = [{ ...comms({ appName: "" }), missing: ["appName"] }, ...Array.from({ length: 9 }, (_, i) => comms({ appName: `old_${i}` }))];
    const fakeComms = { list: async () => listed } as unknown as CommsClient;
    const legacySource = { listAll: async () => [legacy({ sid: sid(1) })], warnings: ["Conversations API listed 1 credential without a sid; skipped"] };
    const snap = await observe({ accountSid: "AC00000000000000000000000000000000", legacy: legacySource, comms: fakeComms, ledger: new MemoryLedger(), now: () => NOW });
    const p = plan(snap, mapping(entry({ sid: sid(1), appName: "tenth" })), secretsFor(sid(1)), { now: NOW });
    expect(p.warnings).toContain("Conversations API listed 1 credential without a sid; skipped");
    expect(p.warnings.join(" ")).toMatch(/Comms listed 1 credential\(s\) without appName/);
    expect(p.items[0]?.action).toBe("create"); // 9 known Apps + this one = 10
    expect(p.accountProblems).toEqual([]);
  });
});
