import { describe, expect, it } from "vitest";
import { applyMarkdown, applyReport } from "../../src/report/index.js";
import { sampleResult } from "./fixtures.js";

describe("the apply report says what the concurrency limit did", () => {
  const adaptive = { mode: "adaptive" as const, start: 4, final: 5, peak: 11, peakInFlight: 10, throttled: 3, decreases: 1 };

  it("JSON carries the concurrency facts as they are", () => {
    expect(applyReport({ ...sampleResult(), concurrency: adaptive }).concurrency).toEqual(adaptive);
    expect(applyReport(sampleResult())).not.toHaveProperty("concurrency");
  });

  it("Markdown names the mode, the level reached and the 429s", () => {
    const md = applyMarkdown({ ...sampleResult(), concurrency: adaptive });
    expect(md).toContain("- Concurrency: adaptive, started at 4, reached 11, ended at 5; at most 10 in flight; 3 answer(s) 429 (too many requests)");
    const fixed = applyMarkdown({ ...sampleResult(), concurrency: { ...adaptive, mode: "fixed", start: 8, final: 8, peak: 8, throttled: 0, decreases: 0 } });
    expect(fixed).toContain("- Concurrency: fixed at 8; at most 10 in flight; 0 answer(s) 429");
    expect(md).not.toContain("probe");
  });

  it("Markdown says how many probes were not sent because too little work was left", () => {
    const md = applyMarkdown({ ...sampleResult(), concurrency: { ...adaptive, skippedProbes: 2 } });
    expect(md).toContain("3 answer(s) 429 (too many requests); 2 probe(s) above the level that drew a 429 not sent (too little work left to repay a Retry-After)");
  });
});
