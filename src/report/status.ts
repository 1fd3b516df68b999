import type { CommsCredential } from "../domain.js";
import type { DefaultAppStatus, StatusRow } from "../status/status.js";
import { TOOL_NAME, TOOL_VERSION } from "../version.js";
import { fitSections, MARKDOWN_BUDGET_CHARS, type FitSection } from "./fit.js";
import { REPORT_SCHEMA_VERSION } from "./json.js";
import { code, codeCell, countTable, documentPieces, mdCell, mdLine, REST_IN, tableHead, tableRow } from "./markdown.js";
import { linesLength, mermaidBlock, mermaidText } from "./mermaid.js";

/** What `status` found, as its reports render it. */
export interface StatusReportInput {
  generatedAt: string;
  accountSid: string;
  drift: boolean;
  expiringWithinDays?: number;
  summary: Record<string, number>;
  defaultApp: DefaultAppStatus;
  rows: readonly StatusRow[];
  expiring: readonly StatusRow[];
  /** Every live Comms credential (for when each went into Comms). */
  comms: readonly CommsCredential[];
  /** Comms credentials no ledger entry claims. */
  foreign: readonly CommsCredential[];
  warnings: readonly string[];
}

export interface StatusReportJson {
  schemaVersion: number;
  kind: "status";
  generatedAt: string;
  accountSid: string;
  tool: { name: string; version: string };
  drift: boolean;
  expiringWithinDays?: number;
  summary: Record<string, number>;
  defaultApp: DefaultAppStatus;
  items: (StatusRow & { expiring?: true })[];
  notCreatedByCr2comms: CommsCredential[];
  warnings: string[];
}

/** The JSON status report. Renders only. */
export function statusReport(s: StatusReportInput): StatusReportJson {
  const expiring = new Set(s.expiring);
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    kind: "status",
    generatedAt: s.generatedAt,
    accountSid: s.accountSid,
    tool: { name: TOOL_NAME, version: TOOL_VERSION },
    drift: s.drift,
    ...(s.expiringWithinDays !== undefined ? { expiringWithinDays: s.expiringWithinDays } : {}),
    summary: { ...s.summary },
    defaultApp: s.defaultApp,
    items: s.rows.map((r) => (expiring.has(r) ? { ...r, expiring: true as const } : { ...r })),
    notCreatedByCr2comms: [...s.foreign],
    warnings: [...s.warnings],
  };
}

/** Bars past this many are summed into one line under the chart (the tables and JSON have them all). */
export const GANTT_MAX_BARS = 300;

const DAY_MS = 86_400_000;

