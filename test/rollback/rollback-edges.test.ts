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
