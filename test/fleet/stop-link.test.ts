import { getEventListeners } from "node:events";
import { describe, expect, it } from "vitest";
import { accountStopWatch, watchStopSignals } from "../../src/cli/signals.js";

describe("an account's link to the fleet's stop signal", () => {
  it("carries the fleet's signal to the account while it runs, and leaves nothing listening once disposed", async () => {
    const fleet = watchStopSignals(() => undefined);
    try {
      const finished = Array.from({ length: 50 }, () => accountStopWatch(fleet));
      for (const w of finished) w.dispose();
      // Hundreds of finished accounts must not stay reachable from the fleet's signal.
      expect(getEventListeners(fleet.signal, "abort")).toHaveLength(0);

      const seen: string[] = [];
      const running = accountStopWatch(fleet, (s) => seen.push(s));
      expect(running.received).toBeUndefined();
      process.emit("SIGTERM", "SIGTERM");
      expect(running.signal.aborted).toBe(true);
      expect(running.received).toBe("SIGTERM");
      expect(await running.stopped).toBe("SIGTERM");
      expect(seen).toEqual(["SIGTERM"]);
      // An account started after the signal is stopped from the start.
      expect(accountStopWatch(fleet).signal.aborted).toBe(true);
      running.dispose();
    } finally {
      fleet.dispose();
    }
  });
});
