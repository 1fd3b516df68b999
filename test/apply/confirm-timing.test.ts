/**
 * When the confirmer looks at Comms, and with which call: backoff per waiter, deadlines, the hold
 * while an App's announced writes are still coming, and the wake when the last one arrives. Driven
 * by a discrete virtual clock: a sleep is a timer the test fires; nothing waits for real.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { Confirmer, type ConfirmerOptions } from "../../src/apply/confirm.js";
import type { CommsClient, CommsListFilter } from "../../src/comms/types.js";
import type { CommsCredential } from "../../src/domain.js";

const flush = async () => {
  for (let i = 0; i < 3; i++) await new Promise<void>((r) => setImmediate(r));
};

/**
 * A fake Comms whose credentials become visible at a virtual time, and a clock that only moves when
 * the test fires the confirmer's sleeps (`advanceTo`, `settle`). Every look is logged with its time.
 */
function timedWorld() {
  let clock = 0;
  const timers: { at: number; fire: () => void }[] = [];
  const visible = new Map<string, { app: string; at: number; isDefault: boolean }>();
  const looks: string[] = [];
  const failNext: string[] = [];
  const cred = (id: string): CommsCredential => ({ id, appName: visible.get(id)!.app, credentialType: "APN", isDefault: visible.get(id)!.isDefault, createdAt: "", updatedAt: "" });
  const shown = (id: string) => {
    const v = visible.get(id);
    return v !== undefined && v.at <= clock;
  };
  // A loop that looks without ever sleeping (a bug, or a mutant) spins on microtasks alone, where no
  // test timeout can stop it: past this many looks every look hangs, and `settle` fails the test.
  const RUNAWAY = 1_000;
  const runaway = () => (looks.length > RUNAWAY ? new Promise<never>(() => {}) : undefined);
  const fail = (kind: string) => {
    const i = failNext.indexOf(kind);
    if (i >= 0) {
      failNext.splice(i, 1);
      throw new Error(`${kind} failed`);
    }
  };
  const comms = {
    stats: { requests: 0, retries: 0, byKind: {} },
    async list(filter?: CommsListFilter) {
      looks.push(`${clock} list ${filter?.appName}`);
      await runaway();
      fail("list");
      return [...visible.keys()].filter((id) => shown(id) && visible.get(id)!.app === filter?.appName).map(cred);
    },
    async fetch(id: string) {
      looks.push(`${clock} fetch ${id}`);
      await runaway();
      fail("fetch");
      return shown(id) ? cred(id) : null;
    },
    async fetchLocation(location: string) {
      const id = location.split("/").pop()!;
      looks.push(`${clock} location ${id}`);
      await runaway();
      return shown(id) ? cred(id) : null;
    },
  } as unknown as CommsClient;

  /** Fires every sleep due by `t` (in order), then sets the clock to `t`. */
  const advanceTo = async (t: number) => {
    await flush();
    for (;;) {
      timers.sort((a, b) => a.at - b.at);
      const next = timers[0];
      if (!next || next.at > t) break;
      timers.shift();
      clock = Math.max(clock, next.at);
      next.fire();
      await flush();
    }
    clock = Math.max(clock, t);
    await flush();
    if (looks.length > RUNAWAY) throw new Error("the confirmer looks without ever sleeping");
  };
  return {
    comms,
    looks,
    failNext,
    now: () => clock,
    add: (id: string, app: string, at: number, isDefault = false) => void visible.set(id, { app, at, isDefault }),
    opts: (over: ConfirmerOptions = {}): ConfirmerOptions => ({
      sleep: (ms) => new Promise<void>((fire) => timers.push({ at: clock + ms, fire })),
      now: () => clock,
      initialDelayMs: 100,
      maxDelayMs: 400,
      timeoutMs: 5_000,
      holdMaxMs: 1_000,
      ...over,
    }),
    advanceTo,
    /** Runs the clock until `p` settles; returns its value and the virtual time it settled at. */
    async settle<T>(p: Promise<T>, limit = 100_000): Promise<{ value: T; at: number }> {
      let done: { value: T; at: number } | undefined;
      void p.then((value) => (done = { value, at: clock }));
      await flush();
      while (!done) {
        if (looks.length > RUNAWAY) throw new Error("the confirmer looks without ever sleeping");
        timers.sort((a, b) => a.at - b.at);
        const next = timers.shift();
        if (!next || next.at > limit) throw new Error(`nothing left to run at ${clock}`);
        clock = Math.max(clock, next.at);
        next.fire();
        await flush();
      }
      return done;
    },
  };
}

