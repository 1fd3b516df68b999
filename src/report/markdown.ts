import type { ApplyResult, AppliedItem } from "../apply/types.js";
import { PLAN_ACTIONS, summarize, type Plan, type PlanItem } from "../plan/types.js";
import { TOOL_NAME, TOOL_VERSION } from "../version.js";

type AnyItem = PlanItem | AppliedItem;

/** Actions whose items are not migrated; they get the "Not migrated" section, with a reason. */
const NOT_MIGRATED = new Set(["unmapped", "skip", "drop"]);

/** A Markdown table cell: `|` would end the cell and a newline the row; `<` could open HTML. */
export function mdCell(text: string): string {
  return text
    .replace(/\\/g, "\\\\")
    .replace(/\|/g, "\\|")
    .replace(/</g, "&lt;")
    .replace(/\r\n|\r|\n/g, "<br>");
}

/** One line of running text (list item). */
function mdLine(text: string): string {
  return text.replace(/\s*(\r\n|\r|\n)\s*/g, " ").replace(/</g, "&lt;");
}

function code(text: string): string {
  return text === "" ? "" : `\`${text.replace(/`/g, "'")}\``;
}

function table(headers: string[], rows: string[][]): string[] {
  return [`| ${headers.join(" | ")} |`, `|${headers.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.join(" | ")} |`)];
}

/** Summary rows in a fixed order (pipeline order), whatever order the items came in. */
const COUNT_ORDER = [...PLAN_ACTIONS, "delete", "refused", "already-gone", "planned", "confirmed", "accepted-unconfirmed", "failed", "skipped"];

function countTable(label: string, counts: Record<string, number>): string[] {
  const rank = (k: string): number => (COUNT_ORDER.includes(k) ? COUNT_ORDER.indexOf(k) : COUNT_ORDER.length);
  const entries = Object.entries(counts).sort(([a], [b]) => rank(a) - rank(b));
  if (entries.length === 0) return ["No items.", ""];
  return [...table([label, "Count"], entries.map(([k, n]) => [mdCell(k), String(n)])), ""];
}

function legacyTypeCell(item: AnyItem): string {
  if (item.legacyType !== "apn") return item.legacyType;
  return item.sandbox === true ? "apn (sandbox)" : item.sandbox === false ? "apn (production)" : "apn (sandbox unset)";
}

function secretCell(item: AnyItem): string {
  const s = item.secret;
  if (!s) return "";
  const parts: string[] = [];
  if (s.kind === "apn") {
    if (s.subject !== undefined) parts.push(s.subject);
    if (s.notAfter !== undefined) parts.push(`not after ${s.notAfter}`);
    if (s.environment !== undefined) parts.push(`environment ${s.environment}`);
  } else {
    if (s.projectId !== undefined) parts.push(`project ${s.projectId}`);
    if (s.clientEmail !== undefined) parts.push(s.clientEmail);
  }
  return mdCell(parts.join("; "));
}

/** `sid: message`, unless the message already names the sid. */
function bySid(sid: string, message: string): string {
  return message.includes(sid) ? mdLine(message) : `${code(sid)}: ${mdLine(message)}`;
}

function listSection(title: string, general: string[], items: AnyItem[], pick: (i: AnyItem) => string[]): string[] {
  const lines = [...general.map((m) => `- ${mdLine(m)}`)];
  for (const item of items) for (const m of pick(item)) lines.push(`- ${bySid(item.legacySid, m)}`);
  return [`## ${title}`, "", ...(lines.length ? lines : ["None."]), ""];
}

function notMigratedReason(item: AnyItem): string {
  switch (item.action) {
    case "unmapped":
      return "not in the mapping file";
    case "skip":
      return "`skip: true` in the mapping file";
    case "drop":
      return item.warnings.length ? item.warnings.join("\n") : "no Comms equivalent";
    default:
      return [...item.problems, ...("error" in item && item.error ? [item.error] : [])].join("\n") || "no target";
  }
}

function actionCell(item: AnyItem): string {
  const action = item.action + ("recreate" in item && item.recreate ? " (recreate)" : "");
  return "status" in item ? `${action}: ${item.status}` : action;
}

