import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { planMarkdown, planMarkdownPieces } from "../../src/report/markdown.js";
import { writeReport } from "../../src/report/write.js";
import type { Plan } from "../../src/plan/types.js";
import { samplePlan } from "./fixtures.js";

/** The sample plan's items, again and again under new sids and friendly names ending in blanks. */
function bigPlan(n: number): Plan {
  const base = samplePlan();
  const items = Array.from({ length: n }, (_, k) => {
    const item = base.items[k % base.items.length]!;
    return { ...item, legacySid: `CR${k.toString(16).padStart(32, "0")}`, friendlyName: `name ${k}  ` };
  });
  return { ...base, items };
}

describe("the plan's Markdown report in pieces", () => {
  it("for a large plan, joins to the same document, cut to fit a pull-request comment", () => {
    const plan = bigPlan(3000);
    const pieces = [...planMarkdownPieces(plan)];
    for (const p of pieces.slice(0, -1)) expect(p.length).toBeLessThan(64 * 1024 + 2_000);
    const text = pieces.join("");
    expect(text).toBe(planMarkdown(plan));
    // One newline at the end, no blank lines or spaces before it.
    expect(text).toBe(`${text.trimEnd()}\n`);
    expect(text.length).toBeLessThanOrEqual(60_000);
    expect(text).toContain("the JSON report beside this file");
  });

  it("a small plan is one piece, ending as the whole document did", () => {
    const pieces = [...planMarkdownPieces(samplePlan())];
    expect(pieces).toHaveLength(1);
    expect(pieces[0]).toBe(`${pieces[0]!.trimEnd()}\n`);
  });

  it("writeReport writes Markdown given as pieces, the same text", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cr2comms-md-pieces-"));
    const plan = bigPlan(1500);
    const paths = await writeReport(dir, "plan", { kind: "plan" }, () => planMarkdownPieces(plan), new Date(Date.UTC(2026, 0, 2, 3, 4, 5)));
    expect(readFileSync(paths.markdownPath, "utf8")).toBe(planMarkdown(plan));
  });
});