describe("Confirmer: backoff and deadlines", () => {
  it("looks again after a delay that doubles from initialDelayMs up to maxDelayMs", async () => {
    const w = timedWorld();
    w.add("c1", "app", 1_450);
    const confirmer = new Confirmer(w.comms, w.opts());
    const { value, at } = await w.settle(confirmer.waitFor("app", "c1"));
    expect(value?.id).toBe("c1");
    expect(at).toBe(1_500);
    expect(w.looks).toEqual(["100 fetch c1", "300 fetch c1", "700 fetch c1", "1100 fetch c1", "1500 fetch c1"]);
  });

  it("gives up with null at its deadline, with a last look at the deadline itself", async () => {
    const w = timedWorld();
    const confirmer = new Confirmer(w.comms, w.opts({ timeoutMs: 1_000 }));
    const { value, at } = await w.settle(confirmer.waitFor("app", "never"));
    expect(value).toBeNull();
    expect(at).toBe(1_000);
    expect(w.looks).toEqual(["100 fetch never", "300 fetch never", "700 fetch never", "1000 fetch never"]);
  });

  it("a waiter's own timeout and longest pause override the confirmer's", async () => {
    const w = timedWorld();
    const confirmer = new Confirmer(w.comms, w.opts({ timeoutMs: 60_000 }));
    const { value, at } = await w.settle(confirmer.waitFor("app", "never", { timeoutMs: 2_000, maxDelayMs: 800 }));
    expect(value).toBeNull();
    expect(at).toBe(2_000);
    expect(w.looks).toEqual(["100 fetch never", "300 fetch never", "700 fetch never", "1500 fetch never", "2000 fetch never"]);
  });

  it("a waiter with a short deadline gives up on time although another of its App waits longer", async () => {
    const w = timedWorld();
    w.add("late", "app", 1_000);
    const confirmer = new Confirmer(w.comms, w.opts());
    const short = confirmer.waitFor("app", "early", { timeoutMs: 500 });
    const long = confirmer.waitFor("app", "late");
    const first = await w.settle(short);
    expect(first).toEqual({ value: null, at: 500 });
    const second = await w.settle(long);
    expect(second.value?.id).toBe("late");
    // Both are looked at with one list while both wait; the one left alone is fetched.
    expect(w.looks.slice(0, 3)).toEqual(["100 list app", "300 list app", "500 list app"]);
    expect(w.looks.slice(3).every((l) => l.endsWith("fetch late"))).toBe(true);
  });

  it("waits for an accepted condition, and resolves as soon as a look shows it", async () => {
    const w = timedWorld();
    w.add("c1", "app", 0, false);
    const confirmer = new Confirmer(w.comms, w.opts());
    const waiting = confirmer.waitFor("app", "c1", { accept: (c) => c.isDefault });
    await w.advanceTo(250);
    w.add("c1", "app", 0, true); // the PATCH took effect
    const { value, at } = await w.settle(waiting);
    expect(value).toMatchObject({ id: "c1", isDefault: true });
    expect(at).toBe(300);
  });

  it("looks at the write's resourceLocation when it has one", async () => {
    const w = timedWorld();
    w.add("c1", "app", 0);
    const confirmer = new Confirmer(w.comms, w.opts());
    const { value } = await w.settle(confirmer.waitFor("app", "c1", { location: "https://comms.test/v1/PushNotifications/Credentials/c1" }));
    expect(value?.id).toBe("c1");
    expect(w.looks).toEqual(["100 location c1"]);
  });

  it("a look that fails is tried again at the next round", async () => {
    const w = timedWorld();
    w.add("c1", "app", 0);
    w.add("c2", "app", 0);
    w.failNext.push("fetch", "list");
    const confirmer = new Confirmer(w.comms, w.opts());
    expect((await w.settle(confirmer.waitFor("app", "c1"))).value?.id).toBe("c1");
    expect(w.looks).toEqual(["100 fetch c1", "300 fetch c1"]);
    w.looks.length = 0;
    const both = await w.settle(Promise.all([confirmer.waitFor("app", "c1"), confirmer.waitFor("app", "c2")]));
    expect(both.value.map((c) => c?.id)).toEqual(["c1", "c2"]);
    expect(w.looks.map((l) => l.replace(/^\d+ /, ""))).toEqual(["list app", "list app"]);
  });

  it("runs each look through the schedule it is given (the writer's concurrency limit)", async () => {
    const w = timedWorld();
    w.add("c1", "app", 0);
    let scheduled = 0;
    const confirmer = new Confirmer(w.comms, w.opts({ schedule: (fn) => (scheduled++, fn()) }));
    await w.settle(confirmer.waitFor("app", "c1"));
    expect(scheduled).toBe(1);
  });

  it("keeps each App's looks apart: one App's waiter never makes another's look early", async () => {
    const w = timedWorld();
    w.add("a1", "a", 0);
    w.add("b1", "b", 350);
    const confirmer = new Confirmer(w.comms, w.opts());
    const [a, b] = (await w.settle(Promise.all([confirmer.waitFor("a", "a1"), confirmer.waitFor("b", "b1")]))).value;
    expect([a?.id, b?.id]).toEqual(["a1", "b1"]);
    expect(w.looks).toEqual(["100 fetch a1", "100 fetch b1", "300 fetch b1", "700 fetch b1"]);
  });
});

