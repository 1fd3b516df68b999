import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { reportStamp, writeReport } from "../../src/report/write.js";

const NOW = new Date("2025-03-04T05:06:07.891Z");

describe("writeReport", () => {
  it("names files <kind>-<UTC stamp>.json/.md, creating the folder", async () => {
    expect(reportStamp(NOW)).toBe("20250304T050607Z");
    const dir = join(mkdtempSync(join(tmpdir(), "cr2comms-report-")), "reports", "nested");
    const paths = await writeReport(dir, "plan", { kind: "plan", n: 1 }, "# md\n", NOW);
    expect(paths).toEqual({ jsonPath: join(dir, "plan-20250304T050607Z.json"), markdownPath: join(dir, "plan-20250304T050607Z.md") });
    expect(JSON.parse(readFileSync(paths.jsonPath, "utf8"))).toEqual({ kind: "plan", n: 1 });
    expect(readFileSync(paths.markdownPath, "utf8")).toBe("# md\n");
  });

  it("never overwrites: adds -2, -3, and keeps the pair under one name", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cr2comms-report-"));
    const first = await writeReport(dir, "apply", { run: 1 }, "one\n", NOW);
    const second = await writeReport(dir, "apply", { run: 2 }, "two\n", NOW);
    expect(second.jsonPath).toBe(join(dir, "apply-20250304T050607Z-2.json"));
    expect(second.markdownPath).toBe(join(dir, "apply-20250304T050607Z-2.md"));
    // Only the .md of -3 is taken by someone else: both move on to -4.
    writeFileSync(join(dir, "apply-20250304T050607Z-3.md"), "foreign\n");
    const fourth = await writeReport(dir, "apply", { run: 4 }, "four\n", NOW);
    expect(fourth.jsonPath).toBe(join(dir, "apply-20250304T050607Z-4.json"));
    expect(fourth.markdownPath).toBe(join(dir, "apply-20250304T050607Z-4.md"));
    expect(readFileSync(first.markdownPath, "utf8")).toBe("one\n");
    expect(readFileSync(join(dir, "apply-20250304T050607Z-3.md"), "utf8")).toBe("foreign\n");
    expect(readdirSync(dir).sort()).toEqual([
      "apply-20250304T050607Z-2.json",
      "apply-20250304T050607Z-2.md",
      "apply-20250304T050607Z-3.md",
      "apply-20250304T050607Z-4.json",
      "apply-20250304T050607Z-4.md",
      "apply-20250304T050607Z.json",
      "apply-20250304T050607Z.md",
    ]);
  });

  it("gives concurrent writers distinct names", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cr2comms-report-"));
    const all = await Promise.all([1, 2, 3, 4].map((n) => writeReport(dir, "rollback", { n }, `${n}\n`, NOW)));
    expect(new Set(all.map((p) => p.jsonPath)).size).toBe(4);
    for (const p of all) {
      const n = (JSON.parse(readFileSync(p.jsonPath, "utf8")) as { n: number }).n;
      expect(readFileSync(p.markdownPath, "utf8")).toBe(`${n}\n`);
    }
    expect(readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });
});
