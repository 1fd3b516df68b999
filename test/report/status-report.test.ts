import { beforeAll, describe, expect, it } from "vitest";
import type { CommsCredential } from "../../src/domain.js";
import { expiryGantt, statusMarkdown, statusReport, type StatusReportInput } from "../../src/report/status.js";
import type { StatusRow } from "../../src/status/status.js";
import { mermaidBlocks, mermaidParse } from "../support/mermaid.js";
import { ACCOUNT, sid } from "./fixtures.js";

const NOW = "2026-01-01T00:00:00.000Z";

function row(n: number, over: Partial<StatusRow> = {}): StatusRow {
  return {
    legacySid: sid(n),
    kind: "in-sync",
    appName: `app_${n % 3}`,
    credentialType: "APN",
    commsCredentialId: `comms_credential_${n}`,
    detail: "confirmed and present",
    notAfter: `2026-0${(n % 9) + 1}-15T00:00:00.000Z`,
    daysLeft: 14 + 30 * (n % 9),
    ...over,
  };
}

function comms(n: number, over: Partial<CommsCredential> = {}): CommsCredential {
  return { id: `comms_credential_${n}`, credentialType: "APN", isDefault: false, appName: `app_${n % 3}`, createdAt: "2025-02-01T00:00:00.000Z", updatedAt: "2025-02-01T00:00:00.000Z", ...over };
}

function input(rows: StatusRow[], over: Partial<StatusReportInput> = {}): StatusReportInput {
  return {
    generatedAt: NOW,
    accountSid: ACCOUNT,
    drift: false,
    summary: { "in-sync": rows.length },
    defaultApp: { drift: false, detail: "app_0" },
    rows,
    expiring: [],
    comms: rows.map((r) => comms(0, { id: r.commsCredentialId! })),
    foreign: [],
    warnings: [],
    ...over,
  };
}

// Loading Mermaid and jsdom takes seconds, more on a busy machine: once, before the tests' own timeouts run.
beforeAll(() => mermaidParse("flowchart LR\n  a --> b"), 180_000);

describe("the status report", () => {
  it("JSON: versioned, kind status, each row, and those inside --expiring-within flagged", () => {
    const rows = [row(0), row(1), row(2, { notAfter: undefined, daysLeft: undefined, credentialType: "FCM" })];
    const json = statusReport(input(rows, { expiringWithinDays: 30, expiring: [rows[0]!] }));
    expect(json).toMatchObject({ schemaVersion: 1, kind: "status", accountSid: ACCOUNT, generatedAt: NOW, expiringWithinDays: 30, tool: { name: "cr2comms" } });
    expect(json.items.map((i) => i.expiring ?? false)).toEqual([true, false, false]);
  });

  it("Markdown: a gantt per App from when each went into Comms to its expiry, the expiring ones crit, and Mermaid parses it", { timeout: 60_000 }, async () => {
    const rows = [row(0), row(1), row(2, { notAfter: undefined, daysLeft: undefined, credentialType: "FCM" }), row(4, { daysLeft: -3, notAfter: "2025-12-29T00:00:00.000Z" })];
    const md = statusMarkdown(input(rows, { expiringWithinDays: 30, expiring: [rows[0]!] }));
    const blocks = mermaidBlocks(md);
    expect(blocks).toHaveLength(1);
    const gantt = blocks[0]!;
    expect(gantt).toMatch(/^gantt\n/);
    expect(gantt).toContain(`  ${sid(0)} APN 14 d left :crit, c1, 2025-02-01, 2026-01-15`);
    expect(gantt).toMatch(new RegExp(`  ${sid(4)} APN expired 3 d ago :done, c\\d, 2025-02-01, 2025-12-29`));
    expect(gantt).not.toContain(sid(2));
    expect(gantt.match(/^ {2}section /gm)).toHaveLength(2);
    await expect(mermaidParse(gantt)).resolves.toMatchObject({ diagramType: "gantt" });
    expect(md).toContain("**1 certificate(s) expire within 30 day(s)**");
    expect(md).toMatch(/\| `CR0+` \| in-sync \| `app_0` \| APN \| `comms_credential_0` \| 2026-01-15 \(14 d left\) \*\*expiring\*\* \|/);
  });

  it("hostile App names from the server cannot break the gantt or the tables", { timeout: 60_000 }, async () => {
    const names = ['a"b', "x:y;z #1 %% c", "new\nline", "<b>`q`</b>", "section end", "[l](u) @me"];
    const rows = names.map((appName, n) => row(n, { appName }));
    const md = statusMarkdown(input(rows, { foreign: [comms(9, { appName: "*evil* | [x](y)", id: "comms_credential_|x|" })] }));
    // Every table row keeps its columns: a `|` from the server cannot end a cell.
    const cells = (l: string) => l.replace(/\\\|/g, "").split("|").length;
    const rowsOf = (title: string) => md.split(`## ${title}`)[1]!.split("\n## ")[0]!.split("\n").filter((l) => l.startsWith("| `"));
    expect(rowsOf("Credentials cr2comms created").map(cells)).toEqual(names.map(() => 9));
    expect(rowsOf("Not created by cr2comms").map(cells)).toEqual([6]);
    const gantt = mermaidBlocks(md)[0]!;
    await expect(mermaidParse(gantt)).resolves.toMatchObject({ diagramType: "gantt" });
    expect(gantt.split("\n").filter((l) => l.startsWith("  section "))).toHaveLength(names.length);
    for (const raw of ['"', "%%", "<b>", "`", "[l]"]) expect(gantt).not.toContain(raw);
  });

  it("many rows: the gantt is capped, and the Markdown fits a pull-request comment and points to the JSON", () => {
    const rows = Array.from({ length: 5_000 }, (_, n) => row(n, { detail: `detail ${"d".repeat(60)}` }));
    const md = statusMarkdown(input(rows));
    expect(md.length).toBeLessThanOrEqual(60_000);
    expect(expiryGantt(input(rows)).length).toBeLessThan(320);
    expect(md).toContain("more certificate(s) not charted: the JSON report beside this file");
    expect(md).toContain("<details><summary>5,000 credentials</summary>");
  });

  it("no certificate with an expiry: no chart", () => {
    expect(statusMarkdown(input([row(0, { notAfter: undefined, daysLeft: undefined })]))).not.toContain("```mermaid");
  });
});