describe("Confirmer: interruption", () => {
  it("an already aborted wait returns null without looking", async () => {
    const w = timedWorld();
    w.add("c1", "app", 0);
    const confirmer = new Confirmer(w.comms, w.opts());
    const controller = new AbortController();
    controller.abort();
    expect(await confirmer.waitFor("app", "c1", { signal: controller.signal })).toBeNull();
    await w.advanceTo(10_000);
    expect(w.looks).toEqual([]);
  });

  it("aborting one wait resolves it at once and drops it from the App's looks", async () => {
    const w = timedWorld();
    w.add("kept", "app", 1_000);
    const confirmer = new Confirmer(w.comms, w.opts());
    const controller = new AbortController();
    const dropped = confirmer.waitFor("app", "dropped", { signal: controller.signal });
    const kept = confirmer.waitFor("app", "kept");
    await w.advanceTo(150);
    controller.abort();
    expect(await dropped).toBeNull();
    expect((await w.settle(kept)).value?.id).toBe("kept");
    expect(w.looks[0]).toBe("100 list app");
    expect(w.looks.slice(1).every((l) => l.endsWith("fetch kept"))).toBe(true);
  });

  it("an aborted wait that was its App's only one ends the App's loop without another look", async () => {
    const w = timedWorld();
    const confirmer = new Confirmer(w.comms, w.opts());
    const controller = new AbortController();
    const waiting = confirmer.waitFor("app", "c1", { signal: controller.signal });
    await w.advanceTo(150);
    controller.abort();
    expect(await waiting).toBeNull();
    await w.advanceTo(10_000);
    expect(w.looks).toEqual(["100 fetch c1"]);
  });
});

