import { getEventListeners } from "node:events";
import { describe, expect, it } from "vitest";
import { sleepUnlessAborted } from "../../src/sleep.js";

/** A sleep that ends only when the test says so, and records what it was asked for. */
function manualSleep() {
  const asked: number[] = [];
  let end: () => void = () => undefined;
  const sleep = (ms: number) => (asked.push(ms), new Promise<void>((r) => (end = r)));
  return { asked, sleep, end: () => end() };
}

describe("sleepUnlessAborted", () => {
  it("an abort during the sleep ends it at once, and the listener goes with it", async () => {
    const s = manualSleep();
    const c = new AbortController();
    const sleeping = sleepUnlessAborted(s.sleep, 30_000, c.signal);
    expect(getEventListeners(c.signal, "abort")).toHaveLength(1);
    c.abort();
    await sleeping; // would hang (the test times out) if the abort did not end it
    expect(s.asked).toEqual([30_000]);
    expect(getEventListeners(c.signal, "abort")).toHaveLength(0);
  });

  it("an abort that came before: no sleep at all", async () => {
    const s = manualSleep();
    const c = new AbortController();
    c.abort();
    await sleepUnlessAborted(s.sleep, 30_000, c.signal);
    expect(s.asked).toEqual([]);
  });

  it("a sleep that ends on its own leaves no listener behind", async () => {
    const s = manualSleep();
    const c = new AbortController();
    const sleeping = sleepUnlessAborted(s.sleep, 5, c.signal);
    s.end();
    await sleeping;
    expect(getEventListeners(c.signal, "abort")).toHaveLength(0);
  });
});