function body(items: AnyItem[], general: { problems: string[]; warnings: string[] }): string[] {
  const out: string[] = [];
  out.push(
    ...listSection("Problems", general.problems, items, (i) => [
      ...i.problems,
      ...("status" in i && i.status === "failed" && i.error ? [`failed: ${i.error}`] : []),
    ]),
  );
  out.push(...listSection("Warnings", general.warnings, items, (i) => i.warnings));

  const byApp = new Map<string, AnyItem[]>();
  const notMigrated: AnyItem[] = [];
  for (const item of items) {
    if (item.target && !NOT_MIGRATED.has(item.action)) {
      const list = byApp.get(item.target.appName) ?? [];
      list.push(item);
      byApp.set(item.target.appName, list);
    } else {
      notMigrated.push(item);
    }
  }
  const applied = items.some((i) => "status" in i);
  for (const appName of [...byApp.keys()].sort()) {
    out.push(`## App ${code(appName)}`, "");
    const rows = (byApp.get(appName) ?? []).map((i) => [
      code(i.legacySid),
      mdCell(i.friendlyName ?? ""),
      legacyTypeCell(i),
      i.target?.credentialType ?? "",
      i.target?.isDefault ? "yes" : "no",
      mdCell(actionCell(i)),
      code(i.commsCredentialId ?? ""),
      secretCell(i),
    ]);
    out.push(
      ...table(
        ["Legacy sid", "Friendly name", "Legacy type", "→ Comms type", "Default", applied ? "Action: status" : "Action", "Comms id", "Secret"],
        rows,
      ),
      "",
    );
  }

  out.push("## Not migrated", "");
  if (notMigrated.length === 0) {
    out.push("None: every legacy credential has a target.", "");
  } else {
    const rows = notMigrated.map((i) => [
      code(i.legacySid),
      mdCell(i.friendlyName ?? ""),
      legacyTypeCell(i),
      mdCell(actionCell(i)),
      mdCell(notMigratedReason(i)),
    ]);
    out.push(...table(["Legacy sid", "Friendly name", "Legacy type", "Action", "Reason"], rows), "");
  }
  return out;
}

/** The Markdown dry-run report, for a reviewer in a pull request. */
export function planMarkdown(plan: Plan): string {
  const out = [
    `# ${TOOL_NAME} plan (dry run)`,
    "",
    `- Account: ${code(plan.accountSid)}`,
    `- Generated: ${plan.generatedAt}`,
    `- Mapping: ${code(plan.mappingPath)}`,
    `- Tool: ${TOOL_NAME} ${TOOL_VERSION}`,
    "",
    "Nothing has been written to Twilio. `cr2comms apply` carries out this plan.",
    "",
    "## Summary",
    "",
    ...countTable("Action", summarize(plan.items)),
    ...body(plan.items, plan),
  ];
  return `${out.join("\n").trimEnd()}\n`;
}

/** The Markdown applied report for an apply or rollback run. */
export function applyMarkdown(result: ApplyResult): string {
  const requests = Object.entries(result.requests ?? {});
  const out = [
    `# ${TOOL_NAME} ${result.kind}`,
    "",
    `- Account: ${code(result.accountSid)}`,
    `- Run: ${code(result.runId)}, ${result.startedAt} → ${result.finishedAt}`,
    ...(result.mappingPath !== undefined ? [`- Mapping: ${code(result.mappingPath)}`] : []),
    `- Tool: ${TOOL_NAME} ${TOOL_VERSION}`,
    ...(requests.length ? [`- Requests to Comms: ${requests.map(([k, n]) => `${mdLine(k)} ${n}`).join(", ")}`] : []),
    "",
    ...(result.interrupted
      ? ["**Interrupted**: the run was stopped; work in flight was finished and recorded. Run it again to continue.", ""]
      : []),
    "## Summary",
    "",
    ...countTable("Status", summarize(result.items.map((i) => ({ action: i.status })))),
    ...countTable("Action", summarize(result.items)),
    ...body(result.items, result),
  ];
  return `${out.join("\n").trimEnd()}\n`;
}
