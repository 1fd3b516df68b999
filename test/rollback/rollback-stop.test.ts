/** Rollback stops like apply does: on a signal, and when the ledger can no longer be written. */
import { describe, expect, it } from "vitest";
import { MemoryLedger } from "../../src/ledger/ledger.js";
import type { Ledger } from "../../src/ledger/types.js";
import { rollback, type RollbackCandidate, type RollbackPlan } from "../../src/rollback/rollback.js";
import { ACCOUNT, sid } from "../plan/builders.js";
import { fakeComms, virtualClock } from "../apply/fake-comms.js";

function world(ledger?: Ledger) {
  const clock = virtualClock();
  const comms = fakeComms(clock);
  const memory = new MemoryLedger(clock.now);
  const deps = { comms: comms.client, ledger: ledger ?? memory, concurrency: 1, runId: "run-stop", accountSid: ACCOUNT, now: clock.now, sleep: clock.sleep, confirmTimeoutMs: 5_000 };
  const candidate = (n: number): RollbackCandidate => {
    const c = comms.add({ appName: "app_ios", credentialType: "APN" });
    return { legacySid: sid(n), commsCredentialId: c.id, appName: "app_ios", credentialType: "APN" };
  };
  return { comms, memory, deps, candidate };
}

const planOf = (over: Partial<RollbackPlan>): RollbackPlan => ({ deletes: [], refused: [], gone: [], warnings: [], ...over });

describe("rollback stops", () => {
  it("a signal before a delete starts: nothing more is deleted, the rest is reported not started, the run says it was interrupted", async () => {
    const w = world();
    const [a, b] = [w.candidate(1), w.candidate(2)];
    const controller = new AbortController();
    w.comms.hooks.delete = async (id) => {
      w.comms.remove(id);
      controller.abort(); // the signal arrives while the first delete is in flight
      return { resourceId: id, resourceLocation: `x/${id}` };
    };
    const result = await rollback(planOf({ deletes: [a, b] }), { ...w.deps, signal: controller.signal });
    expect(result.interrupted).toBe(true);
    expect(result.items.map((i) => i.status)).toEqual(["confirmed", "planned"]);
    expect(result.items[1]!.warnings).toEqual(["not started: the run was interrupted"]);
    expect(w.comms.writes()).toEqual([`delete ${a.commsCredentialId}`]);
    expect(w.memory.list.map((e) => e.event)).toEqual(["delete-accepted", "deleted"]); // what was in flight is journalled
  });

  it("a ledger that fails after a delete: nothing is sent once the failure is known, each delete sent before it says Comms deleted it, and the run says why", async () => {
    // A delete is journalled once seen gone; with one slot the next delete may go out while the
    // last one is checked, so the rule is: none goes out once a journal line has failed.
    let sentAtFailure: number | undefined;
    const deletesSent = () => w.comms.writes().filter((c) => c.startsWith("delete ")).length;
    const failing: Ledger = {
      events: async () => [],
      entries: async () => new Map(),
      append: async () => {
        sentAtFailure ??= deletesSent();
        throw new Error("ENOSPC: no space left on device");
      },
    };
    const w = world(failing);
    const candidates = [1, 2, 3, 4].map((n) => w.candidate(n));
    const gone = { legacySid: sid(9), commsCredentialId: "comms_credential_gone", appName: "app_ios", credentialType: "APN" as const };
    const result = await rollback(planOf({ deletes: candidates, gone: [gone] }), w.deps);
    expect(sentAtFailure).toBeDefined();
    expect(deletesSent()).toBe(sentAtFailure);
    expect(sentAtFailure).toBeLessThan(candidates.length); // the last ones were not started
    const [first] = result.items;
    expect(first).toMatchObject({ status: "failed", commsCredentialId: candidates[0]!.commsCredentialId });
    for (const i of result.items.slice(0, candidates.length)) {
      if (i.status === "planned") expect(i.warnings).toEqual(["not started: the ledger could not be written"]);
      else expect(i.error).toMatch(/deleted in Comms, but the ledger could not be written: ENOSPC/);
    }
    // Both kinds are there: the deletes the journal failed for, and the ones never started.
    expect(result.items.slice(0, candidates.length).filter((i) => i.status === "planned").length).toBe(candidates.length - sentAtFailure!);
    expect(result.problems[0]).toMatch(/^stopped: the delete of \S+ was accepted by Comms, but the ledger could not be written: ENOSPC.*no new delete was started after it/);
    // Said once, however many journal lines failed.
    expect(result.items.filter((i) => i.status === "failed").length).toBeGreaterThan(1);
    expect(result.problems.filter((p) => p.startsWith("stopped: "))).toHaveLength(1);
  });

  it("a ledger that fails while recording credentials already gone is said once, not thrown", async () => {
    let appends = 0;
    const flaky: Ledger = {
      events: async () => [],
      entries: async () => new Map(),
      append: async () => {
        appends++;
        throw new Error("EIO: i/o error");
      },
    };
    const w = world(flaky);
    const gone = (n: number) => ({ legacySid: sid(n), commsCredentialId: `comms_credential_gone${n}`, appName: "app_ios", credentialType: "APN" as const });
    const result = await rollback(planOf({ gone: [gone(1), gone(2)] }), w.deps);
    expect(result.problems).toEqual(["the ledger could not be written: EIO: i/o error"]);
    expect(appends).toBe(1);
    expect(result.items.map((i) => i.action)).toEqual(["already-gone", "already-gone"]);
  });
});
