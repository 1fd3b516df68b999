import { describe, expect, it } from "vitest";
import { ApiError } from "../../src/errors.js";
import { MemoryLedger } from "../../src/ledger/ledger.js";
import { rollback, type RollbackCandidate, type RollbackPlan } from "../../src/rollback/rollback.js";
import { ACCOUNT, sid } from "../plan/builders.js";
import { fakeComms, virtualClock } from "../apply/fake-comms.js";

function world() {
  const clock = virtualClock();
  const comms = fakeComms(clock);
  const ledger = new MemoryLedger(clock.now);
  const deps = { comms: comms.client, ledger, concurrency: 2, runId: "run-rb", accountSid: ACCOUNT, now: clock.now, sleep: clock.sleep, confirmTimeoutMs: 5_000 };
  const candidate = (n: number, appName = "app_ios", credentialType: RollbackCandidate["credentialType"] = "APN"): RollbackCandidate => {
    const c = comms.add({ appName, credentialType });
    return { legacySid: sid(n), commsCredentialId: c.id, appName, credentialType };
  };
  return { clock, comms, ledger, deps, candidate };
}

const planOf = (over: Partial<RollbackPlan>): RollbackPlan => ({ deletes: [], refused: [], gone: [], warnings: [], ...over });

describe("rollback: carrying out deletes", () => {
  it("a delete Comms refuses fails that item, journals nothing for it, and the others go ahead", async () => {
    const w = world();
    const bad = w.candidate(1);
    const good = w.candidate(2);
    w.comms.hooks.delete = async (id) => {
      if (id === bad.commsCredentialId) throw new ApiError("Comms", 403, 20003, "forbidden");
      w.comms.remove(id);
      return { resourceId: id, resourceLocation: `x/${id}` };
    };
    const result = await rollback(planOf({ deletes: [bad, good] }), w.deps);
    const [first, second] = result.items;
    expect(first).toMatchObject({ legacySid: sid(1), action: "delete", status: "failed", commsCredentialId: bad.commsCredentialId });
    expect(first!.error).toMatch(/403/);
    expect(second).toMatchObject({ legacySid: sid(2), action: "delete", status: "confirmed" });
    expect(w.ledger.list).toEqual([
      expect.objectContaining({ event: "delete-accepted", legacySid: sid(2), commsCredentialId: good.commsCredentialId, runId: "run-rb" }),
      expect.objectContaining({ event: "deleted", legacySid: sid(2), commsCredentialId: good.commsCredentialId, runId: "run-rb" }),
    ]);
    expect(w.comms.all().map((c) => c.id)).toEqual([bad.commsCredentialId]);
  });

  it("waits for a delete to become visible, then confirms it", async () => {
    const w = world();
    const c = w.candidate(1);
    const t0 = w.clock.ms();
    w.comms.hooks.delete = async (id) => {
      w.comms.goneFrom(id, w.clock.ms() + 1_200);
      return { resourceId: id, resourceLocation: `x/${id}` };
    };
    const result = await rollback(planOf({ deletes: [c] }), w.deps);
    expect(result.items[0]).toMatchObject({ status: "confirmed", warnings: [] });
    expect(w.clock.ms() - t0).toBeGreaterThanOrEqual(1_200);
    expect(w.comms.calls.filter((x) => x.startsWith("fetch ")).length).toBeGreaterThan(1);
    expect(w.ledger.list.map((e) => e.event)).toEqual(["delete-accepted", "deleted"]);
  });

  it("a delete still visible at the timeout is accepted-unconfirmed, says so, stops waiting, and is journalled only as accepted", async () => {
    const w = world();
    const c = w.candidate(1);
    const t0 = w.clock.ms();
    w.comms.hooks.delete = async (id) => ({ resourceId: id, resourceLocation: `x/${id}` }); // accepted, never carried out
    const result = await rollback(planOf({ deletes: [c] }), { ...w.deps, confirmTimeoutMs: 3_000 });
    expect(result.items[0]!.status).toBe("accepted-unconfirmed");
    expect(result.items[0]!.warnings.join(" ")).toMatch(/still visible at the timeout/);
    const waited = w.clock.ms() - t0;
    expect(waited).toBeGreaterThanOrEqual(3_000);
    expect(waited).toBeLessThan(3_000 + 5_000);
    // Not seen gone, so not journalled `deleted`: the ledger must not say deleted while Comms still lists it
    // (status would call it rolled back, apply would create a second one). Pending: a rerun checks it again.
    expect(w.ledger.list.map((e) => e.event)).toEqual(["delete-accepted"]);
    expect(result.items[0]!.warnings.join(" ")).toMatch(/a rerun of rollback checks it again/);
  });

  it("a credential already gone is skipped without a request and journalled as deleted", async () => {
    const w = world();
    const gone: RollbackCandidate = { legacySid: sid(3), commsCredentialId: "comms_credential_gone", appName: "app_android", credentialType: "FCM" };
    const result = await rollback(planOf({ gone: [gone] }), w.deps);
    expect(result.items).toEqual([
      expect.objectContaining({ legacySid: sid(3), action: "already-gone", status: "skipped", commsCredentialId: "comms_credential_gone", legacyType: "fcm", sandbox: null, warnings: ["already gone from Comms"] }),
    ]);
    expect(w.comms.calls).toEqual([]);
    expect(w.ledger.list).toEqual([expect.objectContaining({ event: "deleted", legacySid: sid(3), commsCredentialId: "comms_credential_gone", reason: expect.stringMatching(/already gone/) })]);
  });

  it("refused Apps are reported as skipped with the reason, as problems, and nothing is deleted", async () => {
    const w = world();
    const last = w.candidate(1, "app_beta", "APN_SANDBOX");
    const result = await rollback(planOf({ refused: [{ appName: "app_beta", candidates: [last] }], warnings: ["w1"] }), w.deps);
    expect(result.items).toEqual([expect.objectContaining({ action: "refused", status: "skipped", legacyType: "apn", sandbox: true })]);
    expect(result.items[0]!.problems.join(" ")).toMatch(/last credential of App app_beta.*--allow-app-deletion/);
    expect(result.problems).toEqual([expect.stringMatching(/app_beta/)]);
    expect(result.warnings).toEqual(["w1"]);
    expect(result).toMatchObject({ kind: "rollback", runId: "run-rb", accountSid: ACCOUNT, interrupted: false });
    expect(w.comms.writes()).toEqual([]);
    expect(w.ledger.list).toEqual([]);
  });

  it("each delete item says what it was: an APN credential is not sandbox", async () => {
    const w = world();
    const c = w.candidate(1, "app_ios", "APN");
    const result = await rollback(planOf({ deletes: [c] }), w.deps);
    expect(result.items[0]).toMatchObject({ legacyType: "apn", sandbox: false, target: { appName: "app_ios", credentialType: "APN", isDefault: false } });
    expect(result.items[0]!.timings?.ms).toBeGreaterThanOrEqual(0);
  });
});
