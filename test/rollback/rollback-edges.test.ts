import { describe, expect, it } from "vitest";
import { MemoryLedger } from "../../src/ledger/ledger.js";
import type { Ledger } from "../../src/ledger/types.js";
import { planRollback, registrationsNote, rollback, type RollbackCandidate, type RollbackPlan } from "../../src/rollback/rollback.js";
import { ACCOUNT, ledgerEntry, sid } from "../plan/builders.js";
import { fakeComms, virtualClock } from "../apply/fake-comms.js";

function world(ledger?: Ledger) {
  const clock = virtualClock();
  const comms = fakeComms(clock);
  const memory = new MemoryLedger(clock.now);
  const deps = { comms: comms.client, ledger: ledger ?? memory, concurrency: 1, runId: "run-edges", accountSid: ACCOUNT, now: clock.now, sleep: clock.sleep, confirmTimeoutMs: 5_000 };
  const candidate = (n: number): RollbackCandidate => {
    const c = comms.add({ appName: "app_ios", credentialType: "APN" });
    return { legacySid: sid(n), commsCredentialId: c.id, appName: "app_ios", credentialType: "APN" };
  };
  return { comms, memory, deps, candidate };
}
const planOf = (over: Partial<RollbackPlan>): RollbackPlan => ({ deletes: [], refused: [], gone: [], warnings: [], ...over });

describe("rollback: edges of what is deleted and what is said", () => {
  it("an accepted (202) id not visible yet is a warning, never a delete nor gone", () => {
    const p = planRollback(new Map([[sid(1), ledgerEntry({ legacySid: sid(1), state: "accepted", commsCredentialId: "comms_credential_x" })]]), [], { allowAppDeletion: true });
    expect(p.warnings).toEqual([expect.stringMatching(/comms_credential_x was accepted but is not visible in Comms yet; not deleted/)]);
    expect(p.deletes).toEqual([]);
    expect(p.gone).toEqual([]);
  });

  it("only the current accepted id is warned about; an earlier id that is not listed is simply not there", () => {
    const e = ledgerEntry({ legacySid: sid(1), state: "accepted", commsCredentialId: "comms_credential_new", createdIds: ["comms_credential_old", "comms_credential_new"] });
    const p = planRollback(new Map([[sid(1), e]]), [], { allowAppDeletion: true });
    expect(p.warnings).toEqual([expect.stringMatching(/comms_credential_new was accepted/)]);
  });

  it("a signal that came before the run: nothing is deleted, every item is reported not started", async () => {
    const w = world();
    const [a, b] = [w.candidate(1), w.candidate(2)];
    const controller = new AbortController();
    controller.abort();
    const result = await rollback(planOf({ deletes: [a, b] }), { ...w.deps, signal: controller.signal });
    expect(w.comms.writes()).toEqual([]);
    expect(result.items.map((i) => [i.status, i.warnings])).toEqual([
      ["planned", ["not started: the run was interrupted"]],
      ["planned", ["not started: the run was interrupted"]],
    ]);
    expect(w.memory.list).toEqual([]);
  });

  it("after the ledger failed, credentials already gone are not journalled either", async () => {
    let appends = 0;
    const failing: Ledger = {
      events: async () => [],
      entries: async () => new Map(),
      append: async () => {
        appends++;
        throw new Error("ENOSPC: no space left on device");
      },
    };
    const w = world(failing);
    const gone = { legacySid: sid(3), commsCredentialId: "comms_credential_gone", appName: "app_ios", credentialType: "APN" as const };
    const result = await rollback(planOf({ deletes: [w.candidate(1)], gone: [gone] }), w.deps);
    expect(appends).toBe(1);
    expect(result.problems).toHaveLength(1);
  });

  it("a refusal not counted says so without a number; a counted one names it", async () => {
    const w = world();
    const cand = { legacySid: sid(1), commsCredentialId: "comms_credential_1", appName: "a", credentialType: "APN" as const };
    const uncounted = await rollback(planOf({ refused: [{ appName: "a", candidates: [cand] }] }), w.deps);
    expect(uncounted.items[0]!.problems).toEqual([
      "not deleted: it would remove the last credential of App a, which deletes the App and its device registrations (pass --allow-app-deletion to allow)",
    ]);
    const counted = await rollback(planOf({ refused: [{ appName: "a", candidates: [cand], registrations: 1204 }] }), w.deps);
    expect(counted.items[0]!.problems[0]).toContain("device registrations (1,204) (pass --allow-app-deletion");
  });

  it("registrationsNote: the count as people write it, singular for one, nothing when not counted", () => {
    expect(registrationsNote({ registrations: 1204 })).toBe(" (and its 1,204 device registrations)");
    expect(registrationsNote({ registrations: 1 })).toBe(" (and its 1 device registration)");
    expect(registrationsNote({ registrations: 0 })).toBe(" (and its 0 device registrations)");
    expect(registrationsNote({})).toBe("");
    expect(registrationsNote({ countError: "HTTP 500" })).toBe("");
  });
});

