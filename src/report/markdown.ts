import type { ConcurrencyStats } from "../apply/adaptive.js";
import type { ApplyResult, AppliedItem } from "../apply/types.js";
import { describeAccountAction } from "../plan/account.js";
import { PLAN_ACTIONS, summarize, type AccountAction, type Plan, type PlanItem } from "../plan/types.js";
import type { AppliedAccountAction } from "../apply/types.js";
import { escapeControl } from "../text.js";
import { TOOL_NAME, TOOL_VERSION } from "../version.js";
import { fitSections, MARKDOWN_BUDGET_CHARS, type FitSection } from "./fit.js";
import { linesLength, migrationMap, type MapItem } from "./mermaid.js";

type AnyItem = PlanItem | AppliedItem;

/**
 * An applied result as the Markdown renderer reads it: `mappingDisplayPath` (the mapping path
 * relative to the working directory) is shown instead of the absolute `mappingPath` when present.
 */
export type RenderableResult = ApplyResult & { mappingDisplayPath?: string };

/** Appends without spreading into call arguments, which overflows the stack for large lists. */
function append(out: string[], lines: readonly string[]): void {
  for (const line of lines) out.push(line);
}

/** Actions whose items are not migrated; they get the "Not migrated" section, with a reason. */
const NOT_MIGRATED = new Set(["unmapped", "skip", "drop"]);

/**
 * Text from outside (friendly names, server messages) as inert Markdown: `\` `` ` `` `*` `_` `[`
 * `]` `~` are backslash-escaped (no emphasis, code, link or image), `&` and `<` become entities (no
 * HTML, no entity that smuggles a control character), and an `@name` or `#123` gets a zero-width
 * space after its sign so that a pull-request comment mentions nobody and links no issue. Control
 * characters and bidi overrides are escaped (`escapeControl`) so that nothing hides text.
 */
function mdText(text: string): string {
  return escapeControl(
    text
      // An underscore inside a word (comms_credential_x) emphasises nothing: it stays readable.
      .replace(/[\\`*[\]~]|(?<![\p{L}\p{N}])_|_(?![\p{L}\p{N}])/gu, (ch) => `\\${ch}`)
      .replace(/&/g, "&amp;")
      .replace(/</g, "&lt;")
      .replace(/(^|[^\p{L}\p{N}_])([@#])(?=[\p{L}\p{N}_-])/gu, "$1$2&#8203;"),
  );
}

/** A Markdown table cell: `|` would end the cell and a newline the row; otherwise as `mdText`. */
export function mdCell(text: string): string {
  return text
    .split(/\r\n|\r|\n/)
    .map((part) => mdText(part).replace(/\|/g, "\\|"))
    .join("<br>");
}

/** One line of running text (list item). */
export function mdLine(text: string): string {
  return mdText(text.replace(/\s*(\r\n|\r|\n)\s*/g, " "));
}

export function code(text: string): string {
  return text === "" ? "" : `\`${escapeControl(text.replace(/`/g, "'"))}\``;
}

/** A code span in a table cell: a `|` (in an id from a server) would end the cell. */
export function codeCell(text: string): string {
  return code(text).replace(/\|/g, "\\|");
}

export function tableHead(headers: string[]): string[] {
  return [`| ${headers.join(" | ")} |`, `|${headers.map(() => "---").join("|")}|`];
}

export function tableRow(cells: string[]): string {
  return `| ${cells.join(" | ")} |`;
}

function table(headers: string[], rows: string[][]): string[] {
  const out = tableHead(headers);
  for (const r of rows) out.push(tableRow(r));
  return out;
}

/** Summary rows in a fixed order (pipeline order), whatever order the items came in. */
const COUNT_ORDER = [...PLAN_ACTIONS, "delete", "refused", "already-gone", "planned", "confirmed", "accepted-unconfirmed", "failed", "skipped"];

export function countTable(label: string, counts: Record<string, number>): string[] {
  const rank = (k: string): number => (COUNT_ORDER.includes(k) ? COUNT_ORDER.indexOf(k) : COUNT_ORDER.length);
  const entries = Object.entries(counts).sort(([a], [b]) => rank(a) - rank(b));
  if (entries.length === 0) return ["No items.", ""];
  const out = table([label, "Count"], entries.map(([k, n]) => [mdCell(k), String(n)]));
  out.push("");
  return out;
}