function day(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/**
 * A Mermaid `gantt` of each live credential's certificate: from when it went into Comms to its
 * `notAfter`, one section per App; bars inside `--expiring-within` are `crit` (red). Credentials
 * without a recorded expiry (FCM) have no bar.
 */
export function expiryGantt(s: Pick<StatusReportInput, "rows" | "expiring" | "comms" | "generatedAt">): string[] {
  const created = new Map(s.comms.map((c) => [c.id, Date.parse(c.createdAt)]));
  const expiring = new Set(s.expiring);
  const dated = s.rows.filter((r) => r.notAfter !== undefined && !Number.isNaN(Date.parse(r.notAfter)));
  if (dated.length === 0) return [];
  const byApp = new Map<string, StatusRow[]>();
  for (const r of dated.slice(0, GANTT_MAX_BARS)) {
    const list = byApp.get(r.appName ?? "") ?? [];
    list.push(r);
    byApp.set(r.appName ?? "", list);
  }
  const out = ["gantt", "  title Certificate validity (UTC), red when expiring within the days asked for", "  dateFormat YYYY-MM-DD", "  axisFormat %Y-%m"];
  let n = 0;
  for (const app of [...byApp.keys()].sort()) {
    out.push(`  section ${app === "" ? "no App recorded" : mermaidText(app, 70)}`);
    for (const r of byApp.get(app)!) {
      n++;
      const end = Date.parse(r.notAfter!);
      const since = created.get(r.commsCredentialId ?? "");
      const start = since !== undefined && !Number.isNaN(since) && since < end ? since : end - DAY_MS;
      const left = r.daysLeft === undefined ? "" : r.daysLeft < 0 ? ` expired ${-r.daysLeft} d ago` : ` ${r.daysLeft} d left`;
      const name = `${mermaidText(r.legacySid, 40)} ${mermaidText(r.credentialType ?? "")}${mermaidText(left)}`;
      const tags = expiring.has(r) ? "crit, " : r.daysLeft !== undefined && r.daysLeft < 0 ? "done, " : "";
      out.push(`  ${name} :${tags}c${n}, ${day(start)}, ${day(end)}`);
    }
  }
  return mermaidBlock(out);
}

function expiresText(r: StatusRow): string {
  if (r.notAfter === undefined || r.daysLeft === undefined) return "";
  const d = r.notAfter.slice(0, 10);
  return r.daysLeft < 0 ? `${d} (expired ${-r.daysLeft} d ago)` : `${d} (${r.daysLeft} d left)`;
}

/** The Markdown status report: summary, the expiry chart, then the rows, fitted to a pull-request comment. */
export function statusMarkdownPieces(s: StatusReportInput): Iterable<string> {
  const out = [
    `# ${TOOL_NAME} status`,
    "",
    `- Account: ${code(s.accountSid)}`,
    `- Generated: ${s.generatedAt}`,
    `- Tool: ${TOOL_NAME} ${TOOL_VERSION}`,
    `- Default App: ${mdLine(s.defaultApp.detail)}`,
    "",
    s.drift ? "**Drift**: the ledger and Comms disagree (see below)." : "**In sync**: Comms matches the ledger.",
    "",
  ];
  if (s.expiringWithinDays !== undefined) {
    out.push(
      s.expiring.length === 0
        ? `No certificate cr2comms put into Comms expires within ${s.expiringWithinDays} day(s).`
        : `**${s.expiring.length} certificate(s) expire within ${s.expiringWithinDays} day(s)**: renew them, update the mapping's secrets, then run apply (it replaces them).`,
      "",
    );
  }
  out.push("## Summary", "");
  for (const l of countTable("Status", s.summary)) out.push(l);
  const gantt = expiryGantt(s);
  if (gantt.length) {
    out.push("## Certificate expiry", "");
    for (const l of gantt) out.push(l);
    const more = s.rows.filter((r) => r.notAfter !== undefined).length - GANTT_MAX_BARS;
    if (more > 0) out.push("", `*… ${more} more certificate(s) not charted: ${REST_IN} has them all.*`);
    out.push("");
  }
  const expiring = new Set(s.expiring);
  const sections: FitSection[] = [
    {
      title: "Credentials cr2comms created",
      noun: "credentials",
      head: tableHead(["Legacy sid", "Status", "App", "Type", "Comms id", "Expires", "Detail"]),
      rows: s.rows.map((r) =>
        tableRow([
          codeCell(r.legacySid),
          r.kind,
          codeCell(r.appName ?? ""),
          mdCell(r.credentialType ?? ""),
          codeCell(r.commsCredentialId ?? ""),
          mdCell(expiresText(r)) + (expiring.has(r) ? " **expiring**" : ""),
          mdCell(r.detail),
        ]),
      ),
      ...(s.rows.length === 0 ? { lead: ["None: the ledger records nothing yet."] } : {}),
    },
    {
      title: "Not created by cr2comms (left untouched)",
      noun: "credentials",
      head: tableHead(["Comms id", "App", "Type", "Default"]),
      rows: s.foreign.map((c) => tableRow([codeCell(c.id), codeCell(c.appName), mdCell(c.credentialType), c.isDefault ? "yes" : "no"])),
      ...(s.foreign.length === 0 ? { lead: ["None."] } : {}),
    },
    { title: "Warnings", noun: "warnings", rows: s.warnings.map((w) => `- ${mdLine(w)}`), ...(s.warnings.length === 0 ? { lead: ["None."] } : {}) },
  ];
  const fitted = fitSections(sections, { budget: MARKDOWN_BUDGET_CHARS - linesLength(out) - 300, restIn: REST_IN });
  if (fitted.omitted > 0) out.push(`> This report is shortened to fit a pull-request comment: ${fitted.omitted.toLocaleString("en-US")} row(s) are left out below; ${REST_IN} has every item.`, "");
  for (const l of fitted.lines) out.push(l);
  return documentPieces(out);
}

/** `statusMarkdownPieces` as one string. */
export function statusMarkdown(s: StatusReportInput): string {
  let text = "";
  for (const piece of statusMarkdownPieces(s)) text += piece;
  return text;
}