describe("rollback: deletes accepted earlier (pending)", () => {
  const failingLedger = (message: string): Ledger => ({
    events: async () => [],
    entries: async () => new Map(),
    append: async () => {
      throw new Error(message);
    },
  });

  it("a refusal names the credentials whose accepted delete counts as gone", async () => {
    const w = world();
    const x = w.candidate(1);
    const y = w.candidate(2);
    const entries = new Map([
      [sid(1), ledgerEntry({ legacySid: sid(1), commsCredentialId: x.commsCredentialId, pendingDeletes: [x.commsCredentialId] })],
      [sid(2), ledgerEntry({ legacySid: sid(2), commsCredentialId: y.commsCredentialId })],
    ]);
    const p = planRollback(entries, w.comms.all(), { onlyIds: new Set([y.commsCredentialId]), allowAppDeletion: false });
    expect(p.refused).toEqual([{ appName: "app_ios", candidates: [y], deletesPending: [x.commsCredentialId] }]);
    const result = await rollback(p, w.deps);
    expect(result.items[0]!.problems[0]).toMatch(new RegExp(`--allow-app-deletion to allow\\); Comms already accepted the delete of ${x.commsCredentialId}, which counts as gone$`));
    // With the pending one in the same rollback, both go only with --allow-app-deletion.
    const both = planRollback(entries, w.comms.all(), { allowAppDeletion: true });
    expect(both.deletes.map((d) => [d.commsCredentialId, d.deletePending ?? false])).toEqual([
      [x.commsCredentialId, true],
      [y.commsCredentialId, false],
    ]);
    expect(both.appDeletions).toEqual([{ appName: "app_ios" }]);
  });

  it("a credential a replacement deleted that Comms still lists does not count as what stays in its App: rolling back its replacement alone is refused", async () => {
    const w = world();
    const old = w.candidate(1);
    const fresh = w.candidate(1);
    const entries = new Map([
      [sid(1), ledgerEntry({ legacySid: sid(1), commsCredentialId: fresh.commsCredentialId, createdIds: [old.commsCredentialId, fresh.commsCredentialId], replacedIds: [old.commsCredentialId] })],
    ]);
    // The rotation's apply report names only the new credential.
    const p = planRollback(entries, w.comms.all(), { onlyIds: new Set([fresh.commsCredentialId]), allowAppDeletion: false });
    expect(p.deletes).toEqual([]);
    expect(p.refused).toEqual([{ appName: "app_ios", candidates: [fresh], deletesPending: [old.commsCredentialId] }]);
    // A replaced credential no longer listed is neither deleted again nor reported gone again.
    const later = planRollback(entries, w.comms.all().filter((c) => c.id !== old.commsCredentialId), { allowAppDeletion: true });
    expect(later.deletes.map((d) => d.commsCredentialId)).toEqual([fresh.commsCredentialId]);
    expect(later.gone).toEqual([]);
  });

  it("a pending delete seen gone whose `deleted` cannot be written is failed, says so, and names the rerun", async () => {
    const w = world(failingLedger("EIO: i/o error"));
    const gone: RollbackCandidate = { legacySid: sid(1), commsCredentialId: "comms_credential_gone", appName: "app_ios", credentialType: "APN", deletePending: true };
    const later: RollbackCandidate = { ...gone, legacySid: sid(2), commsCredentialId: "comms_credential_gone_2" };
    const result = await rollback(planOf({ gone: [gone, later] }), w.deps);
    expect(result.items.map((i) => [i.action, i.status, i.error])).toEqual([
      ["delete", "failed", "gone from Comms, but not recorded (the ledger could not be written: EIO: i/o error); a rerun of rollback records it"],
      ["delete", "failed", "gone from Comms, but not recorded (the ledger could not be written); a rerun of rollback records it"],
    ]);
    expect(result.problems).toEqual(["the ledger could not be written: EIO: i/o error"]);
  });

  it("a delete accepted whose pending line cannot be written and that is not seen gone is failed, and names the rerun", async () => {
    const w = world(failingLedger("ENOSPC: no space left on device"));
    const a = w.candidate(1);
    w.comms.hooks.delete = async (id) => ({ resourceId: id, resourceLocation: `x/${id}` }); // 202, still listed
    const result = await rollback(planOf({ deletes: [a] }), w.deps);
    expect(result.items[0]).toMatchObject({
      status: "failed",
      error: "the delete was accepted (202), but the ledger could not be written: ENOSPC: no space left on device; it is not yet seen gone — rerun rollback (it checks it, and deletes it again if it is still there)",
    });
    expect(result.problems).toEqual([
      `stopped: the delete of ${a.commsCredentialId} was accepted by Comms, but the ledger could not be written: ENOSPC: no space left on device; no new delete was started after it`,
    ]);
  });
});
