import { describe, expect, it } from "vitest";
import { AdaptiveLimiter } from "../../src/apply/adaptive.js";

/** Holds `n` slots open (so the limiter is saturated) until the returned release is called. */
function hold(limiter: AdaptiveLimiter, n: number): { release: () => void; done: Promise<unknown> } {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const done = Promise.all(Array.from({ length: n }, () => limiter.run(() => gate)));
  return { release, done };
}

const tick = () => new Promise<void>((r) => setImmediate(r));

describe("AdaptiveLimiter", () => {
  it("never runs more than its limit at once, and queues the rest", async () => {
    const limiter = new AdaptiveLimiter({ start: 2 });
    let running = 0;
    let most = 0;
    const gates: (() => void)[] = [];
    const all = Promise.all(
      Array.from({ length: 5 }, () =>
        limiter.run(async () => {
          running++;
          most = Math.max(most, running);
          await new Promise<void>((r) => gates.push(r));
          running--;
        }),
      ),
    );
    await tick();
    expect(running).toBe(2);
    expect(limiter.queued).toBe(3);
    while (gates.length) {
      gates.shift()!();
      await tick();
    }
    await all;
    expect(most).toBe(2);
    expect(limiter.stats().peakInFlight).toBe(2);
  });

  it("grows by one after a window of clean answers while saturated", async () => {
    const limiter = new AdaptiveLimiter({ start: 4, max: 32 });
    const h = hold(limiter, 10);
    await tick();
    for (let i = 0; i < 3; i++) limiter.answer(201);
    expect(limiter.limit).toBe(4);
    limiter.answer(202);
    expect(limiter.limit).toBe(5);
    expect(limiter.inFlight).toBe(5); // the growth let one waiter in at once
    for (let i = 0; i < 5; i++) limiter.answer(200);
    expect(limiter.limit).toBe(6);
    h.release();
    await h.done;
  });

  it("does not grow while the run does not use every slot", async () => {
    const limiter = new AdaptiveLimiter({ start: 4 });
    const h = hold(limiter, 2);
    await tick();
    for (let i = 0; i < 40; i++) limiter.answer(200);
    expect(limiter.limit).toBe(4);
    h.release();
    await h.done;
  });

  it("halves at once on a 429, counts it, and a wave of 429s cuts only once", async () => {
    const limiter = new AdaptiveLimiter({ start: 8 });
    const h = hold(limiter, 12);
    await tick();
    limiter.answer(429);
    expect(limiter.limit).toBe(4);
    // The other 7 in flight were sent at 8: their 429s belong to the same wave.
    for (let i = 0; i < 3; i++) limiter.answer(429);
    expect(limiter.limit).toBe(4);
    expect(limiter.stats()).toMatchObject({ throttled: 4, decreases: 1, start: 8, peak: 8, final: 4 });
    h.release();
    await h.done;
  });

  it("a 429 after the wave has drained cuts again, never below the minimum", async () => {
    const limiter = new AdaptiveLimiter({ start: 2, min: 1 });
    limiter.answer(429); // nothing in flight: no wave to wait for
    expect(limiter.limit).toBe(1);
    limiter.answer(429);
    expect(limiter.limit).toBe(1);
    expect(limiter.stats().throttled).toBe(2);
  });

  it("grows back to just below the throttled level, then probes above it only after clean windows", async () => {
    const limiter = new AdaptiveLimiter({ start: 6, probeWindows: 3 });
    const h = hold(limiter, 20);
    await tick();
    limiter.answer(429); // at 6: limit 3, ceiling 5
    for (let i = 0; i < 5; i++) limiter.answer(200); // drain the wave (5 others were in flight)
    const climb = (answers: number) => {
      for (let i = 0; i < answers; i++) limiter.answer(200);
    };
    climb(3);
    expect(limiter.limit).toBe(4);
    climb(4);
    expect(limiter.limit).toBe(5);
    climb(5 * 2);
    expect(limiter.limit).toBe(5); // two clean windows at the ceiling: not yet
    climb(5);
    expect(limiter.limit).toBe(6); // the third: probe one above
    climb(6);
    expect(limiter.limit).toBe(7); // past the old level, additive again
    h.release();
    await h.done;
  });

  it("a 5xx neither grows nor cuts the limit", async () => {
    const limiter = new AdaptiveLimiter({ start: 2 });
    const h = hold(limiter, 4);
    await tick();
    for (let i = 0; i < 10; i++) limiter.answer(503);
    expect(limiter.limit).toBe(2);
    expect(limiter.stats().throttled).toBe(0);
    h.release();
    await h.done;
  });

  it("never grows past its maximum", async () => {
    const limiter = new AdaptiveLimiter({ start: 3, max: 4 });
    const h = hold(limiter, 10);
    await tick();
    for (let i = 0; i < 100; i++) limiter.answer(200);
    expect(limiter.limit).toBe(4);
    expect(limiter.stats().peak).toBe(4);
    h.release();
    await h.done;
  });

  it("fixed(n) keeps its limit whatever the answers, and still counts 429s", async () => {
    const limiter = AdaptiveLimiter.fixed(3);
    const h = hold(limiter, 6);
    await tick();
    for (let i = 0; i < 30; i++) limiter.answer(200);
    limiter.answer(429);
    limiter.answer(429);
    expect(limiter.limit).toBe(3);
    expect(limiter.inFlight).toBe(3);
    expect(limiter.stats()).toMatchObject({ mode: "fixed", start: 3, final: 3, peak: 3, throttled: 2, decreases: 0 });
    h.release();
    await h.done;
  });

  it("a slot is given back when the work throws", async () => {
    const limiter = new AdaptiveLimiter({ start: 1 });
    await expect(limiter.run(() => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(limiter.inFlight).toBe(0);
    await expect(limiter.run(async () => 7)).resolves.toBe(7);
  });
});
