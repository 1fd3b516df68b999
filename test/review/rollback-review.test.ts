/**
 * Review (review-rb) of aa423d1: rollback on the run-wide AdaptiveLimiter, a delete journalled as
 * soon as Comms accepts it (before the gone-check). Each test states the EXPECTED behaviour; a
 * failing test ("R…") is a finding. Tests named "held: …" are things tried that held up.
 * R4 runs the built CLI: `npx tsc -p tsconfig.json` first.
 */
import { describe, expect, it } from "vitest";
import { rollbackSentence } from "../../src/cli/commands/rollback.js";
import { ApiError } from "../../src/errors.js";
import type { EmulatorOptions } from "../../src/emulator/index.js";
import { MemoryLedger } from "../../src/ledger/ledger.js";
import type { Ledger, LedgerEventInput } from "../../src/ledger/types.js";
import { plan } from "../../src/plan/planner.js";
import { planRollback, rollback, type RollbackCandidate, type RollbackPlan } from "../../src/rollback/rollback.js";
import { computeStatus } from "../../src/status/status.js";
import { ACCOUNT, entry, legacy, mapping, NOW, okSecret, sid, snapshot } from "../plan/builders.js";
import { fakeComms, virtualClock } from "../apply/fake-comms.js";
import { emulatorDeletes } from "../rollback/emulator-deletes.js";

const planOf = (over: Partial<RollbackPlan>): RollbackPlan => ({ deletes: [], refused: [], gone: [], warnings: [], ...over });

function world() {
  const clock = virtualClock();
  const comms = fakeComms(clock);
  const ledger = new MemoryLedger(clock.now);
  const deps = { comms: comms.client, ledger, concurrency: 1 as number | "adaptive", runId: "run-review", accountSid: ACCOUNT, now: clock.now, sleep: clock.sleep, confirmTimeoutMs: 30_000 };
  const candidate = (n: number): RollbackCandidate => {
    const c = comms.add({ appName: "app_ios", credentialType: "APN" });
    return { legacySid: sid(n), commsCredentialId: c.id, appName: "app_ios", credentialType: "APN" };
  };
  return { clock, comms, ledger, deps, candidate };
}

describe("R1: a signal stops the gone-checks (the delete is already journalled)", () => {
  it("R1: Ctrl-C after an accepted delete: no more checking reads, no 30 s wait; the item is accepted-unconfirmed", async () => {
    const w = world();
    const a = w.candidate(1);
    const controller = new AbortController();
    // Comms accepts the delete but lists the credential for another minute (propagation).
    w.comms.hooks.delete = async (id) => {
      w.comms.goneFrom(id, w.clock.ms() + 60_000);
      return { resourceId: id, resourceLocation: `x/${id}` };
    };
    // The signal arrives with the first check (fix: a delete is journalled only once seen gone, so
    // the signal no longer comes "right after the delete was journalled" as first written).
    const fetch = w.comms.client.fetch.bind(w.comms.client);
    w.comms.client.fetch = async (id) => {
      controller.abort();
      return fetch(id);
    };
    const t0 = w.clock.ms();
    const result = await rollback(planOf({ deletes: [a] }), { ...w.deps, signal: controller.signal });
    const elapsed = w.clock.ms() - t0;
    const checks = w.comms.calls.filter((c) => c.startsWith("fetch ")).length;
    expect(result.interrupted).toBe(true);
    expect(result.items[0]!.status).toBe("accepted-unconfirmed");
    expect(result.items[0]!.warnings.join(" ")).toMatch(/accepted \(202\) but the run was stopped before it was seen gone; .*a rerun of rollback checks it again/);
    // Not seen gone: not journalled `deleted` (see R3), only as a pending delete (the 202), so a rerun checks it.
    expect(w.ledger.list.map((e) => e.event)).toEqual(["delete-accepted"]);
    // Expected: at most the one read already under way; nothing new after the signal, and the run
    // ends at once (apply's confirmer stops on the signal: "a rerun confirms it").
    expect(checks, `${checks} checking GETs sent after the signal`).toBeLessThanOrEqual(1);
    expect(elapsed, `the run went on ${elapsed} ms (virtual) after the signal`).toBeLessThan(1_000);
  });
});

