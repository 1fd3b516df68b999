import { describe, expect, it } from "vitest";
import { applyMarkdown, mdCell, planMarkdown } from "../../src/report/markdown.js";
import { sampleResult, samplePlan, sid } from "./fixtures.js";

/** The lines of one `## …` section, heading excluded. */
function section(md: string, heading: string): string[] {
  const lines = md.split("\n");
  const start = lines.indexOf(heading);
  expect(start, `section ${heading}`).toBeGreaterThanOrEqual(0);
  const rest = lines.slice(start + 1);
  const end = rest.findIndex((l) => l.startsWith("## "));
  return (end < 0 ? rest : rest.slice(0, end)).filter((l) => l !== "");
}

describe("planMarkdown", () => {
  const md = planMarkdown(samplePlan());

  it("has title, account, time, summary, the map, then problems and warnings before the app sections", () => {
    expect(md.split("\n")[0]).toBe("# cr2comms plan (dry run)");
    expect(md).toContain("- Account: `AC00000000000000000000000000000000`");
    expect(md).toContain("- Generated: 2025-03-04T05:06:07.000Z");
    expect(section(md, "## Summary")).toEqual([
      "| Action | Count |",
      "|---|---|",
      "| create | 1 |",
      "| already-migrated | 1 |",
      "| drop | 1 |",
      "| unmapped | 1 |",
      "| skip | 1 |",
      "| blocked | 1 |",
    ]);
    const headings = md.split("\n").filter((l) => l.startsWith("## "));
    expect(headings).toEqual([
      "## Summary",
      "## Map",
      "## Problems",
      "## Warnings",
      "## App `limonade_android`",
      "## App `limonade_ios`",
      "## Not migrated",
    ]);
  });

  it("names the sid of every problem and warning", () => {
    expect(section(md, "## Problems")).toEqual([
      `- mapping lists ${sid(99)}, which does not exist in the account`,
      `- \`${sid(5)}\`: certificate file secrets/beta.cert.pem not found`,
    ]);
    expect(section(md, "## Warnings")).toEqual([
      "- a general warning",
      `- \`${sid(3)}\`: the legacy FCM server key cannot be used by Comms`,
      // Already names the sid: not repeated.
      `- ${sid(4)}: gcm has no Comms equivalent (GCM was shut down in 2019); dropped`,
    ]);
  });

  it("has one table per app with type, default, action, id and secret facts, escaping cells", () => {
    const ios = section(md, "## App `limonade_ios`");
    expect(ios[0]).toBe("| Legacy sid | Friendly name | Legacy type | → Comms type | Default | Action | Comms id | Secret |");
    expect(ios[2]).toBe(
      `| \`${sid(1)}\` | Limonade \\| iOS<br>prod | apn (production) | APN | yes | create |  | CN=Apple Push Services: com.limonade.ios; certificate SHA-256 aaaaaaaaaaaaaaaa…; not after 2026-01-01T00:00:00.000Z; environment production |`,
    );
    expect(ios[3]).toBe(`| \`${sid(5)}\` | Beta | apn (sandbox) | APN_SANDBOX | no | blocked |  |  |`);
    expect(section(md, "## App `limonade_android`")[2]).toBe(
      `| \`${sid(3)}\` | Limonade Android | fcm | FCM | no | already-migrated | \`comms_credential_01\` | project limonade-prod; push@limonade.iam.gserviceaccount.com |`,
    );
  });

  it("lists what is not migrated with a reason", () => {
    const rows = section(md, "## Not migrated");
    expect(rows[0]).toBe("| Legacy sid | Friendly name | Legacy type | Action | Reason |");
    expect(rows.slice(2)).toEqual([
      `| \`${sid(4)}\` | Old GCM | gcm | drop | ${sid(4)}: gcm has no Comms equivalent (GCM was shut down in 2019); dropped |`,
      `| \`${sid(6)}\` |  | apn (sandbox unset) | skip | \`skip: true\` in the mapping file |`,
      `| \`${sid(7)}\` | Stray | fcm | unmapped | not in the mapping file |`,
    ]);
  });
});

describe("applyMarkdown", () => {
  it("shows statuses, failures as problems, and the run facts", () => {
    const md = applyMarkdown(sampleResult());
    expect(md.split("\n")[0]).toBe("# cr2comms apply");
    expect(md).toContain("- Run: `run_0001`, 2025-03-04T06:00:00.000Z → 2025-03-04T06:00:09.000Z");
    expect(md).toContain("- Requests to Comms: create 2, get 3, list 1");
    const summary = section(md, "## Summary");
    expect(summary).toContain("| Status | Count |");
    expect(summary).toContain("| failed | 1 |");
    expect(summary).toContain("| Action | Count |");
    expect(summary).toContain("| create | 2 |");
    expect(section(md, "## Problems")).toEqual([
      `- \`${sid(2)}\`: failed: Comms API error 400 (code 20001): invalid certificate`,
    ]);
    const ios = section(md, "## App `limonade_ios`");
    expect(ios[0]).toContain("| Action: status |");
    expect(ios[2]).toContain("| create: confirmed | `comms_credential_02` |");
    expect(ios[3]).toContain("| create: failed |");
    expect(section(md, "## Not migrated")).toEqual(["None: every legacy credential has a target."]);
    expect(md).not.toContain("Interrupted");
  });

  it("says when a run was interrupted", () => {
    const result = sampleResult();
    result.interrupted = true;
    expect(applyMarkdown(result)).toContain("**Interrupted**");
  });
});

describe("mdCell", () => {
  it("escapes pipes, newlines, backslashes and HTML openers", () => {
    expect(mdCell("a|b\r\nc\nd\\e<script>")).toBe("a\\|b<br>c<br>d\\\\e&lt;script>");
  });
});