describe("Confirmer: holding the first look while an App's writes are still coming", () => {
  it("holds the first look up to holdMaxMs while another announced write has not arrived", async () => {
    const w = timedWorld();
    w.add("c1", "app", 0);
    const confirmer = new Confirmer(w.comms, w.opts());
    const a = confirmer.expect("app");
    const b = confirmer.expect("app");
    const { value, at } = await w.settle(confirmer.waitFor("app", "c1", { ticket: a }));
    expect(value?.id).toBe("c1");
    expect(at).toBe(1_000);
    expect(w.looks).toEqual(["1000 fetch c1"]);
    confirmer.release(b);
  });

  it("a write announced for another App holds nothing back here", async () => {
    const w = timedWorld();
    w.add("c1", "app", 0);
    const confirmer = new Confirmer(w.comms, w.opts());
    const mine = confirmer.expect("app");
    confirmer.expect("other");
    const { at } = await w.settle(confirmer.waitFor("app", "c1", { ticket: mine }));
    expect(at).toBe(100);
  });

  it("the hold never runs past a waiter's deadline", async () => {
    const w = timedWorld();
    const confirmer = new Confirmer(w.comms, w.opts({ timeoutMs: 600 }));
    const a = confirmer.expect("app");
    confirmer.expect("app");
    const { value, at } = await w.settle(confirmer.waitFor("app", "never", { ticket: a }));
    expect(value).toBeNull();
    expect(at).toBe(600);
    expect(w.looks).toEqual(["600 fetch never"]);
  });

  it("the hold counts from the oldest waiter's arrival", async () => {
    const w = timedWorld();
    w.add("c1", "app", 0);
    w.add("c2", "app", 0);
    const confirmer = new Confirmer(w.comms, w.opts());
    const [a, b] = [confirmer.expect("app"), confirmer.expect("app")];
    const c = confirmer.expect("app");
    const first = confirmer.waitFor("app", "c1", { ticket: a });
    await w.advanceTo(400);
    const second = confirmer.waitFor("app", "c2", { ticket: b });
    const { value, at } = await w.settle(Promise.all([first, second]));
    expect(value.map((x) => x?.id)).toEqual(["c1", "c2"]);
    expect(at).toBe(1_000);
    expect(w.looks).toEqual(["1000 list app"]);
    confirmer.release(c);
  });

  it("when the last announced write arrives, one look covers every waiter, once the newest is due", async () => {
    const w = timedWorld();
    w.add("c1", "app", 0);
    w.add("c2", "app", 150); // visible only once the second write is due
    const confirmer = new Confirmer(w.comms, w.opts({ holdMaxMs: 5_000 }));
    const [a, b] = [confirmer.expect("app"), confirmer.expect("app")];
    const first = confirmer.waitFor("app", "c1", { ticket: a });
    await w.advanceTo(50);
    const second = confirmer.waitFor("app", "c2", { ticket: b });
    const { value, at } = await w.settle(Promise.all([first, second]));
    expect(value.map((x) => x?.id)).toEqual(["c1", "c2"]);
    expect(at).toBe(150);
    expect(w.looks).toEqual(["150 list app"]);
  });

  it("a released ticket (the write failed) lets the held look go ahead at once", async () => {
    const w = timedWorld();
    w.add("c1", "app", 0);
    const confirmer = new Confirmer(w.comms, w.opts({ holdMaxMs: 5_000 }));
    const [a, b] = [confirmer.expect("app"), confirmer.expect("app")];
    const seen = confirmer.waitFor("app", "c1", { ticket: a });
    await w.advanceTo(200);
    confirmer.release(b);
    const { value, at } = await w.settle(seen);
    expect(value?.id).toBe("c1");
    expect(at).toBe(200);
    expect(w.looks).toEqual(["200 fetch c1"]);
  });

  it("releasing a ticket twice counts once: the other announced write still holds the look", async () => {
    const w = timedWorld();
    w.add("c1", "app", 0);
    const confirmer = new Confirmer(w.comms, w.opts());
    const [a, b, c] = [confirmer.expect("app"), confirmer.expect("app"), confirmer.expect("app")];
    confirmer.release(a);
    confirmer.release(a);
    const seen = confirmer.waitFor("app", "c1", { ticket: b });
    confirmer.release(b); // as the writer does once the item is over
    const { at } = await w.settle(seen);
    expect(at).toBe(1_000);
    confirmer.release(c);
  });

  it("once every write has arrived, a later wait is not held", async () => {
    const w = timedWorld();
    w.add("c1", "app", 0);
    w.add("c2", "app", 0);
    const confirmer = new Confirmer(w.comms, w.opts());
    const a = confirmer.expect("app");
    expect((await w.settle(confirmer.waitFor("app", "c1", { ticket: a }))).at).toBe(100);
    const b = confirmer.expect("app");
    confirmer.release(b);
    const start = w.now();
    expect((await w.settle(confirmer.waitFor("app", "c2"))).at - start).toBe(100);
  });
});