describe("R2: a ledger that cannot be written stops new deletes, also with the adaptive default", () => {
  const start = emulatorDeletes();
  const twoCredentials: EmulatorOptions = { seed: { commsCredentials: [{ appName: "app_a", credentialType: "FCM" }, { appName: "app_b", credentialType: "FCM" }] } };

  it("R2: adaptive: a delete sleeping out a 429 gives its slot away; once the ledger failed it is not sent again", async () => {
    let ledgerFailed!: () => void;
    const failedOnce = new Promise<void>((r) => (ledgerFailed = r));
    // The Retry-After wait of the first delete ends once the ledger has failed (or after 300 ms).
    const { emu: e, comms: client, deletes } = await start(
      { ...twoCredentials, faults: { retryAfterSeconds: 0, script: [{ method: "DELETE", kind: "429", times: 1 }] } },
      () => Promise.race([failedOnce, new Promise<void>((r) => setTimeout(r, 300))]),
    );
    const failing: Ledger = {
      events: async () => [],
      entries: async () => new Map(),
      append: async () => {
        ledgerFailed();
        throw new Error("ENOSPC: no space left on device");
      },
    };
    // Adaptive at a limit of 1: with a fixed limit of 1 the same run sends nothing after the failure.
    const result = await rollback(planOf({ deletes }), { comms: client, ledger: failing, concurrency: "adaptive", adaptive: { start: 1 }, runId: "r", accountSid: e.accountSid });
    const sentDeletes = e.requests.filter((q) => q.method === "DELETE").map((q) => q.status);
    expect(result.problems[0]).toMatch(/no new delete was started after it/);
    // Expected: the 429'd delete (not processed by Comms) is not sent again after the ledger failed:
    // one DELETE was carried out (the one whose journal line failed), not two.
    expect(sentDeletes.filter((s) => s !== 429), `DELETE answers: ${sentDeletes.join(", ")}`).toHaveLength(1);
    // The 429'd one is still in Comms and reported as not started (a rerun deletes it, journalled).
    expect(e.state.commsCredentials()).toHaveLength(1);
    const notResent = result.items.filter((i) => i.status === "planned");
    expect(notResent).toHaveLength(1);
    expect(notResent[0]!.warnings).toEqual(["not deleted: Comms answered 429 (too many requests) and the run stopped (the ledger could not be written) before it was sent again"]);
  });

  it("R2b: adaptive: a delete sleeping out a 429 when Ctrl-C comes is not sent after the signal", async () => {
    const controller = new AbortController();
    let signalled!: () => void;
    const afterSignal = new Promise<void>((r) => (signalled = r));
    const waits: number[] = [];
    // The 30 s Retry-After: the test ends the wait once the signal came (a real run sleeps it out).
    const { emu: e, comms: client, deletes } = await start(
      { ...twoCredentials, faults: { retryAfterSeconds: 30, script: [{ method: "DELETE", kind: "429", times: 1 }] } },
      (ms) => (waits.push(ms), Promise.race([afterSignal, new Promise<void>((r) => setTimeout(r, 300))])),
    );
    const ledger = new MemoryLedger();
    const append = ledger.append.bind(ledger);
    ledger.append = async (ev: LedgerEventInput) => {
      await append(ev);
      controller.abort(); // Ctrl-C right after the first delete was journalled
      signalled();
    };
    const result = await rollback(planOf({ deletes }), { comms: client, ledger, concurrency: "adaptive", adaptive: { start: 1 }, runId: "r", accountSid: e.accountSid, signal: controller.signal });
    const sentDeletes = e.requests.filter((q) => q.method === "DELETE").map((q) => q.status);
    expect(waits).toEqual([30_000]);
    expect(result.interrupted).toBe(true);
    // Expected: Comms did not process the 429'd delete; after the signal it is not sent again.
    expect(sentDeletes.filter((s) => s !== 429), `DELETE answers: ${sentDeletes.join(", ")}`).toHaveLength(1);
  });

  it("held (restated with the fix for R3): fixed 1, a 429'd delete and a failing ledger: nothing is sent once the failure is known, and each delete sent before it says Comms deleted it", async () => {
    const { emu: e, comms: client, deletes } = await start({ ...twoCredentials, faults: { retryAfterSeconds: 0, script: [{ method: "DELETE", kind: "429", times: 1 }] } });
    // With one slot the next delete may go out while the last one is checked: the rule is that none
    // goes out once a journal line has failed. Judged where each DELETE leaves the client (the
    // emulator logs a request only once it has read it, possibly after the failure).
    let failedAppends = 0;
    const sendsAfterFailure: string[] = [];
    const del = client.delete.bind(client);
    client.delete = (id, opts) =>
      del(id, {
        ...opts,
        onSend: async (n) => {
          await opts?.onSend?.(n);
          if (failedAppends > 0) sendsAfterFailure.push(`${id} send ${n}`);
        },
      });
    const failing: Ledger = { events: async () => [], entries: async () => new Map(), append: async () => (failedAppends++, Promise.reject(new Error("EIO"))) };
    const result = await rollback(planOf({ deletes }), { comms: client, ledger: failing, concurrency: 1, runId: "r", accountSid: e.accountSid });
    expect(failedAppends).toBeGreaterThan(0);
    expect(sendsAfterFailure).toEqual([]);
    expect(e.requests.filter((q) => q.method === "DELETE").map((q) => q.status).slice(0, 2)).toEqual([429, 202]);
    for (const i of result.items) {
      if (i.status === "planned") expect(i.warnings.join(" ")).toMatch(/not started/);
      else expect(i.error).toMatch(/deleted in Comms, but the ledger could not be written: EIO/);
    }
    expect(result.problems[0]).toMatch(/^stopped: .*no new delete was started after it/);
  });
});

