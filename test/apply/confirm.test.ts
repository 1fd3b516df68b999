import { describe, expect, it } from "vitest";
import { Confirmer } from "../../src/apply/confirm.js";
import type { CommsClient, CommsListFilter } from "../../src/comms/types.js";
import type { CommsCredential } from "../../src/domain.js";

/** A fake Comms whose credentials become visible at a virtual time; the clock only moves when the confirmer sleeps. */
function fakeWorld() {
  let clock = 0;
  const visibleAt = new Map<string, number>();
  const calls: string[] = [];
  const cred = (id: string, appName: string): CommsCredential => ({ id, appName, credentialType: "APN", isDefault: false, createdAt: "", updatedAt: "" });
  const apps = new Map<string, string>();
  // A loop that looks without ever sleeping (a bug, or a mutant) spins on microtasks alone, where no
  // test timeout can stop it: past this many looks every look hangs (and the test times out).
  const runaway = () => (calls.length > 1_000 ? new Promise<never>(() => {}) : undefined);
  const fetch = async (id: string) => {
    calls.push(`fetch ${id}`);
    await runaway();
    const t = visibleAt.get(id);
    return t !== undefined && t <= clock ? cred(id, apps.get(id)!) : null;
  };
  const comms = {
    stats: { requests: 0, retries: 0, byKind: {} },
    async list(filter?: CommsListFilter) {
      calls.push(`list ${filter?.appName}`);
      await runaway();
      return [...visibleAt].filter(([id, t]) => t <= clock && apps.get(id) === filter?.appName).map(([id]) => cred(id, apps.get(id)!));
    },
    fetch,
    fetchLocation: (location: string) => fetch(location.split("/").pop()!),
  } as unknown as CommsClient;
  return {
    comms,
    calls,
    add: (id: string, app: string, at: number) => {
      visibleAt.set(id, at);
      apps.set(id, app);
    },
    sleep: async (ms: number) => {
      clock += ms;
      // Yield to timers too, so a loop that never ends (a bug, or a mutant) still lets the test time out.
      await new Promise<void>((resolve) => setImmediate(resolve));
    },
    now: () => clock,
  };
}

describe("Confirmer", () => {
  it("confirms one pending credential with GETs until it is visible", async () => {
    const w = fakeWorld();
    w.add("c1", "app", 250);
    const confirmer = new Confirmer(w.comms, { sleep: w.sleep, now: w.now, initialDelayMs: 100, maxDelayMs: 1000, timeoutMs: 5000 });
    const seen = await confirmer.waitFor("app", "c1");
    expect(seen?.id).toBe("c1");
    expect(w.calls).toEqual(["fetch c1", "fetch c1"]); // at 100 (not yet), at 300 (visible)
  });

  it("confirms many credentials of one App with list calls instead of one GET each", async () => {
    const w = fakeWorld();
    for (let i = 0; i < 10; i++) w.add(`c${i}`, "app", 150);
    const confirmer = new Confirmer(w.comms, { sleep: w.sleep, now: w.now, initialDelayMs: 100, maxDelayMs: 1000, timeoutMs: 5000 });
    const seen = await Promise.all(Array.from({ length: 10 }, (_, i) => confirmer.waitFor("app", `c${i}`)));
    expect(seen.map((c) => c?.id)).toEqual(Array.from({ length: 10 }, (_, i) => `c${i}`));
    expect(w.calls.every((c) => c === "list app")).toBe(true);
    expect(w.calls.length).toBeLessThanOrEqual(3);
  });

  it("gives up with null at the timeout", async () => {
    const w = fakeWorld();
    const confirmer = new Confirmer(w.comms, { sleep: w.sleep, now: w.now, initialDelayMs: 100, maxDelayMs: 400, timeoutMs: 1000 });
    expect(await confirmer.waitFor("app", "never")).toBeNull();
    expect(w.now()).toBeGreaterThanOrEqual(1000);
  });

  it("waits for an extra condition (a PATCHed default)", async () => {
    const w = fakeWorld();
    w.add("c1", "app", 0);
    const confirmer = new Confirmer(w.comms, { sleep: w.sleep, now: w.now, initialDelayMs: 100, maxDelayMs: 400, timeoutMs: 600 });
    expect(await confirmer.waitFor("app", "c1", { accept: (c) => c.isDefault })).toBeNull();
  });
});

describe("Confirmer batching", () => {
  it("holds the first look while announced writes are still coming, then confirms them with one list", async () => {
    // Real (short) time here: the writes arrive while the confirmer's loop is holding.
    const w = fakeWorld();
    const confirmer = new Confirmer(w.comms, { initialDelayMs: 10, maxDelayMs: 100, timeoutMs: 10_000, holdMaxMs: 5000 });
    const tickets = Array.from({ length: 5 }, () => confirmer.expect("app"));
    const waits: Promise<CommsCredential | null>[] = [];
    for (let i = 0; i < 5; i++) {
      w.add(`c${i}`, "app", 0); // visible at once
      waits.push(confirmer.waitFor("app", `c${i}`, { ticket: tickets[i]! }));
      await new Promise((r) => setTimeout(r, 20));
    }
    const seen = await Promise.all(waits);
    expect(seen.every((c) => c !== null)).toBe(true);
    expect(w.calls).toEqual(["list app"]);
  });

  it("a released ticket (a failed write) does not hold the others back", async () => {
    const w = fakeWorld();
    const confirmer = new Confirmer(w.comms, { sleep: w.sleep, now: w.now, initialDelayMs: 100, maxDelayMs: 1000, timeoutMs: 10_000, holdMaxMs: 60_000 });
    const a = confirmer.expect("app");
    const b = confirmer.expect("app");
    w.add("c1", "app", 0);
    const seen = confirmer.waitFor("app", "c1", { ticket: a });
    confirmer.release(b);
    expect((await seen)?.id).toBe("c1");
    expect(w.now()).toBeLessThan(60_000);
  });
});
