import { beforeAll, describe, expect, it } from "vitest";
import type { Plan, PlanItem } from "../../src/plan/types.js";
import { fitSections, waterFill } from "../../src/report/fit.js";
import { applyMarkdown, planMarkdown } from "../../src/report/markdown.js";
import { groupedMap, MAP_DETAIL_ITEMS, MERMAID_MAX_CHARS, mermaidText, migrationMap, type MapItem } from "../../src/report/mermaid.js";
import { mermaidBlocks, mermaidParse } from "../support/mermaid.js";
import { sampleResult, samplePlan, sid } from "./fixtures.js";

/** Names a user or a server could send: every character that means something to Mermaid, Markdown or HTML. */
const HOSTILE = [
  'quote " and \' end',
  "brackets [x] (y) {z} <b>",
  "semi; colon: hash # %% comment",
  "new\nline\r\nand\ttab",
  "back`tick` ```mermaid",
  "**bold** _em_ [link](https://evil.example) ![img](x)",
  "<script>alert(1)</script> &amp; &#8238; -->|x| end",
  "end",
  "subgraph",
  "graph TD; A-->B",
  "\u202eesrever \u001b[31m",
  "@someone #123",
];

function plan(items: PlanItem[]): Plan {
  return { ...samplePlan(), problems: [], warnings: [], items };
}

function item(n: number, over: Partial<PlanItem> = {}): PlanItem {
  return {
    legacySid: sid(n),
    friendlyName: `cred ${n}`,
    legacyType: "apn",
    sandbox: false,
    action: "create",
    target: { appName: `app_${n % 7}`, credentialType: "APN", isDefault: false },
    warnings: [],
    problems: [],
    ...over,
  };
}

// Loading Mermaid and jsdom takes seconds, more on a busy machine: once, before the tests' own timeouts run.
beforeAll(() => mermaidParse("flowchart LR\n  a --> b"), 180_000);

describe("mermaidText", () => {
  it("keeps letters, digits and plain punctuation, and writes every other character as an entity code", () => {
    expect(mermaidText("Limonade iOS (prod) 2024-01_x/y.z@a+b")).toBe("Limonade iOS (prod) 2024-01_x/y.z@a+b");
    expect(mermaidText('a"b;c#d:e`f<g[h')).toBe("a#34;b#59;c#35;d#58;e#96;f#60;g#91;h");
    expect(mermaidText("x\ny")).toBe("x y");
    // A bidi override is shown, not obeyed.
    expect(mermaidText("\u202eabc")).toBe("#92;u#123;202e#125;abc");
  });

  it("cuts long text to its limit with an ellipsis", () => {
    expect(Array.from(mermaidText("a".repeat(100), 10))).toHaveLength(10);
  });
});