describe("R3: a delete Comms accepted (202) but that did not take effect is journalled `deleted`", () => {
  /** sid(1) migrated as X (confirmed); rollback's DELETE is answered 202 but X stays listed. */
  async function acceptedButStays() {
    const w = world();
    const x = w.comms.add({ appName: "app_ios", credentialType: "APN", createdAt: Date.parse("2025-05-01T00:00:00.000Z") });
    const attemptId = "att-1";
    await w.ledger.append({ event: "attempt", legacySid: sid(1), attemptId, appName: "app_ios", credentialType: "APN", isDefault: false, startedAt: "2025-05-01T00:00:00.000Z", runId: "apply-1" });
    await w.ledger.append({ event: "accepted", legacySid: sid(1), attemptId, commsCredentialId: x.id, runId: "apply-1" });
    await w.ledger.append({ event: "confirmed", legacySid: sid(1), commsCredentialId: x.id, runId: "apply-1" });
    w.comms.hooks.delete = async (id) => ({ resourceId: id, resourceLocation: `x/${id}` }); // 202, and nothing happens
    const rb = planRollback(await w.ledger.entries(), await w.comms.client.list(), { allowAppDeletion: true });
    expect(rb.deletes.map((d) => d.commsCredentialId)).toEqual([x.id]);
    const result = await rollback(rb, { ...w.deps, confirmTimeoutMs: 5_000 });
    expect(result.items[0]!.status).toBe("accepted-unconfirmed");
    expect(w.comms.all().map((c) => c.id)).toEqual([x.id]); // still there
    return { w, x, entries: await w.ledger.entries() };
  }

  it("R3a: status does not call a credential that is still in Comms 'deleted by cr2comms rollback'", async () => {
    const { w, x, entries } = await acceptedButStays();
    const st = computeStatus(entries, w.comms.all(), { now: NOW });
    const rows = st.rows.filter((r) => r.legacySid === sid(1)).map((r) => `${r.kind}${r.commsCredentialId ? ` ${r.commsCredentialId}` : ""}: ${r.detail}`);
    // Fix: the delete is not journalled until seen gone, so the ledger still says X is the migrated
    // credential, which it is while Comms lists it; a rerun of rollback deletes it (see below).
    // Expected: the live X is reported as a delete not yet confirmed (as apply's accepted create is
    // "unconfirmed"), not as rolled back, and not as a duplicate "superseded by nothing".
    expect(rows.join("\n")).not.toMatch(/rolled-back|superseded by nothing/);
    expect(rows.some((r) => r.includes(x.id))).toBe(true);
  });

  it("R3b: apply after it does not create a second credential while cr2comms's first one is still in Comms", async () => {
    const { w, x, entries } = await acceptedButStays();
    const snap = snapshot({ legacy: [legacy({ sid: sid(1) })], comms: w.comms.all(), ledger: entries });
    const item = plan(snap, mapping(entry({ sid: sid(1) })), new Map([[sid(1), okSecret(sid(1))]]), { now: NOW }).items[0]!;
    // Expected: X (created by cr2comms for this sid, its delete unconfirmed) is waited for / re-adopted,
    // like an accepted create is waited for — not a plain create beside it (a duplicate in app_ios APN).
    expect(`${item.action} ${item.commsCredentialId ?? ""}`, item.warnings.join("; ")).not.toBe("create ");
    expect(item.commsCredentialId).toBe(x.id);
  });

  it("held: a second rollback deletes it again (it is in the ledger's createdIds)", async () => {
    const { w, x, entries } = await acceptedButStays();
    const again = planRollback(entries, w.comms.all(), { allowAppDeletion: true });
    expect(again.deletes.map((d) => d.commsCredentialId)).toEqual([x.id]);
  });
});

