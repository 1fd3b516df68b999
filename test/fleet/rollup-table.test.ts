/** The roll-up's table on a terminal: it fits, and still tells the accounts and their outcomes apart. */
import { describe, expect, it } from "vitest";
import { fitTable } from "../../src/cli/output.js";
import type { FleetRow } from "../../src/fleet/rollup.js";
import { ROLL_UP_COLUMNS, rollUpCells } from "../../src/fleet/run.js";

const row = (n: number, extra: Partial<FleetRow> = {}): FleetRow => ({
  accountSid: `AC${String(n).padStart(32, "0")}`,
  friendlyName: `Customer number ${n} of the platform`,
  accountStatus: "active",
  outcome: "changes",
  exitCode: 2,
  summary: { create: 4, "set-default": 2 },
  problems: [],
  ...extra,
});

const rows = [
  row(1),
  row(2, { outcome: "blocked", exitCode: 1, problems: ["invalid mapping file mappings/accounts/AC00000000000000000000000000000002.yaml (3 problems): CR…01 (entry #1): secrets: unknown key"] }),
  row(3, { accountStatus: "suspended", outcome: "skipped", exitCode: 0, summary: {}, problems: ["the account is suspended: listed, not worked"] }),
];

describe("the fleet roll-up table", () => {
  it("fits 80 columns: every line, each account's sid ends and outcome shown, the problem wrapped whole", () => {
    const { text, dropped } = fitTable(ROLL_UP_COLUMNS, rollUpCells(rows), 80);
    for (const line of text.split("\n")) expect(line.length).toBeLessThanOrEqual(80);
    const lines = text.split("\n");
    for (const [i, outcome] of [[1, "changes"], [2, "blocked"], [3, "skipped"]] as const) {
      expect(lines.filter((l) => l.startsWith(`AC00000…000000${i}  `) && l.includes(`  ${outcome}  `)), `${outcome} row`).toHaveLength(1);
    }
    // The problem is not cut: its words are all there, over several lines.
    const flat = text.replace(/\s+/g, " ");
    for (const word of ["invalid", "mapping", "problems):", "unknown", "key", "suspended:"]) expect(flat).toContain(word);
    expect(dropped).not.toContain("outcome");
    expect(dropped).not.toContain("problem");
  });

  it("is whole into a pipe (no width): full sids, names and problems", () => {
    const { text, dropped } = fitTable(ROLL_UP_COLUMNS, rollUpCells(rows), undefined);
    expect(dropped).toEqual([]);
    for (const r of rows) {
      expect(text).toContain(r.accountSid);
      expect(text).toContain(r.friendlyName!);
    }
    expect(text).toContain(rows[1]!.problems[0]!);
  });
});
