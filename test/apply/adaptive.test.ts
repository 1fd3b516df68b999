import { executionAsyncResource } from "node:async_hooks";
import { describe, expect, it } from "vitest";
import { AdaptiveLimiter } from "../../src/apply/adaptive.js";
import { tick, traffic } from "./limiter-traffic.js";

describe("AdaptiveLimiter", () => {
  it("never runs more than its limit at once, and queues the rest", async () => {
    const limiter = AdaptiveLimiter.fixed(2);
    const t = traffic(limiter, 5);
    await tick();
    expect(limiter.inFlight).toBe(2);
    expect(limiter.queued).toBe(3);
    await t.finish();
    expect(limiter.stats().peakInFlight).toBe(2);
  });

  it("with startGrowth 1, grows by one after a window of clean answers while saturated", async () => {
    const limiter = new AdaptiveLimiter({ start: 4, max: 32, startGrowth: 1 });
    const t = traffic(limiter, 60);
    await t.answer(200, 3);
    expect(limiter.limit).toBe(4);
    await t.answer(202);
    expect(limiter.limit).toBe(5);
    await t.answer(200, 5);
    expect(limiter.limit).toBe(6);
    await tick();
    expect(limiter.inFlight).toBe(6);
    await t.finish();
  });

  it("does not grow while the run does not use every slot", async () => {
    const limiter = new AdaptiveLimiter({ start: 4 });
    const t = traffic(limiter, 3);
    await t.finish();
    expect(limiter.limit).toBe(4);
  });

  it("halves at once on a 429 and counts it; the 429s of the same wave cut nothing more", async () => {
    const limiter = new AdaptiveLimiter({ start: 8 });
    const t = traffic(limiter, 20);
    await t.answer(429);
    expect(limiter.limit).toBe(4);
    // The other 7 were sent at 8, before the cut: their 429s belong to it.
    await t.answer(429, 3);
    expect(limiter.limit).toBe(4);
    expect(limiter.stats()).toMatchObject({ throttled: 4, decreases: 1, start: 8, peak: 8 });
    await t.finish();
  });

  it("a 429 to a request sent after the cut cuts again, never below the minimum", async () => {
    const limiter = new AdaptiveLimiter({ start: 2, min: 1 });
    const t = traffic(limiter, 10);
    await t.answer(429); // sent at 2: limit 1
    expect(limiter.limit).toBe(1);
    await t.answer(200); // the other one sent at 2 drains
    await t.answer(429); // sent after the cut
    expect(limiter.limit).toBe(1);
    expect(limiter.stats()).toMatchObject({ throttled: 2, decreases: 2 });
    await t.finish();
  });

  it("the level below a 429 is the known good level: growth stops there, then probes; a failed probe goes back to it", async () => {
    const limiter = new AdaptiveLimiter({ start: 6, probeWindows: 3 });
    const t = traffic(limiter, 200);
    await t.answer(429); // sent at 6: limit 3, known good 5
    await t.answer(200, 5); // the rest of the wave: no growth from it
    expect(limiter.limit).toBe(3);
    await t.answer(200, 3);
    expect(limiter.limit).toBe(4);
    await t.answer(200, 4);
    expect(limiter.limit).toBe(5);
    await t.answer(200, 5 * 2);
    expect(limiter.limit).toBe(5); // two clean windows at the known good level: not yet
    await t.answer(200, 5);
    expect(limiter.limit).toBe(6); // the third: probe one above
    // Some requests still in flight were sent at 5; the first sent at 6 draws a 429.
    await t.answer(200, 5);
    await t.answer(429);
    expect(limiter.limit).toBe(5); // back to the known good level, not halved
    expect(limiter.stats()).toMatchObject({ decreases: 2, peak: 6 });
    await t.finish();
  });

  it("a 429 to a probe above a proven level goes back to that level; one at or below it halves", async () => {
    const limiter = new AdaptiveLimiter({ start: 4, startGrowth: 1 });
    const t = traffic(limiter, 300);
    await t.answer(200, 4); // a clean window at 4: proven, grow to 5
    await t.answer(200, 5); // a clean window at 5: proven, grow to 6
    expect(limiter.limit).toBe(6);
    await t.answer(200, 4); // the requests still in flight that were sent at 5
    await t.answer(429); // one sent at 6: the server takes 5, not 6
    expect(limiter.limit).toBe(5);
    expect(limiter.stats()).toMatchObject({ throttled: 1, decreases: 1, peak: 6 });
    await t.answer(200, 5); // the rest of that wave (sent before the cut)
    await t.answer(429); // sent at 5, the proven level: the room shrank
    expect(limiter.limit).toBe(2);
    await t.finish();
  });

  it("a clean window above the known good level raises it", async () => {
    const limiter = new AdaptiveLimiter({ start: 4, probeWindows: 1 });
    const t = traffic(limiter, 200);
    await t.answer(429); // sent at 4: limit 2, known good 3
    await t.answer(200, 3); // the wave
    await t.answer(200, 2); // window at 2 → 3
    await t.answer(200, 3); // window at 3 (known good): probe → 4
    expect(limiter.limit).toBe(4);
    await t.answer(200, 4); // clean window at 4: 4 is known good now; probe → 5
    expect(limiter.limit).toBe(5);
    await t.answer(200, 3); // the requests still in flight that were sent at 4
    await t.answer(429); // one sent at 5, a probe, fails: back to 4 (known good now), not 3
    expect(limiter.limit).toBe(4);
    await t.finish();
  });

  it("a 5xx neither grows nor cuts the limit", async () => {
    const limiter = new AdaptiveLimiter({ start: 2 });
    const t = traffic(limiter, 30);
    await t.answer(503, 10);
    expect(limiter.limit).toBe(2);
    expect(limiter.stats().throttled).toBe(0);
    await t.finish();
  });

  it("never grows past its maximum", async () => {
    const limiter = new AdaptiveLimiter({ start: 3, max: 4 });
    const t = traffic(limiter, 100);
    await t.answer(200, 90);
    expect(limiter.limit).toBe(4);
    expect(limiter.stats().peak).toBe(4);
    await t.finish();
  });

  it("fixed(n) keeps its limit whatever the answers, and still counts 429s", async () => {
    const limiter = AdaptiveLimiter.fixed(3);
    const t = traffic(limiter, 40);
    await t.answer(200, 30);
    await t.answer(429, 2);
    expect(limiter.limit).toBe(3);
    await tick();
    expect(limiter.inFlight).toBe(3);
    await t.finish();
    expect(limiter.stats()).toMatchObject({ mode: "fixed", start: 3, final: 3, peak: 3, throttled: 2, decreases: 0 });
  });

  it("an answer told outside any slot counts as sent under the current limit", () => {
    const limiter = new AdaptiveLimiter({ start: 8 });
    limiter.answer(429);
    expect(limiter.limit).toBe(4);
    limiter.answer(429); // sent at 4, at or below the known good level 7: the account's limit fell
    expect(limiter.limit).toBe(2);
  });

  it("a slot is given back when the work throws", async () => {
    const limiter = new AdaptiveLimiter({ start: 1 });
    await expect(limiter.run(() => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(limiter.inFlight).toBe(0);
    await expect(limiter.run(async () => 7)).resolves.toBe(7);
  });

  it("keeps to its bounds: at least 1, whole numbers, by default from 4 up to 32 at most", () => {
    expect(new AdaptiveLimiter().limit).toBe(4);
    expect(new AdaptiveLimiter({ start: 0, min: 0 }).limit).toBe(1);
    expect(new AdaptiveLimiter({ start: 0 }).limit).toBe(1);
    expect(new AdaptiveLimiter({ start: 4.7 }).limit).toBe(4);
    expect(new AdaptiveLimiter({ start: 40 }).limit).toBe(32);
    expect(new AdaptiveLimiter({ start: 2, min: 5, max: 3 }).limit).toBe(5);
    expect(AdaptiveLimiter.fixed(0).limit).toBe(1);
    expect(AdaptiveLimiter.fixed(2.9).stats()).toMatchObject({ mode: "fixed", start: 2, final: 2, peak: 2 });
  });

  it("by default a 429 is forgiven only after 8 clean windows at the level below it", async () => {
    const limiter = new AdaptiveLimiter({ start: 6 });
    const t = traffic(limiter, 300);
    await t.answer(429); // sent at 6: limit 3, known good 5
    await t.answer(200, 5); // the rest of the wave
    await t.answer(200, 3 + 4); // back up to 5
    expect(limiter.limit).toBe(5);
    await t.answer(200, 5 * 7);
    expect(limiter.limit).toBe(5);
    await t.answer(200, 5);
    expect(limiter.limit).toBe(6);
    await t.finish();
  });

  it("a 4xx answer other than 429 is clean (the request was taken); a 500 is not", async () => {
    const limiter = new AdaptiveLimiter({ start: 2 });
    const t = traffic(limiter, 40);
    await t.answer(500, 10);
    expect(limiter.limit).toBe(2);
    await t.answer(404, 2);
    expect(limiter.limit).toBe(3);
    await t.finish();
  });

  it("a slot gained by growing starts a queued request at once, without waiting for one to finish", async () => {
    const limiter = new AdaptiveLimiter({ start: 1 });
    const hold = new Promise<void>(() => {});
    void limiter.run(() => hold);
    void limiter.run(() => hold);
    await tick();
    expect([limiter.inFlight, limiter.queued]).toEqual([1, 1]);
    limiter.answer(200); // a clean window at 1 while saturated
    expect(limiter.limit).toBe(2);
    expect([limiter.inFlight, limiter.queued]).toEqual([2, 0]);
    expect(limiter.stats()).toMatchObject({ peak: 2, peakInFlight: 2 });
  });
});

describe("AdaptiveLimiter: growth before the first 429, order, retry waits, probes worth their cost", () => {
  it("until the first 429 a window grows the limit by half, counting only answers to requests sent at that limit", async () => {
    const limiter = new AdaptiveLimiter({ start: 4 });
    const t = traffic(limiter, 400);
    await t.answer(200, 4); // a window at 4
    expect(limiter.limit).toBe(6);
    await t.answer(200, 3); // sent at 4, still in flight when it grew: they prove nothing about 6
    expect(limiter.limit).toBe(6);
    await t.answer(200, 5);
    expect(limiter.limit).toBe(6);
    await t.answer(200); // the sixth answer to a request sent at 6
    expect(limiter.limit).toBe(9);
    await t.finish();
    expect(limiter.stats()).toMatchObject({ start: 4, peak: 32, final: 32, throttled: 0 });
  });

  it("an overshoot goes back to the last proven level, then grows by one only after its probe windows", async () => {
    const limiter = new AdaptiveLimiter({ start: 4, probeWindows: 2 });
    const t = traffic(limiter, 400);
    await t.answer(200, 4); // proven 4, grows to 6
    await t.answer(200, 3); // sent at 4
    await t.answer(429); // sent at 6: the server takes fewer than 6
    expect(limiter.limit).toBe(4);
    await t.answer(200, 5); // the rest of that wave: no growth from it
    expect(limiter.limit).toBe(4);
    await t.answer(200, 4);
    expect(limiter.limit).toBe(4); // one clean window at the known good level: not yet
    await t.answer(200, 4);
    expect(limiter.limit).toBe(5); // the second: probe one above, not half again
    expect(limiter.stats()).toMatchObject({ decreases: 1, throttled: 1, peak: 6 });
    await t.finish();
  });

  it("queued requests start by priority, then in arrival order", async () => {
    const limiter = AdaptiveLimiter.fixed(1);
    const order: string[] = [];
    let release!: () => void;
    const first = limiter.run(() => new Promise<void>((r) => (release = r)));
    const queued = [
      limiter.run(async () => void order.push("low a"), 1),
      limiter.run(async () => void order.push("high"), 3),
      limiter.run(async () => void order.push("low b"), 1),
      limiter.run(async () => void order.push("mid"), 2),
      limiter.run(async () => void order.push("none")),
    ];
    await tick();
    expect(limiter.queued).toBe(5);
    release();
    await Promise.all([first, ...queued]);
    expect(order).toEqual(["high", "mid", "low a", "low b", "none"]);
  });

  it("a retry wait gives the slot back, and takes one again ahead of every request queued after it", async () => {
    const limiter = new AdaptiveLimiter({ start: 1, min: 1, max: 1 });
    const order: string[] = [];
    let endWait!: () => void;
    const a = limiter.run(async () => {
      order.push("a sends");
      await limiter.outside(() => new Promise<void>((r) => (endWait = r)));
      order.push("a sends again");
    });
    await tick();
    expect(limiter.inFlight).toBe(0);
    let releaseB!: () => void;
    const b = limiter.run(async () => {
      order.push("b");
      await new Promise<void>((r) => (releaseB = r));
    });
    await tick();
    expect(limiter.inFlight).toBe(1);
    const c = limiter.run(async () => void order.push("c"));
    await tick();
    endWait();
    await tick();
    expect([limiter.inFlight, limiter.queued]).toEqual([1, 2]);
    releaseB();
    await Promise.all([a, b, c]);
    expect(order).toEqual(["a sends", "b", "a sends again", "c"]);
    expect(limiter.stats().peakInFlight).toBe(1);
    expect(limiter.inFlight).toBe(0);
  });

  it("a fixed limit keeps the slot of a request sleeping out its retry wait", async () => {
    const limiter = AdaptiveLimiter.fixed(1);
    let endWait!: () => void;
    const a = limiter.run(() => limiter.outside(() => new Promise<void>((r) => (endWait = r))));
    const b = limiter.run(async () => 1);
    await tick();
    expect([limiter.inFlight, limiter.queued]).toEqual([1, 1]);
    endWait();
    await Promise.all([a, b]);
    expect(limiter.stats().peakInFlight).toBe(1);
  });

  it("a wait outside any slot just waits, and gives back no slot it does not hold", async () => {
    const limiter = AdaptiveLimiter.fixed(1);
    await expect(limiter.outside(async () => 5)).resolves.toBe(5);
    expect(limiter.inFlight).toBe(0);
    let release!: () => void;
    const held = limiter.run(() => new Promise<void>((r) => (release = r)));
    const next = limiter.run(async () => 1);
    await tick();
    expect([limiter.inFlight, limiter.queued]).toEqual([1, 1]);
    release();
    await Promise.all([held, next]);
  });

  /** A 429 at 4 (known good 3), then clean answers with `ms` between them; probeWindows 1. */
  async function afterA429(workLeft: () => number, opts: { waitMs?: number } = {}) {
    let clock = 0;
    const limiter = new AdaptiveLimiter({ start: 4, startGrowth: 1, probeWindows: 1, workLeft, now: () => clock });
    if (opts.waitMs !== undefined) {
      await limiter.run(() =>
        limiter.outside(async () => {
          clock += opts.waitMs!;
        }),
      );
    }
    const t = traffic(limiter, 200);
    await t.answer(429); // sent at 4 before anything was proven: limit 2, known good 3
    await t.answer(200, 3); // the rest of the wave
    for (let i = 0; i < 40; i++) {
      clock += 100;
      await t.answer(200);
    }
    const reached = limiter.limit;
    await t.finish();
    return { reached, stats: limiter.stats() };
  }

  it("after a 429, probes above the known good level only while the work left could repay a failed one", async () => {
    const much = await afterA429(() => 1_000_000);
    expect(much.reached).toBeGreaterThan(3);
    const none = await afterA429(() => 0);
    expect(none.reached).toBe(3);
    expect(none.stats.skippedProbes).toBeGreaterThan(0);
    // Without a count of the work left, probing is as before.
    const unknown = await afterA429(undefined as unknown as () => number);
    expect(unknown.reached).toBeGreaterThan(3);
  });

  it("a failed probe is taken to cost the last retry wait seen, or 1 s before one was seen", async () => {
    // A little work left: one slot more saves a few ms — less than 1 s, more than a 0 ms wait.
    const assumed = await afterA429(() => 1);
    expect(assumed.reached).toBe(3);
    const measured = await afterA429(() => 1, { waitMs: 0 });
    expect(measured.reached).toBeGreaterThan(3);
    const slow = await afterA429(() => 1, { waitMs: 5_000 });
    expect(slow.reached).toBe(3);
  });
});

describe("AdaptiveLimiter: the queue and the probe's arithmetic", () => {
  it("many queued requests start in priority order, then arrival order, whatever order they came in", async () => {
    const limiter = AdaptiveLimiter.fixed(1);
    let release!: () => void;
    const first = limiter.run(() => new Promise<void>((r) => (release = r)));
    const order: number[] = [];
    // A fixed, scrambled sequence of priorities (0..6), 60 requests.
    const priorities = Array.from({ length: 60 }, (_, i) => (i * 37 + 11) % 7);
    const all = priorities.map((p, i) => limiter.run(async () => void order.push(i), p));
    await tick();
    release();
    await Promise.all([first, ...all]);
    const expected = priorities.map((p, i) => ({ p, i })).sort((a, b) => b.p - a.p || a.i - b.i).map((x) => x.i);
    expect(order).toEqual(expected);
  });

  /**
   * One request at a time, each holding its slot exactly `hold` ms on an injected clock: a 429 at 2
   * leaves the limit at 1, the known good level (probeWindows 1), where one slot more saves
   * work × hold / (1 × 2). `wait` is a retry wait seen before. Whether it ever probed 2.
   */
  async function probes(work: number, hold: number, wait?: number): Promise<boolean> {
    let clock = 0;
    const limiter = new AdaptiveLimiter({ start: 2, min: 1, max: 8, startGrowth: 1, probeWindows: 1, workLeft: () => work, now: () => clock });
    const once = (status: number) =>
      limiter.run(async () => {
        clock += hold;
        limiter.answer(status);
      });
    if (wait !== undefined) {
      await limiter.run(async () => {
        await limiter.outside(async () => {
          clock += wait;
        });
        clock += hold; // the wait is not counted as holding the slot
      });
    }
    await once(429);
    expect(limiter.limit).toBe(1);
    for (let i = 0; i < 10; i++) {
      await once(200);
      if (limiter.limit > 1) return true;
    }
    expect(limiter.stats().skippedProbes).toBe(10);
    return false;
  }

  it("probes above the known good level only when work left × hold time / (n(n+1)) exceeds the cost", async () => {
    expect(await probes(1000, 2)).toBe(false); // 1000 ms saved: not more than the 1 s assumed
    expect(await probes(1001, 2)).toBe(true); // 1001 ms
    expect(await probes(500, 2, 500)).toBe(false); // 500 ms saved against the 500 ms wait seen
    expect(await probes(501, 2, 500)).toBe(true);
    expect(await probes(1_000_000, 0, 500)).toBe(false); // nothing held, nothing saved
  });
});

describe("AdaptiveLimiter: many limiters in one process (one per account over many accounts)", () => {
  it("adds nothing per limiter to the promises made after it: one storage serves them all", async () => {
    // On Node 20 every AsyncLocalStorage in use is copied into every promise made afterwards. One
    // per limiter made each promise of a 200-account run carry hundreds of fields (2× the time).
    const limiters = Array.from({ length: 50 }, () => new AdaptiveLimiter());
    await Promise.all(limiters.map((l) => l.run(async () => undefined)));
    const fields = await (async () => {
      await null;
      return Object.getOwnPropertySymbols(executionAsyncResource()).length;
    })();
    expect(fields).toBeLessThan(10);
  });

  it("a limiter's slot is its own inside another limiter's run: the outer one's wait gives back the outer slot", async () => {
    const outer = new AdaptiveLimiter({ start: 1, min: 1, max: 1 });
    const inner = new AdaptiveLimiter({ start: 1, min: 1, max: 1 });
    let during: [number, number] | undefined;
    await outer.run(() =>
      inner.run(() =>
        outer.outside(async () => {
          during = [outer.inFlight, inner.inFlight];
        }),
      ),
    );
    expect(during).toEqual([0, 1]);
    expect([outer.inFlight, inner.inFlight]).toEqual([0, 0]);
  });
});
