import type { AdaptiveLimiter } from "../../src/apply/adaptive.js";

export const tick = () => new Promise<void>((r) => setImmediate(r));

/**
 * Requests queued on the limiter, each holding its slot until the test answers it. `answer(status)`
 * answers the oldest request that holds a slot (from inside that slot, as the Comms client does),
 * which then gives its slot back. No timers: only the order of calls.
 */
export function traffic(limiter: AdaptiveLimiter, n: number) {
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
