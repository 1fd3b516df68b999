import { describe, expect, it } from "vitest";
import type { ApplyResult } from "../../src/apply/types.js";
import type { Plan, PlanItem } from "../../src/plan/types.js";
import { applyReport, planReport } from "../../src/report/json.js";
import { applyMarkdown, planMarkdown } from "../../src/report/markdown.js";
import { renderTable } from "../../src/report/table.js";
import { sampleResult, samplePlan, sid } from "./fixtures.js";

const HOSTILE = "evil\nline\u001b[31mred\u202eesrever";
const ESCAPED = "evil\\nline\\u{1b}[31mred\\u{202e}esrever";
const RAW = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

function item(over: Partial<PlanItem>): PlanItem {
  return { legacySid: sid(1), friendlyName: "f", legacyType: "apn", sandbox: false, action: "create", warnings: [], problems: [], ...over };
}

function planOf(items: PlanItem[], over: Partial<Plan> = {}): Plan {
  return { ...samplePlan(), problems: [], warnings: [], items, ...over };
}

describe("user values are escaped", () => {
  it("in terminal tables", () => {
    const out = renderTable(["name", "path"], [[HOSTILE, `/tmp/${HOSTILE}`]]);
    expect(out).not.toMatch(RAW);
    expect(out.split("\n")).toHaveLength(3);
    expect(out).toContain(ESCAPED);
    expect(out).toContain(`/tmp/${ESCAPED}`);
  });

  it("in Markdown cells, lines and headings", () => {
    const plan = planOf(
      [
        item({ friendlyName: HOSTILE, target: { appName: `app${HOSTILE}`, credentialType: "APN", isDefault: false }, warnings: [`secrets.p12: file not found: /tmp/${HOSTILE}`] }),
        item({ legacySid: sid(2), friendlyName: HOSTILE, action: "unmapped" }),
      ],
      { mappingPath: `/m/${HOSTILE}.yaml`, warnings: [HOSTILE] },
    );
    const md = planMarkdown(plan);
    expect(md).not.toMatch(RAW);
    // The friendly name's newline is a <br> in a cell, the rest escaped, and the row stays one line.
    const row = md.split("\n").find((l) => l.startsWith(`| \`${sid(2)}\``));
    expect(row).toBe(`| \`${sid(2)}\` | evil<br>line\\u{1b}\\[31mred\\u{202e}esrever | apn (production) | unmapped | not in the mapping file |`);
    expect(md).toContain(`- \`${sid(1)}\`: secrets.p12: file not found: /tmp/evil line\\u{1b}\\[31mred\\u{202e}esrever`);
    expect(md).toContain("## App `appevil\\nline\\u{1b}[31mred\\u{202e}esrever`");
    expect(md).toContain("- Mapping: `/m/evil\\nline\\u{1b}[31mred\\u{202e}esrever.yaml`");
  });
});

describe("reports render very large plans", () => {
  it("renders 200,000 items to Markdown (cut to fit a comment) and JSON without overflowing the stack", () => {
    const items: PlanItem[] = [];
    for (let n = 0; n < 200_000; n++) {
      items.push(
        item({
          legacySid: sid(n),
          friendlyName: `cred ${n}`,
          action: n % 3 === 0 ? "unmapped" : "create",
          ...(n % 3 === 0 ? {} : { target: { appName: `app_${n % 7}`, credentialType: "APN", isDefault: false } }),
          warnings: [`warning ${n}`],
        }),
      );
    }
    const plan = planOf(items);
    const md = planMarkdown(plan);
    expect(md.length).toBeLessThanOrEqual(60_000);
    expect(md).toContain(`| \`${sid(1)}\` | cred 1 |`);
    expect(md).toContain("the JSON report beside this file");
    expect(JSON.stringify(planReport(plan)).length).toBeGreaterThan(200_000);
    const table = renderTable(["sid", "name"], items.map((i) => [i.legacySid, i.friendlyName ?? ""]));
    expect(table.split("\n")).toHaveLength(200_002);
  });
});

describe("reports tell the truth", () => {
  it("shows the live default state, and the change an update-default makes", () => {
    const target = { appName: "app_ios", credentialType: "APN" as const, isDefault: false };
    const plan = planOf([
      item({ legacySid: sid(1), action: "already-migrated", target, commsCredentialId: "c1", liveDefault: true }),
      item({ legacySid: sid(2), action: "update-default", target: { ...target, isDefault: true }, commsCredentialId: "c2", liveDefault: false }),
      item({ legacySid: sid(3), action: "already-migrated", target, commsCredentialId: "c3", liveDefault: false }),
    ]);
    const rows = planMarkdown(plan).split("\n").filter((l) => l.startsWith("| `CR"));
    expect(rows.map((r) => r.split(" | ")[4])).toEqual(["yes", "no → yes", "no"]);
    const json = planReport(plan);
    expect(json.items.map((i) => i.liveDefault)).toEqual([true, false, false]);
  });

  it("leaves liveDefault out of the JSON when no live credential is known", () => {
    expect(planReport(samplePlan()).items.every((i) => !("liveDefault" in i))).toBe(true);
  });

  it("shows the mapping path relative to the working directory when the renderer is given it", () => {
    const plan = { ...samplePlan(), mappingDisplayPath: "mappings/demo.yaml" };
    expect(planMarkdown(plan)).toContain("- Mapping: `mappings/demo.yaml`");
    expect(planMarkdown(plan)).not.toContain("/repo/mappings");
    expect(planReport(plan).mappingPath).toBe("mappings/demo.yaml");
    const result = { ...sampleResult(), mappingDisplayPath: "mappings/demo.yaml" };
    expect(applyMarkdown(result)).toContain("- Mapping: `mappings/demo.yaml`");
    expect(applyReport(result).mappingPath).toBe("mappings/demo.yaml");
  });

  it("carries a short certificate SHA-256 in the Markdown secret column, the full one in JSON", () => {
    const md = planMarkdown(samplePlan());
    expect(md).toContain(`certificate SHA-256 ${"a".repeat(16)}…`);
    expect(md).not.toContain("a".repeat(17));
    expect(planReport(samplePlan()).items[0]!.secret?.certSha256).toBe("a".repeat(64));
  });

  it("lists a blocked item's problems once in an applied report, not again as its failure", () => {
    const result: ApplyResult = {
      ...sampleResult(),
      items: [
        { ...item({ action: "blocked", problems: ["first problem", "second problem"] }), action: "blocked", status: "failed", error: "first problem; second problem" },
      ],
    };
    const md = applyMarkdown(result);
    const problems = md.split("\n").filter((l) => l.startsWith(`- \`${sid(1)}\``));
    expect(problems).toEqual([`- \`${sid(1)}\`: first problem`, `- \`${sid(1)}\`: second problem`]);
  });

  it("names the sid once: prefixed by the renderer, not again when a message starts with it", () => {
    const plan = planOf([item({ action: "blocked", problems: ["no secret resolved", `${sid(1)}: an old message`] })]);
    const md = planMarkdown(plan);
    expect(md).toContain(`- \`${sid(1)}\`: no secret resolved`);
    expect(md).toContain(`- ${sid(1)}: an old message`);
  });
});
