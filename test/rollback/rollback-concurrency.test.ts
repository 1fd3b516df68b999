/**
 * Rollback's requests share one limit, as apply's do: adaptive by default, fixed with
 * `--concurrency N`. A slot is held for each DELETE and for each read that checks it is gone —
 * not while waiting between reads.
 */
import { describe, expect, it } from "vitest";
import { ApiError } from "../../src/errors.js";
import { MemoryLedger } from "../../src/ledger/ledger.js";
import { rollback, type RollbackCandidate, type RollbackPlan } from "../../src/rollback/rollback.js";
import { ACCOUNT, sid } from "../plan/builders.js";
import { fakeComms, virtualClock } from "../apply/fake-comms.js";
import { emulatorDeletes } from "./emulator-deletes.js";

const planOf = (over: Partial<RollbackPlan>): RollbackPlan => ({ deletes: [], refused: [], gone: [], warnings: [], ...over });

function world() {
  const clock = virtualClock();
  const comms = fakeComms(clock);
  const ledger = new MemoryLedger(clock.now);
  const deps = { comms: comms.client, ledger, concurrency: 1, runId: "run-rb", accountSid: ACCOUNT, now: clock.now, sleep: clock.sleep, confirmTimeoutMs: 5_000 };
  const candidate = (n: number): RollbackCandidate => {
    const c = comms.add({ appName: "app_ios", credentialType: "APN" });
    return { legacySid: sid(n), commsCredentialId: c.id, appName: "app_ios", credentialType: "APN" };
  };
  // Comms takes a delete at once (202) but lists the credential for another 300 ms.
  comms.hooks.delete = async (id) => {
    comms.goneFrom(id, clock.ms() + 300);
    return { resourceId: id, resourceLocation: `x/${id}` };
  };
  return { clock, comms, ledger, deps, candidate };
}

describe("rollback: what holds a slot", () => {
  it("with --concurrency 1 the next delete goes out while the last one is still listed, and both are confirmed", async () => {
    const w = world();
    const [a, b] = [w.candidate(1), w.candidate(2)];
    const result = await rollback(planOf({ deletes: [a, b] }), w.deps);
    expect(result.items.map((i) => i.status)).toEqual(["confirmed", "confirmed"]);
    const calls = w.comms.calls;
    // a's checks go on after b's delete: waiting for a to go did not hold the only slot.
    expect(calls.indexOf(`delete ${b.commsCredentialId}`)).toBeLessThan(calls.lastIndexOf(`fetch ${a.commsCredentialId}`));
    expect(result.concurrency).toMatchObject({ mode: "fixed", start: 1, final: 1, peakInFlight: 1 });
  });

  it("journals a delete as accepted when the 202 arrives and as deleted only once it is seen gone: the ledger never says deleted while the credential exists", async () => {
    const w = world();
    const a = w.candidate(1);
    const journalledAtCheck: string[][] = [];
    const fetch = w.comms.client.fetch.bind(w.comms.client);
    w.comms.client.fetch = async (id) => {
      journalledAtCheck.push(w.ledger.list.map((e) => e.event));
      return fetch(id);
    };
    const result = await rollback(planOf({ deletes: [a] }), w.deps);
    expect(journalledAtCheck.length).toBeGreaterThan(1); // listed at first, gone later
    expect(journalledAtCheck.every((events) => events.join() === "delete-accepted")).toBe(true);
    expect(w.ledger.list).toEqual([
      expect.objectContaining({ event: "delete-accepted", legacySid: sid(1), commsCredentialId: a.commsCredentialId, reason: "rollback" }),
      expect.objectContaining({ event: "deleted", legacySid: sid(1), commsCredentialId: a.commsCredentialId, reason: "rollback" }),
    ]);
    expect(result.items[0]!.status).toBe("confirmed");
  });

  it("a check that fails after an accepted delete: unconfirmed (not failed), journalled only as accepted, and a rerun is named", async () => {
    const w = world();
    const a = w.candidate(1);
    w.comms.client.fetch = async () => {
      throw new ApiError("Comms", 500, undefined, "internal error");
    };
    const result = await rollback(planOf({ deletes: [a] }), w.deps);
    expect(result.items[0]).toMatchObject({ status: "accepted-unconfirmed" });
    expect(result.items[0]!.warnings.join(" ")).toMatch(/accepted \(202\) but checking that it is gone failed: .*500.*a rerun of rollback checks it again/);
    expect(w.ledger.list.map((e) => e.event)).toEqual(["delete-accepted"]);
  });

  it("a delete Comms answers 404 is already gone: confirmed, journalled, and said", async () => {
    const w = world();
    const a = w.candidate(1);
    w.comms.hooks.delete = async () => {
      throw new ApiError("Comms", 404, 20404, "not found");
    };
    const result = await rollback(planOf({ deletes: [a] }), w.deps);
    expect(result.items[0]).toMatchObject({ status: "confirmed" });
    expect(result.items[0]!.warnings).toContain("Comms answered 404 to the delete: it was already gone");
    expect(w.ledger.list.map((e) => e.event)).toEqual(["deleted"]);
  });
});

describe("rollback against a server that takes 3 requests in flight", () => {
  const start = emulatorDeletes();
  /**
   * `n` Comms credentials in 4 Apps; the emulator takes 3 requests in flight (429, Retry-After,
   * beyond). 40 ms a request by default: long enough that more than 3 sent at once are in flight
   * together at the server even on a loaded machine.
   */
  const limitedWorld = (n: number, latencyMs = 40) =>
    start({ latencyMs, maxInFlight: 3, visibilityDelayMs: 20, seed: { commsCredentials: Array.from({ length: n }, (_, k) => ({ appName: `app_${k % 4}`, credentialType: "FCM" as const })) } });

  it("adaptive (the default): backs off on the 429s, deletes each credential once and confirms them all", async () => {
    const w = await limitedWorld(24);
    const ledger = new MemoryLedger();
    const result = await rollback(planOf({ deletes: w.deletes }), { comms: w.comms, ledger, concurrency: "adaptive", adaptive: { start: 8 }, runId: "r", accountSid: w.emu.accountSid });
    expect(result.items.every((i) => i.status === "confirmed")).toBe(true);
    const accepted = w.emu.requests.filter((q) => q.method === "DELETE" && q.status !== 429);
    expect(accepted).toHaveLength(24);
    expect(new Set(accepted.map((q) => q.path)).size).toBe(24);
    expect(ledger.list.filter((e) => e.event === "deleted")).toHaveLength(24);
    expect(ledger.list.filter((e) => e.event === "delete-accepted")).toHaveLength(24);
    const c = result.concurrency!;
    expect(c.mode).toBe("adaptive");
    expect(c.throttled).toBeGreaterThan(0);
    expect(c.throttled).toBe(w.emu.requests.filter((q) => q.status === 429).length);
    expect(c.final).toBeLessThan(8);
  });

  it("fixed: never moves, and still counts the 429s", async () => {
    // 5 ms a request: fixed at twice the server's limit, a slower server would run its 429 retries out.
    const w = await limitedWorld(12, 5);
    const result = await rollback(planOf({ deletes: w.deletes }), { comms: w.comms, ledger: new MemoryLedger(), concurrency: 6, runId: "r", accountSid: w.emu.accountSid });
    expect(result.items.every((i) => i.status === "confirmed")).toBe(true);
    expect(result.concurrency).toMatchObject({ mode: "fixed", start: 6, final: 6, peak: 6 });
    expect(result.concurrency!.throttled).toBe(w.emu.requests.filter((q) => q.status === 429).length);
  });
});
