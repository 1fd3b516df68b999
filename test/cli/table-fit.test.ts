import { describe, expect, it } from "vitest";
import { abbreviateMiddle, fitTable, wrapText, type FitColumn } from "../../src/cli/output.js";

const SID = "CR00000000000000000000000000000001";
const COMMS = "comms_credential_01m995zapeavtjv1zktrv2hfrr";
const columns: FitColumn[] = [
  { header: "legacy sid", fit: "sid" },
  { header: "status" },
  { header: "app", fit: "text" },
  { header: "type", drop: 2 },
  { header: "comms id", fit: "sid", drop: 3 },
  { header: "expires", fit: "text", drop: 1 },
  { header: "detail", fit: "text" },
];
const rows = [
  [SID, "in-sync", "limonade_android", "APN_SANDBOX", COMMS, "2046-11-18 (7285 d left)", "present in Comms but not yet confirmed in the ledger; apply records it"],
  ["CR00000000000000000000000000000002", "missing", "limonade_ios", "APN", "comms_credential_01m995zapve4qymtxrvy4n1zk4", "", "deleted outside cr2comms"],
];

describe("fitTable", () => {
  it("without a width (not a terminal) the table is whole", () => {
    const { text, dropped } = fitTable(columns, rows, undefined);
    expect(dropped).toEqual([]);
    expect(text).toContain(SID);
    expect(text).toContain(COMMS);
    expect(text.split("\n")[0]!.length).toBeGreaterThan(150);
  });

  for (const width of [80, 100, 120]) {
    it(`at ${width} columns every line fits, sids keep both ends, and a wrapped detail stays whole`, () => {
      const { text, dropped } = fitTable(columns, rows, width);
      const lines = text.split("\n");
      for (const line of lines) expect(line.length, line).toBeLessThanOrEqual(width);
      expect(text).toMatch(/CR0+…0+1\b/);
      expect(text).toMatch(/CR0+…0+2\b/);
      // Columns go in their drop order, least needed first.
      expect(["expires", "type", "comms id"].slice(0, dropped.length)).toEqual(dropped);
      const detailAt = lines[0]!.indexOf("detail");
      const detail = lines.slice(2).map((l) => l.slice(detailAt).trim()).join(" ");
      expect(detail.replace(/\s+/g, " ")).toContain("present in Comms but not yet confirmed in the ledger; apply records it");
    });
  }

  it("leaves out no column that fits, and shortens only as much as needed", () => {
    const { text, dropped } = fitTable(columns, rows, 150);
    expect(dropped).toEqual([]);
    expect(text.split("\n").every((l) => l.length <= 150)).toBe(true);
    expect(text).toContain("limonade_android");
  });

  it("escapes control characters before measuring", () => {
    const { text } = fitTable([{ header: "name", fit: "text" }], [["a\nb\x1b[2J"]], 80);
    expect(text).not.toContain("\x1b");
    expect(text.split("\n")).toHaveLength(3);
  });
});

describe("abbreviateMiddle and wrapText", () => {
  it("abbreviateMiddle keeps both ends and the width", () => {
    expect(abbreviateMiddle(SID, 15)).toBe("CR00000…0000001");
    expect(abbreviateMiddle("short", 15)).toBe("short");
  });

  it("wrapText breaks at spaces with a hanging indent, and keeps a long word whole", () => {
    expect(wrapText("aaa bbb ccc ddd", 30, 4, "  -x  ")).toBe("  -x  aaa bbb ccc ddd");
    expect(wrapText("aaaa bbbb cccc dddd eeee ffff gggg", 26, 6, "  -x  ")).toBe("  -x  aaaa bbbb cccc dddd\n      eeee ffff gggg");
    expect(wrapText("x".repeat(40), 20)).toBe("x".repeat(40));
  });
});