describe("R4: a rollback whose deletes are not confirmed gone does not report success", () => {
  // R4 itself runs the built CLI: test/e2e/rollback-exit.test.ts.
  it("R4b: the sentence for a check that failed does not claim the credential was seen 'still visible'", async () => {
    const w = world();
    const a = w.candidate(1);
    w.comms.client.fetch = async () => {
      throw new Error("HTTP 503 after 6 attempts");
    };
    const result = await rollback(planOf({ deletes: [a] }), w.deps);
    expect(result.items[0]!.status).toBe("accepted-unconfirmed");
    expect(rollbackSentence(result)).not.toMatch(/still visible/);
  });
});

describe("R5: a DELETE answered 404 (already gone) is not a failure", () => {
  it("R5: the credential is gone, which is what rollback wanted: not 'failed', and journalled", async () => {
    const w = world();
    const a = w.candidate(1);
    // Gone between the plan's list and the delete (e.g. a rerun of a rollback whose 202'd delete
    // was still being listed): Comms answers 404.
    w.comms.hooks.delete = async (id) => {
      w.comms.remove(id);
      throw new ApiError("Comms", 404, 20404, "The requested resource was not found");
    };
    const result = await rollback(planOf({ deletes: [a] }), w.deps);
    expect(result.items[0]!.status, result.items[0]!.error).not.toBe("failed");
    expect(w.ledger.list.map((e) => [e.event, "commsCredentialId" in e ? e.commsCredentialId : ""])).toEqual([["deleted", a.commsCredentialId]]);
  });
});

describe("held: rollback under a 429 storm (adaptive)", () => {
  const start = emulatorDeletes();

  it("held: maxInFlight 2 plus random 429/503 on reads and deletes: each credential deleted once, journalled once, one item each, in plan order", async () => {
    const comms = Array.from({ length: 30 }, (_, k) => ({ appName: `app_${k % 5}`, credentialType: (["APN", "APN_SANDBOX", "FCM"] as const)[k % 3]! }));
    const { emu: e, comms: client, deletes } = await start(
      { latencyMs: 2, maxInFlight: 2, seed: { commsCredentials: comms }, faults: { rate: 0.15, kinds: ["429", "503"], seed: 7, retryAfterSeconds: 0 } },
      () => new Promise((r) => setTimeout(r, 2)),
    );
    const ledger = new MemoryLedger();
    const result = await rollback(planOf({ deletes }), { comms: client, ledger, concurrency: "adaptive", adaptive: { start: 8 }, runId: "r", accountSid: e.accountSid });
    expect(result.items.map((i) => i.commsCredentialId)).toEqual(deletes.map((d) => d.commsCredentialId));
    // Each credential gone from Comms is journalled once as accepted and once as deleted, and its item
    // says `confirmed` — or, when its gone-check failed, only as accepted (`accepted-unconfirmed`).
    // One still there (its DELETE's retries exhausted: Comms did nothing) is `failed` and not journalled.
    const journal = (id: string) => ledger.list.filter((ev) => "commsCredentialId" in ev && ev.commsCredentialId === id).map((ev) => ev.event);
    const stillThere = new Set(e.state.commsCredentials().map((c) => c.id));
    for (const [k, i] of result.items.entries()) {
      const id = i.commsCredentialId!;
      const outcome = stillThere.has(id) ? ["failed", []] : i.status === "confirmed" ? ["confirmed", ["delete-accepted", "deleted"]] : ["accepted-unconfirmed", ["delete-accepted"]];
      expect([i.status, journal(id)], `item ${k} (${id}): ${i.error ?? ""}`).toEqual(outcome);
    }
    expect(result.items.filter((i) => i.status === "confirmed").length).toBeGreaterThan(0);
    const accepted = e.requests.filter((q) => q.method === "DELETE" && q.status === 202);
    expect(new Set(accepted.map((q) => q.path)).size).toBe(accepted.length);
    expect(result.concurrency!.throttled).toBeGreaterThan(0);
    expect(result.concurrency!.throttled).toBe(e.requests.filter((q) => q.status === 429).length);
    expect(result.concurrency!.peakInFlight).toBeLessThanOrEqual(result.concurrency!.peak);
  }, 15_000);
});