function legacyTypeCell(item: AnyItem): string {
  if (item.legacyType !== "apn") return item.legacyType;
  return item.sandbox === true ? "apn (sandbox)" : item.sandbox === false ? "apn (production)" : "apn (sandbox unset)";
}

/** Enough of a SHA-256 to compare by eye; the JSON report has the whole digest. */
const SHORT_DIGEST_HEX = 16;

function secretCell(item: AnyItem): string {
  const now = fingerprintText(item.secret);
  if (item.action !== "replace" || !item.replace) return mdCell(now);
  const before = item.replace.oldSecret ? fingerprintText(item.replace.oldSecret) : "no fingerprint recorded";
  return mdCell(`${before} → ${now || "?"}`);
}

function fingerprintText(s: AnyItem["secret"]): string {
  if (!s) return "";
  const parts: string[] = [];
  if (s.kind === "apn") {
    if (s.subject !== undefined) parts.push(s.subject);
    if (s.certSha256 !== undefined) parts.push(`certificate SHA-256 ${s.certSha256.slice(0, SHORT_DIGEST_HEX)}…`);
    if (s.notAfter !== undefined) parts.push(`not after ${s.notAfter}`);
    if (s.environment !== undefined) parts.push(`environment ${s.environment}`);
  } else {
    if (s.projectId !== undefined) parts.push(`project ${s.projectId}`);
    if (s.clientEmail !== undefined) parts.push(s.clientEmail);
    if (s.keyId !== undefined) parts.push(`key ${s.keyId.slice(0, SHORT_DIGEST_HEX)}…`);
  }
  return parts.join("; ");
}

/**
 * `sid: message`. Item messages do not carry their sid (the renderer names it, once); a message
 * that starts with it anyway (a plan file saved by an older cr2comms) is not prefixed again.
 */
function bySid(sid: string, message: string): string {
  return message.startsWith(sid) ? mdLine(message) : `${code(sid)}: ${mdLine(message)}`;
}

function listSection(title: string, noun: string, general: string[], items: AnyItem[], pick: (i: AnyItem) => string[]): FitSection {
  const rows: string[] = [];
  for (const m of general) rows.push(`- ${mdLine(m)}`);
  for (const item of items) for (const m of pick(item)) rows.push(`- ${bySid(item.legacySid, m)}`);
  return { title, noun, rows, ...(rows.length === 0 ? { lead: ["None."] } : {}) };
}

/**
 * What Comms has (or will have) as the default: the live state for an item with a live Comms
 * credential, the change for an `update-default`, else what the mapping asks for.
 */
function defaultCell(item: AnyItem): string {
  if (item.action === "replace" && item.replace) return item.replace.oldWasDefault || item.target?.isDefault ? "yes (moves to the new credential)" : "no";
  if (item.action === "update-default") return "status" in item && item.status === "confirmed" ? "yes" : "no → yes";
  if (item.liveDefault !== undefined) return item.liveDefault ? "yes" : "no";
  return item.target?.isDefault ? "yes" : "no";
}

function notMigratedReason(item: AnyItem): string {
  switch (item.action) {
    case "unmapped":
      return "not in the mapping file";
    case "skip":
      return "skip: true in the mapping file";
    case "drop":
      return item.warnings.length ? item.warnings.join("\n") : "no Comms equivalent";
    default:
      return [...item.problems, ...("error" in item && item.error ? [item.error] : [])].join("\n") || "no target";
  }
}

function actionCell(item: AnyItem): string {
  const replaced = item.action === "replace" && item.replace ? ` of ${item.replace.oldId}${item.replace.forced ? " (forced)" : ""}` : "";
  const action = item.action + replaced + ("recreate" in item && item.recreate ? " (recreate)" : "");
  return "status" in item ? `${action}: ${item.status}` : action;
}

/** Where a cut Markdown report sends the reader. */
export const REST_IN = "the JSON report beside this file (same name, `.json`)";