describe("the migration map, parsed by Mermaid itself", { timeout: 60_000 }, () => {
  it("a plan with every action parses as a flowchart", async () => {
    const md = planMarkdown(samplePlan());
    const blocks = mermaidBlocks(md);
    expect(blocks).toHaveLength(1);
    await expect(mermaidParse(blocks[0]!)).resolves.toMatchObject({ diagramType: "flowchart-v2" });
  });

  it("hostile friendly names parse, and none of their special characters reaches the diagram raw", async () => {
    const items = HOSTILE.map((name, k) =>
      item(k + 1, {
        friendlyName: name,
        action: (["create", "blocked", "drop", "unmapped", "replace", "skip", "already-migrated"] as const)[k % 7]!,
        ...(k % 7 === 4 ? { replace: { oldId: `comms_credential_${name}`, oldWasDefault: false } as PlanItem["replace"] } : {}),
      }),
    );
    const block = mermaidBlocks(planMarkdown(plan(items)))[0]!;
    await expect(mermaidParse(block)).resolves.toMatchObject({ diagramType: "flowchart-v2" });
    for (const raw of ["<script>", "[link]", "```", "\u202e", "\u001b", "%%", "-->|x|"]) expect(block).not.toContain(raw);
    // One line per statement: no name spans lines.
    expect(block.split("\n").every((l) => l === "flowchart LR" || /^ {2}\S/.test(l) || /^ {4}\S/.test(l) || l === "")).toBe(true);
  });

  it("a mutated block is refused by the parser (the check can fail)", async () => {
    const block = mermaidBlocks(planMarkdown(samplePlan()))[0]!;
    await expect(mermaidParse(block.replace('"]', '"x"]'))).rejects.toThrow();
  });

  it("an applied report's map shows statuses and parses", async () => {
    const md = applyMarkdown(sampleResult());
    const block = mermaidBlocks(md)[0]!;
    expect(block).toMatch(/\|"create#58; confirmed"\|/);
    await expect(mermaidParse(block)).resolves.toMatchObject({ diagramType: "flowchart-v2" });
  });

  it("replacements read old → new; blocked, dropped and unmapped sit in groups of their own", () => {
    const items = [
      item(1, { action: "replace", replace: { oldId: "comms_credential_old", oldWasDefault: true } as PlanItem["replace"] }),
      item(2, { action: "blocked", problems: ["no secret"] }),
      item(3, { action: "drop", legacyType: "gcm", target: undefined }),
      item(4, { action: "unmapped", target: undefined }),
    ];
    const block = mermaidBlocks(planMarkdown(plan(items)))[0]!;
    expect(block).toMatch(/L1 ==>\|"replace old comms_credential_old → new"\| A\d+T\d+/);
    expect(block).toMatch(/subgraph G\d+\["Blocked#58; not applied"\]\n {4}L2\[/);
    expect(block).toMatch(/L2 -\.-x\|"blocked"\|/);
    expect(block).toMatch(/subgraph G\d+\["Dropped#58; no Comms equivalent"\]\n {4}L3\[.*:::dropped/);
    expect(block).toMatch(/subgraph G\d+\["Unmapped#58; not in the mapping"\]\n {4}L4\[.*:::unmapped/);
  });

  it(`past ${MAP_DETAIL_ITEMS} items it groups by App with counts, and parses`, async () => {
    const items = Array.from({ length: MAP_DETAIL_ITEMS + 1 }, (_, n) => item(n, n % 50 === 0 ? { action: "blocked" } : {}));
    const block = mermaidBlocks(planMarkdown(plan(items)))[0]!;
    expect(block).not.toContain(sid(5));
    expect(block).toMatch(/S1 -->\|"create × \d+"\| A\d+T1/);
    expect(block).toMatch(/S1 -\.-x\|"blocked × \d+"\|/);
    await expect(mermaidParse(block)).resolves.toMatchObject({ diagramType: "flowchart-v2" });
  });

  it("10,000 credentials over 500 hostile App names: the block stays far under Mermaid's limit, sums the rest, and parses", async () => {
    const items: MapItem[] = Array.from({ length: 10_000 }, (_, n) => ({
      legacySid: sid(n),
      friendlyName: HOSTILE[n % HOSTILE.length]!,
      legacyType: n % 2 ? "apn" : "fcm",
      action: n % 3 ? "create" : "blocked",
      target: { appName: `${HOSTILE[n % HOSTILE.length]!}_${n % 500}`, credentialType: n % 2 ? "APN" : "FCM" },
    }));
    const lines = migrationMap(items);
    const text = lines.join("\n");
    expect(text.length).toBeLessThan(MERMAID_MAX_CHARS / 2);
    expect(text).toMatch(/… \d+ more credential\(s\)/);
    await expect(mermaidParse(lines.slice(1, -1).join("\n"))).resolves.toMatchObject({ diagramType: "flowchart-v2" });
    expect(groupedMap(items, 5_000).join("\n").length).toBeLessThanOrEqual(5_000);
  });
});

describe("Markdown that fits a pull-request comment", () => {
  it("a plan of 10,000 legacy credentials with long names and warnings is at most 60,000 characters, summary and map first, the rest folded and pointed to", async () => {
    const actions = ["create", "create", "create", "blocked", "drop", "unmapped", "already-migrated", "replace"] as const;
    const items = Array.from({ length: 10_000 }, (_, n) => {
      const action = actions[n % actions.length]!;
      return item(n, {
        friendlyName: `${HOSTILE[n % HOSTILE.length]!} ${"x".repeat(40)}`,
        action,
        ...(action === "drop" || action === "unmapped" ? { target: undefined } : { target: { appName: `app_${n % 9}`, credentialType: "APN", isDefault: false } }),
        ...(action === "replace" ? { replace: { oldId: `comms_credential_${n}`, oldWasDefault: false } as PlanItem["replace"] } : {}),
        warnings: [`warning about ${n}: ${"w".repeat(80)}`],
        problems: action === "blocked" ? [`problem with ${n}`] : [],
      });
    });
    const md = planMarkdown({ ...plan(items), problems: Array.from({ length: 500 }, (_, k) => `general problem ${k}`) });
    expect(md.length).toBeLessThanOrEqual(60_000);
    const headings = md.split("\n").filter((l) => l.startsWith("## "));
    expect(headings.slice(0, 4)).toEqual(["## Summary", "## Map", "## Problems", "## Warnings"]);
    expect(md).toContain("| create | 3,750 |".replace(",", ""));
    expect(md).toMatch(/> This report is shortened to fit a pull-request comment: [\d,]+ row\(s\) are left out below; the JSON report beside this file/);
    expect(md).toMatch(/<details><summary>10,000 warnings<\/summary>/);
    expect(md).toMatch(/\*… [\d,]+ more warnings not shown here: the JSON report beside this file \(same name, `\.json`\) has them all\.\*/);
    // Every section got a share: the last one too.
    expect(md).toContain("## Not migrated");
    expect(md).toMatch(/## Not migrated\n\n<details>[\s\S]*\| `CR/);
    await expect(mermaidParse(mermaidBlocks(md)[0]!)).resolves.toMatchObject({ diagramType: "flowchart-v2" });
  }, 60_000);

  it("an apply of 10,000 credentials fits too", () => {
    const base = sampleResult();
    const items = Array.from({ length: 10_000 }, (_, n) => ({ ...base.items[n % base.items.length]!, legacySid: sid(n), friendlyName: `name ${n} ${"y".repeat(60)}` }));
    const md = applyMarkdown({ ...base, items });
    expect(md.length).toBeLessThanOrEqual(60_000);
    expect(md).toContain("## Map");
  });

  it("a small plan is not folded or cut", () => {
    const md = planMarkdown(samplePlan());
    expect(md).not.toContain("<details>");
    expect(md).not.toContain("shortened");
  });

  it("hostile names cannot inject Markdown, HTML, mentions or issue links into the tables", () => {
    const md = planMarkdown(plan(HOSTILE.map((name, k) => item(k + 1, { friendlyName: name }))));
    const rows = md.split("\n").filter((l) => l.startsWith("| `CR"));
    expect(rows).toHaveLength(HOSTILE.length);
    const all = rows.join("\n");
    expect(all).not.toMatch(/(?<!\\)\[link(?<!\\)\]/);
    expect(all).toContain("\\*\\*bold\\*\\* \\_em\\_ \\[link\\](https://evil.example) !\\[img\\](x)");
    expect(all).toContain("&lt;script>alert(1)&lt;/script> &amp;amp; &amp;#&#8203;8238;");
    expect(all).toContain("@&#8203;someone #&#8203;123");
    expect(all).toContain("back\\`tick\\` \\`\\`\\`mermaid");
  });
});

describe("ids from a server in plan tables", () => {
  it("a `|` in a Comms credential id cannot end a cell", () => {
    const md = planMarkdown(plan([item(1, { action: "already-migrated", commsCredentialId: "comms_credential_|x|" })]));
    const row = md.split("\n").find((l) => l.startsWith(`| \`${sid(1)}`))!;
    expect(row.replace(/\\\|/g, "").split("|")).toHaveLength(10);
    expect(row).toContain("`comms_credential_\\|x\\|`");
  });
});

describe("fitSections", () => {
  const rows = (n: number, w: number) => Array.from({ length: n }, (_, k) => `- ${String(k).padEnd(w, "r")}`);

  it("keeps every row within budget; folds long sections into <details>", () => {
    const out = fitSections([{ title: "A", noun: "things", rows: rows(30, 10) }], { budget: 10_000, restIn: "the JSON" });
    expect(out.omitted).toBe(0);
    expect(out.lines).toContain("<details><summary>30 things</summary>");
    expect(out.lines).toContain("</details>");
  });

  it("splits the budget fairly: a small section keeps all its rows, large ones share the rest, and each says what it left out", () => {
    const out = fitSections(
      [
        { title: "Big1", noun: "a", rows: rows(1000, 50) },
        { title: "Small", noun: "b", rows: rows(3, 10) },
        { title: "Big2", noun: "c", rows: rows(1000, 50) },
      ],
      { budget: 20_000, restIn: "the JSON" },
    );
    const text = out.lines.join("\n") + "\n";
    expect(text.length).toBeLessThanOrEqual(20_000);
    const big1 = out.lines.filter((l) => l.startsWith("- ") && l.length > 40).length;
    expect(big1).toBeGreaterThan(300);
    expect(out.lines.filter((l) => /^- \d+r{2,}$/.test(l) && l.length < 20)).toHaveLength(3);
    expect(text).toMatch(/\*… [\d,]+ more a not shown here: the JSON has them all\.\*/);
    expect(text).toMatch(/\*… [\d,]+ more c not shown here/);
  });

  it("drops whole sections from the end when even the titles do not fit, and says so", () => {
    const sections = Array.from({ length: 500 }, (_, k) => ({ title: `App ${k}`, noun: "x", rows: rows(2, 5) }));
    const out = fitSections(sections, { budget: 5_000, restIn: "the JSON" });
    const text = out.lines.join("\n") + "\n";
    expect(text.length).toBeLessThanOrEqual(5_000);
    expect(text).toMatch(/\*… [\d,]+ more section\(s\) with [\d,]+ row\(s\) not shown here: the JSON has them all\.\*/);
    expect(out.omitted).toBeGreaterThan(0);
  });

  it("waterFill gives small needs in full and shares the rest equally", () => {
    expect(waterFill([10, 1000, 1000], 610)).toEqual([10, 300, 300]);
    expect(waterFill([0, 5], 100)).toEqual([0, 5]);
  });
});
