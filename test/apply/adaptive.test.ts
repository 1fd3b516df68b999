import { describe, expect, it } from "vitest";
import { AdaptiveLimiter } from "../../src/apply/adaptive.js";

const tick = () => new Promise<void>((r) => setImmediate(r));

/**
 * Requests queued on the limiter, each holding its slot until the test answers it. `answer(status)`
 * answers the oldest request that holds a slot (from inside that slot, as the Comms client does),
 * which then gives its slot back. No timers: only the order of calls.
 */
function traffic(limiter: AdaptiveLimiter, n: number) {
  const running: ((status: number) => void)[] = [];
  const all = Promise.all(
    Array.from({ length: n }, () =>
      limiter.run(async () => {
        const status = await new Promise<number>((resolve) => running.push(resolve));
        limiter.answer(status);
      }),
    ),
  );
  return {
    async answer(status: number, times = 1) {
      for (let i = 0; i < times; i++) {
        await tick();
        const next = running.shift();
        if (!next) throw new Error("no request in flight");
        next(status);
        await tick();
      }
    },
    async finish() {
      while (running.length || limiter.inFlight) await this.answer(200);
      await all;
    },
  };
}

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

  it("grows by one after a window of clean answers while saturated", async () => {
    const limiter = new AdaptiveLimiter({ start: 4, max: 32 });
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
    const limiter = new AdaptiveLimiter({ start: 4 });
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