function bodySections(items: AnyItem[], general: { problems: string[]; warnings: string[] }): FitSection[] {
  const sections: FitSection[] = [
    listSection("Problems", "problems", general.problems, items, (i) => [
      ...i.problems,
      // A blocked item "fails" with its problems, which are listed already.
      ...("status" in i && i.status === "failed" && i.error && i.action !== "blocked" ? [`failed: ${i.error}`] : []),
    ]),
    listSection("Warnings", "warnings", general.warnings, items, (i) => i.warnings),
  ];

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
    const rows = (byApp.get(appName) ?? []).map((i) =>
      tableRow([
        codeCell(i.legacySid),
        mdCell(i.friendlyName ?? ""),
        legacyTypeCell(i),
        i.target?.credentialType ?? "",
        defaultCell(i),
        mdCell(actionCell(i)),
        codeCell(i.commsCredentialId ?? ""),
        secretCell(i),
      ]),
    );
    const head = tableHead(["Legacy sid", "Friendly name", "Legacy type", "→ Comms type", "Default", applied ? "Action: status" : "Action", "Comms id", "Secret"]);
    sections.push({ title: `App ${code(appName)}`, noun: "credentials", head, rows });
  }

  const rows = notMigrated.map((i) =>
    tableRow([codeCell(i.legacySid), mdCell(i.friendlyName ?? ""), legacyTypeCell(i), mdCell(actionCell(i)), i.action === "skip" ? "`skip: true` in the mapping file" : mdCell(notMigratedReason(i))]),
  );
  sections.push({
    title: "Not migrated",
    noun: "credentials",
    head: tableHead(["Legacy sid", "Friendly name", "Legacy type", "Action", "Reason"]),
    rows,
    ...(rows.length === 0 ? { lead: ["None: every legacy credential has a target."] } : {}),
  });
  return sections;
}

/** The body sections fitted to what is left of the Markdown budget after `before`. */
function body(before: readonly string[], items: AnyItem[], general: { problems: string[]; warnings: string[] }): string[] {
  const budget = MARKDOWN_BUDGET_CHARS - linesLength(before) - CUT_NOTE_RESERVE;
  const fitted = fitSections(bodySections(items, general), { budget, restIn: REST_IN });
  if (fitted.omitted === 0) return fitted.lines;
  return [`> This report is shortened to fit a pull-request comment: ${fitted.omitted.toLocaleString("en-US")} row(s) are left out below; ${REST_IN} has every item.`, "", ...fitted.lines];
}

/** Room for the line that says the report was shortened. */
const CUT_NOTE_RESERVE = 300;

/** The migration map's items, from plan or applied items. */
function mapItems(items: readonly AnyItem[]): MapItem[] {
  return items.map((i) => ({
    legacySid: i.legacySid,
    friendlyName: i.friendlyName,
    legacyType: i.legacyType,
    sandbox: i.sandbox,
    action: i.action,
    ...(i.target ? { target: i.target } : {}),
    ...("status" in i ? { status: i.status } : {}),
    ...(i.action === "replace" && i.replace ? { replacedId: i.replace.oldId } : {}),
  }));
}

function mapSection(items: readonly AnyItem[]): string[] {
  if (items.length === 0) return [];
  return ["## Map", "", ...migrationMap(mapItems(items)), ""];
}

/** The account-level actions (the default App), one line each; nothing when there are none. */
function accountSection(actions: readonly (AccountAction | AppliedAccountAction)[] | undefined): string[] {
  if (!actions?.length) return [];
  const out = ["## Account", ""];
  for (const a of actions) {
    const applied = "status" in a ? a : undefined;
    const status = applied ? ` — **${applied.status}**${applied.patched === false ? " (Comms made it the default as the account's first App; no PATCH)" : ""}` : "";
    out.push(`- ${mdLine(describeAccountAction(a))}${status}`);
    if (applied?.error) out.push(`  - failed: ${mdLine(applied.error)}`);
    for (const w of applied?.warnings ?? []) out.push(`  - warning: ${mdLine(w)}`);
  }
  out.push("");
  return out;
}

