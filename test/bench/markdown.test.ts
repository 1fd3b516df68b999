import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { benchTable, TABLE_END, TABLE_START, writeTableInto } from "../../src/bench/markdown.js";

const rows = [
  { scenario: "naive sequential, 50 ms", concurrency: 1, seconds: 26.4213, requests: 400, retries: 0 },
  { scenario: "apply 100, 50 ms, unlimited", concurrency: "default (reached 32)", seconds: 1.774, requests: 122, retries: 0, floorSeconds: 0.54, vsFloor: 3.2851, speedup: 14.93 },
];

describe("the bench's Markdown table", () => {
  it("has a header, a rule and one aligned row per scenario, with rounded figures", () => {
    const lines = benchTable(rows).split("\n");
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/^\| scenario +\| conc\. +\| seconds/);
    expect(lines[1]).toMatch(/^\|-+\|/);
    expect(lines[3]).toContain("| 1.77 ");
    expect(lines[3]).toContain("| 0.540 ");
    expect(lines[3]).toContain("| 3.29 ");
    expect(lines[3]).toContain("| 14.9 ");
    expect(new Set(lines.map((l) => l.length)).size).toBe(1);
  });

  it("replaces only what stands between the markers, and again on the next run", () => {
    const page = join(mkdtempSync(join(tmpdir(), "bench-md-")), "performance.md");
    writeFileSync(page, `# Performance\n\nbefore\n\n${TABLE_START}\nold table\n${TABLE_END}\n\nafter\n`);
    const run = { command: "npm run bench", node: "v20.0.0", nodeStartSeconds: 0.05, rows, checks: ["default within 1.25× of the best fixed: MET"] };
    expect(writeTableInto(page, run)).toBe(true);
    const once = readFileSync(page, "utf8");
    expect(once).not.toContain("old table");
    expect(once).toMatch(/^# Performance\n\nbefore\n\n<!-- bench-table:start -->\n`npm run bench`, Node v20.0.0/);
    expect(once).toContain("| apply 100, 50 ms, unlimited");
    expect(once).toContain("- default within 1.25× of the best fixed: MET\n<!-- bench-table:end -->\n\nafter\n");
    expect(writeTableInto(page, run)).toBe(true);
    expect(readFileSync(page, "utf8")).toBe(once);
  });

  it("writes nothing when the page or its markers are missing", () => {
    const dir = mkdtempSync(join(tmpdir(), "bench-md-"));
    const run = { command: "npm run bench", node: "v20", nodeStartSeconds: 0.05, rows, checks: [] };
    expect(writeTableInto(join(dir, "absent.md"), run)).toBe(false);
    const page = join(dir, "no-markers.md");
    writeFileSync(page, "# Performance\n");
    expect(writeTableInto(page, run)).toBe(false);
    expect(readFileSync(page, "utf8")).toBe("# Performance\n");
  });
});
