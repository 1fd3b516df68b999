import { describe, expect, it } from "vitest";
import { resolveSettings } from "../../src/cli/config.js";

describe("concurrencyGiven: apply adapts unless the user fixed a number", () => {
  it("is false by default, true for --concurrency or CR2COMMS_CONCURRENCY", () => {
    expect(resolveSettings({}, {}).concurrencyGiven).toBe(false);
    expect(resolveSettings({ concurrency: 8 }, {})).toMatchObject({ concurrencyGiven: true, concurrency: 8 });
    expect(resolveSettings({}, { CR2COMMS_CONCURRENCY: "2" })).toMatchObject({ concurrencyGiven: true, concurrency: 2 });
  });
});