/** Pieces of a document are gathered up to about this many characters. */
const PIECE_CHARS = 64 * 1024;

/**
 * The lines as one document, in pieces of about `PIECE_CHARS` (a 10,000-credential report is never
 * held as one string); every line is escaped once more, so nothing raw can slip through. Trailing
 * blank lines are left out and the document ends with one newline.
 */
export function* documentPieces(out: readonly string[]): Generator<string> {
  let last = out.length - 1;
  while (last >= 0 && escapeControl(out[last]!).trim() === "") last--;
  let piece = "";
  for (let i = 0; i <= last; i++) {
    const line = escapeControl(out[i]!);
    piece += `${i === last ? line.trimEnd() : line}\n`;
    if (piece.length >= PIECE_CHARS) {
      yield piece;
      piece = "";
    }
  }
  if (piece !== "" || last < 0) yield piece === "" ? "\n" : piece;
}

function document(out: readonly string[]): string {
  let text = "";
  for (const piece of documentPieces(out)) text += piece;
  return text;
}

/** The Markdown dry-run report, for a reviewer in a pull request. */
export function planMarkdown(plan: Plan): string {
  return document(planLines(plan));
}

/** `planMarkdown`, in pieces of about 64 KiB: what the plan command writes. */
export function planMarkdownPieces(plan: Plan): Iterable<string> {
  return documentPieces(planLines(plan));
}

function planLines(plan: Plan): string[] {
  const out = [
    `# ${TOOL_NAME} plan (dry run)`,
    "",
    `- Account: ${code(plan.accountSid)}`,
    `- Generated: ${plan.generatedAt}`,
    `- Mapping: ${code(plan.mappingDisplayPath ?? plan.mappingPath)}`,
    `- Tool: ${TOOL_NAME} ${TOOL_VERSION}`,
    "",
    "Nothing has been written to Twilio. `cr2comms apply` carries out this plan.",
    "",
    "## Summary",
    "",
  ];
  append(out, countTable("Action", summarize(plan.items)));
  append(out, accountSection(plan.accountActions));
  append(out, mapSection(plan.items));
  append(out, body(out, plan.items, plan));
  return out;
}

/** The Markdown applied report for an apply or rollback run. */
export function applyMarkdown(result: RenderableResult): string {
  const requests = Object.entries(result.requests ?? {});
  const out = [
    `# ${TOOL_NAME} ${result.kind}`,
    "",
    `- Account: ${code(result.accountSid)}`,
    `- Run: ${code(result.runId)}, ${result.startedAt} → ${result.finishedAt}`,
    ...(result.mappingPath !== undefined ? [`- Mapping: ${code(result.mappingDisplayPath ?? result.mappingPath)}`] : []),
    `- Tool: ${TOOL_NAME} ${TOOL_VERSION}`,
    ...(requests.length ? [`- Requests to Comms: ${requests.map(([k, n]) => `${mdLine(k)} ${n}`).join(", ")}`] : []),
    ...(result.concurrency ? [`- Concurrency: ${concurrencyLine(result.concurrency)}`] : []),
    "",
    ...(result.interrupted
      ? ["**Interrupted**: the run was stopped; work in flight was finished and recorded. Run it again to continue.", ""]
      : []),
    "## Summary",
    "",
  ];
  append(out, countTable("Status", summarize(result.items.map((i) => ({ action: i.status })))));
  append(out, countTable("Action", summarize(result.items)));
  append(out, accountSection(result.accountActions));
  if (result.kind === "apply") append(out, mapSection(result.items));
  append(out, body(out, result.items, result));
  return document(out);
}

function concurrencyLine(c: ConcurrencyStats): string {
  const limit = c.mode === "adaptive" ? `adaptive, started at ${c.start}, reached ${c.peak}, ended at ${c.final}` : `fixed at ${c.start}`;
  const skipped = c.skippedProbes ? `; ${c.skippedProbes} probe(s) above the level that drew a 429 not sent (too little work left to repay a Retry-After)` : "";
  return `${limit}; at most ${c.peakInFlight} in flight; ${c.throttled} answer(s) 429 (too many requests)${skipped}`;
}
