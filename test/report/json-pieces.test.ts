import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { jsonPieces, writeReport } from "../../src/report/write.js";

const whole = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;
const pieced = (v: unknown) => [...jsonPieces(v)].join("");

describe("jsonPieces: a report written in pieces is the same text", () => {
  const item = (n: number) => ({ legacySid: `CR${n}`, target: n % 2 ? null : { appName: "a\nb", isDefault: true }, warnings: n % 3 ? [] : ["w1", "w\"2"], skip: undefined, fn: () => 1, at: new Date(0), nested: { list: [1, [2, { x: [] }]], empty: {} } });

  it.each([
    ["a report with many items", { schemaVersion: 1, kind: "plan", summary: { create: 3 }, problems: [], warnings: ["x"], items: Array.from({ length: 2500 }, (_, n) => item(n)), after: undefined }],
    ["an empty object", {}],
    ["a top-level array", [item(1), null, undefined, 3]],
    ["an empty array under a key", { items: [] }],
    ["a scalar", "text"],
    ["an object with toJSON", new Date(5)],
  ])("%s", (_name, value) => {
    expect(pieced(value)).toBe(whole(value));
  });

  it("cuts a large report into several pieces", () => {
    const pieces = [...jsonPieces({ items: Array.from({ length: 2000 }, (_, n) => item(n)) })];
    expect(pieces.length).toBeGreaterThan(3);
  });

  it("writeReport writes the pieced JSON to the file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cr2comms-pieces-"));
    const value = { kind: "plan", items: Array.from({ length: 1500 }, (_, n) => item(n)) };
    const paths = await writeReport(dir, "plan", value, "# md\n", new Date(Date.UTC(2026, 0, 2, 3, 4, 5)));
    expect(readFileSync(paths.jsonPath, "utf8")).toBe(whole(value));
  });
});