describe("Confirmer: production defaults (fake timers)", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("without options it polls from 100 ms, backing off to 2 s, for 30 s, holding at most 3 s", async () => {
    vi.useFakeTimers({ now: 0 });
    const w = timedWorld();
    const at: number[] = [];
    // (Past 1000 looks a loop that never sleeps is stopped: each look hangs.)
    const look = <T>(v: T) => (at.push(Date.now()), at.length > 1_000 ? new Promise<never>(() => {}) : Promise.resolve(v));
    const comms = { ...w.comms, fetch: () => look(null), list: () => look([]) } as unknown as CommsClient;
    const confirmer = new Confirmer(comms);
    let result: CommsCredential | null | undefined;
    void confirmer.waitFor("app", "never").then((r) => (result = r));
    await vi.advanceTimersByTimeAsync(29_999);
    expect(result).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(result).toBeNull();
    expect(at.slice(0, 6)).toEqual([100, 300, 700, 1_500, 3_100, 5_100]);
    expect(at.at(-1)).toBe(30_000);

    at.length = 0;
    const start = Date.now();
    const a = confirmer.expect("app");
    confirmer.expect("app");
    void confirmer.waitFor("app", "held", { ticket: a });
    await vi.advanceTimersByTimeAsync(3_000);
    expect(at.map((t) => t - start)).toEqual([3_000]);
  });

  it("a held look woken by the last write clears its timer, so nothing is left to keep the process alive", async () => {
    vi.useFakeTimers({ now: 0 });
    const w = timedWorld();
    const comms = { ...w.comms, fetch: async (id: string) => ({ id, appName: "app", credentialType: "APN", isDefault: false, createdAt: "", updatedAt: "" }) } as unknown as CommsClient;
    const confirmer = new Confirmer(comms);
    const [a, b] = [confirmer.expect("app"), confirmer.expect("app")];
    let seen: CommsCredential | null | undefined;
    void confirmer.waitFor("app", "c1", { ticket: a }).then((r) => (seen = r));
    await vi.advanceTimersByTimeAsync(10);
    confirmer.release(b);
    await vi.advanceTimersByTimeAsync(100);
    expect(seen?.id).toBe("c1");
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe("Confirmer: the first look learns from what earlier looks found", () => {
  it("a later write is first looked at when as old as the youngest write a look found visible, plus an eighth", async () => {
    const w = timedWorld();
    // Each write becomes visible 250 ms after its waiter arrives.
    w.add("c1", "app", 250);
    const confirmer = new Confirmer(w.comms, w.opts());
    const first = await w.settle(confirmer.waitFor("app", "c1"));
    expect(first.at).toBe(300); // looked at 100 (too early) and 300
    await w.advanceTo(1_000);
    w.add("c2", "app", 1_250);
    const second = await w.settle(confirmer.waitFor("app", "c2"));
    // Seen at age 300 before: the first look at c2 waits that long and an eighth more, and finds it.
    expect(second).toMatchObject({ at: 1_338 });
    expect(w.looks).toEqual(["100 fetch c1", "300 fetch c1", "1338 fetch c2"]);
  });

  it("what earlier looks found never holds a first look back past maxDelayMs", async () => {
    const w = timedWorld();
    w.add("c1", "app", 650);
    const confirmer = new Confirmer(w.comms, w.opts({ maxDelayMs: 400 }));
    const first = await w.settle(confirmer.waitFor("app", "c1"));
    expect(first.at).toBe(700); // 100, 300, 700: found at age 700
    await w.advanceTo(1_000);
    w.add("c2", "app", 0);
    const second = await w.settle(confirmer.waitFor("app", "c2"));
    expect(second.at).toBe(1_400);
    expect(w.looks).toEqual(["100 fetch c1", "300 fetch c1", "700 fetch c1", "1400 fetch c2"]);
  });
});

describe("Confirmer: a missed write is looked at again when it can be there", () => {
  it("once it is as old as the youngest write found (plus an eighth), if that comes before its backoff", async () => {
    const w = timedWorld();
    w.add("c1", "app", 250);
    w.add("c2", "app", 400);
    const confirmer = new Confirmer(w.comms, w.opts());
    const first = confirmer.waitFor("app", "c1");
    await w.advanceTo(150);
    const second = confirmer.waitFor("app", "c2");
    const [a, b] = await Promise.all([w.settle(first), w.settle(second)]);
    expect([a.value?.id, b.value?.id]).toEqual(["c1", "c2"]);
    // At 300 (c1's backoff) the list finds c1 at age 300 and misses c2 (age 150): c2 is looked at
    // again at age 338 (488), not after its 200 ms backoff (500).
    expect(w.looks).toEqual(["100 fetch c1", "300 list app", "488 fetch c2"]);
  });

  it("a write older than that and still missing backs off as before", async () => {
    const w = timedWorld();
    w.add("c1", "app", 100);
    const confirmer = new Confirmer(w.comms, w.opts());
    await w.settle(confirmer.waitFor("app", "c1")); // found at age 100
    const start = w.now();
    w.add("slow", "app", start + 650);
    await w.settle(confirmer.waitFor("app", "slow"));
    expect(w.looks.slice(1).map((l) => Number(l.split(" ")[0]) - start)).toEqual([100, 300, 700]);
  });
});

describe("Confirmer: a write's age counts from when it was accepted", () => {
  it("a waiter that arrives after its write was accepted looks at that write's age, never in the past", async () => {
    const w = timedWorld();
    w.add("c1", "app", 0);
    const confirmer = new Confirmer(w.comms, w.opts());
    await w.advanceTo(40);
    const early = await w.settle(confirmer.waitFor("app", "c1", { since: 0 }));
    expect(early.at).toBe(100); // 100 ms after the 202, not after the wait began
    w.add("c2", "app", 0);
    await w.advanceTo(500);
    const late = await w.settle(confirmer.waitFor("app", "c2", { since: 100 }));
    expect(late.at).toBe(500); // already older than the first look: looked at at once
    w.add("c3", "app", 0);
    const future = await w.settle(confirmer.waitFor("app", "c3", { since: 10_000 }));
    expect(future.at).toBe(600); // a time ahead of the clock counts as now
  });
});

describe("Confirmer: a waiter's own longest pause caps what was learned", () => {
  it("a first look learned at 700 ms waits no longer than the waiter's own maxDelayMs", async () => {
    const w = timedWorld();
    w.add("c1", "app", 650);
    const confirmer = new Confirmer(w.comms, w.opts({ maxDelayMs: 2_000 }));
    await w.settle(confirmer.waitFor("app", "c1")); // 100, 300, 700: found at age 700
    await w.advanceTo(1_000);
    w.add("c2", "app", 0);
    const own = await w.settle(confirmer.waitFor("app", "c2", { maxDelayMs: 250 }));
    expect(own.at).toBe(1_250);
  });
});
