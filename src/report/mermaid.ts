import { escapeControl } from "../text.js";

/**
 * Mermaid diagrams for the Markdown reports (GitHub and GitLab render a fenced `mermaid` block).
 * Everything from outside (friendly names, App names, ids) goes through `mermaidText`; node ids are
 * generated (`L1`, `A2T1`, …), never taken from data, so no name can become a keyword or an edge.
 */

/** Mermaid refuses a diagram above 50,000 characters; a report's diagram stays far below. */
export const MERMAID_MAX_CHARS = 50_000;

/** Characters a label keeps as they are; anything else is written as a Mermaid entity code. */
const PLAIN = /[\p{L}\p{N} _.\-/()@+…→×]/u;

/**
 * Text made safe inside a quoted Mermaid label, a gantt task name or a section title: control and
 * bidi characters are first made visible (`escapeControl`), then every character outside a small
 * set (letters, digits, space, `_ . - / ( ) @ + … → ×`) becomes `#<code point>;`, which Mermaid shows as
 * that character. So a quote, bracket, `;`, `#`, `:`, `%`, backtick, `<`, `*` or newline can end
 * nothing, start no comment, and no Markdown or HTML is interpreted.
 */
export function mermaidText(text: string, maxChars = 60): string {
  const visible = escapeControl(text.replace(/\r\n|\r|\n/g, " "));
  const chars = Array.from(visible);
  const cut = chars.length > maxChars ? [...chars.slice(0, maxChars - 1), "…"] : chars;
  let out = "";
  for (const ch of cut) out += PLAIN.test(ch) ? ch : `#${ch.codePointAt(0)!};`;
  return out;
}

/** A fenced `mermaid` block around the diagram's lines. */
export function mermaidBlock(lines: readonly string[]): string[] {
  return ["```mermaid", ...lines, "```"];
}

/** Total characters of `lines` as written, one newline each. */
export function linesLength(lines: readonly string[]): number {
  let n = 0;
  for (const l of lines) n += l.length + 1;
  return n;
}

/** One legacy credential as the migration map draws it. */
export interface MapItem {
  legacySid: string;
  friendlyName: string | null;
  legacyType: string;
  sandbox?: boolean | null;
  action: string;
  target?: { appName: string; credentialType: string } | undefined;
  /** Applied reports: what became of it. */
  status?: string;
  /** For a replacement: the Comms credential being replaced. */
  replacedId?: string;
}

/** Past this many items the map draws one edge per (legacy type, App / type, action) with a count. */
export const MAP_DETAIL_ITEMS = 200;
/** The map's own budget: far under Mermaid's limit, and leaving most of a PR comment for the tables. */
export const MAP_BUDGET_CHARS = 20_000;

/** Actions that never reach Comms: drawn as their own groups, away from the Apps. */
const APART: Readonly<Record<string, string>> = {
  drop: "Dropped: no Comms equivalent",
  unmapped: "Unmapped: not in the mapping",
  skip: "Skipped: skip true in the mapping",
  blocked: "Blocked: not applied",
  refused: "Refused",
};
const APART_CLASS: Readonly<Record<string, string>> = { drop: "dropped", unmapped: "unmapped", skip: "dropped", blocked: "blocked", refused: "blocked" };

const CLASS_DEFS = [
  "  classDef blocked fill:#fde2e2,stroke:#c62828,color:#000",
  "  classDef dropped fill:#eeeeee,stroke:#9e9e9e,color:#555,stroke-dasharray:4 3",
  "  classDef unmapped fill:#fff6d5,stroke:#b08800,color:#000",
  "  classDef replace fill:#e3f0ff,stroke:#1565c0,color:#000",
  "  classDef failed fill:#fde2e2,stroke:#c62828,color:#000",
];

function edgeArrow(item: MapItem): string {
  if (item.action === "blocked" || item.status === "failed") return "-.-x";
  if (item.action === "replace") return "==>";
  if (item.action === "already-migrated" || item.action === "legacy-gone") return "-.->";
  return "-->";
}

function actionLabel(action: string, status: string | undefined): string {
  return status === undefined ? action : `${action}: ${status}`;
}

function legacyTypeText(item: MapItem): string {
  if (item.legacyType !== "apn" || item.sandbox === undefined) return item.legacyType;
  return item.sandbox === true ? "apn (sandbox)" : item.sandbox === false ? "apn (production)" : "apn (sandbox unset)";
}

/**
 * The migration map: legacy credential → App / Comms type, one edge per item, with blocked,
 * dropped, unmapped and skipped credentials in groups of their own and replacements labelled
 * old → new. Past `MAP_DETAIL_ITEMS` items, or when the detailed map would pass its budget, it
 * groups by App with counts (`groupedMap`). Returns the fenced block's lines.
 */
export function migrationMap(items: readonly MapItem[], budget = MAP_BUDGET_CHARS): string[] {
  if (items.length <= MAP_DETAIL_ITEMS) {
    const detailed = mermaidBlock(detailedMap(items));
    if (linesLength(detailed) <= budget) return detailed;
  }
  return mermaidBlock(groupedMap(items, budget - 20));
}

interface Apps {
  /** appName → its node id and its types' node ids. */
  byName: Map<string, { id: string; types: Map<string, string> }>;
}

function targetNode(apps: Apps, appName: string, type: string): string {
  let app = apps.byName.get(appName);
  if (!app) {
    app = { id: `A${apps.byName.size + 1}`, types: new Map() };
    apps.byName.set(appName, app);
  }
  let id = app.types.get(type);
  if (!id) {
    id = `${app.id}T${app.types.size + 1}`;
    app.types.set(type, id);
  }
  return id;
}

function appLines(apps: Apps, countsOf?: (appName: string, type: string) => string): string[] {
  const out: string[] = [];
  for (const name of [...apps.byName.keys()].sort()) {
    const app = apps.byName.get(name)!;
    out.push(`  subgraph ${app.id}["App ${mermaidText(name, 70)}"]`);
    for (const [type, id] of app.types) out.push(`    ${id}["${mermaidText(type)}${countsOf ? countsOf(name, type) : ""}"]`);
    out.push("  end");
  }
  return out;
}

function detailedMap(items: readonly MapItem[]): string[] {
  const apps: Apps = { byName: new Map() };
  const apart = new Map<string, string[]>();
  const legacy: string[] = [];
  const edges: string[] = [];
  items.forEach((item, i) => {
    const id = `L${i + 1}`;
    const name = item.friendlyName ? ` · ${mermaidText(item.friendlyName, 40)}` : "";
    const cls = item.status === "failed" ? "failed" : APART_CLASS[item.action] ?? (item.action === "replace" ? "replace" : undefined);
    const node = `${id}["${mermaidText(item.legacySid, 40)}${name}<br/>${mermaidText(legacyTypeText(item))}"]${cls ? `:::${cls}` : ""}`;
    const group = APART[item.action];
    if (group !== undefined) {
      const list = apart.get(item.action) ?? [];
      list.push(`    ${node}`);
      apart.set(item.action, list);
    } else {
      legacy.push(`  ${node}`);
    }
    if (item.target && item.action !== "drop" && item.action !== "unmapped" && item.action !== "skip") {
      const to = targetNode(apps, item.target.appName, item.target.credentialType);
      const replaced = item.replacedId ? ` old ${mermaidText(item.replacedId, 60)} → new` : "";
      edges.push(`  ${id} ${edgeArrow(item)}|"${mermaidText(actionLabel(item.action, item.status))}${replaced}"| ${to}`);
    }
  });
  const out = ["flowchart LR"];
  for (const l of legacy) out.push(l);
  for (const l of appLines(apps)) out.push(l);
  let g = 0;
  for (const [action, nodes] of apart) {
    g++;
    out.push(`  subgraph G${g}["${mermaidText(APART[action]!)}"]`);
    for (const n of nodes) out.push(n);
    out.push("  end");
  }
  for (const e of edges) out.push(e);
  for (const c of CLASS_DEFS) out.push(c);
  return out;
}

/**
 * The map for many items: one node per legacy type, one per App / type, one edge per (legacy type,
 * App / type, action) labelled with its count, and one node per group kept apart. Edges and Apps
 * past `budget` characters are summed into one "more" node, so the block never outgrows it.
 */
export function groupedMap(items: readonly MapItem[], budget = MAP_BUDGET_CHARS): string[] {
  const apart = new Map<string, number>();
  const edgeCounts = new Map<string, { legacyType: string; appName: string; type: string; label: string; arrow: string; count: number }>();
  const legacyTypes = new Map<string, string>();
  for (const item of items) {
    if (APART[item.action] !== undefined && !(item.action === "blocked" && item.target)) {
      apart.set(item.action, (apart.get(item.action) ?? 0) + 1);
      continue;
    }
    if (!item.target) {
      apart.set(item.action, (apart.get(item.action) ?? 0) + 1);
      continue;
    }
    if (!legacyTypes.has(item.legacyType)) legacyTypes.set(item.legacyType, `S${legacyTypes.size + 1}`);
    const label = actionLabel(item.action, item.status);
    const key = JSON.stringify([item.legacyType, item.target.appName, item.target.credentialType, label]);
    const e = edgeCounts.get(key) ?? { legacyType: item.legacyType, appName: item.target.appName, type: item.target.credentialType, label, arrow: edgeArrow(item), count: 0 };
    e.count++;
    edgeCounts.set(key, e);
  }
  const out = ["flowchart LR"];
  for (const [type, id] of legacyTypes) out.push(`  ${id}["legacy ${mermaidText(type)}"]`);
  let g = 0;
  for (const [action, count] of apart) {
    g++;
    out.push(`  G${g}["${mermaidText(APART[action] ?? action)}: ${count}"]:::${APART_CLASS[action] ?? "dropped"}`);
  }
  const apps: Apps = { byName: new Map() };
  const edges: string[] = [];
  const tail = CLASS_DEFS.length * 80 + 200;
  let used = linesLength(out) + tail;
  let more = 0;
  // Largest flows first, so what is left out is the small change.
  const sorted = [...edgeCounts.values()].sort((a, b) => b.count - a.count || a.appName.localeCompare(b.appName));
  for (const e of sorted) {
    const known = apps.byName.get(e.appName)?.types.has(e.type) ?? false;
    const cost = 60 + (known ? 0 : mermaidText(e.appName, 70).length + 60) + mermaidText(e.label).length + 40;
    if (used + cost > budget) {
      more += e.count;
      continue;
    }
    used += cost;
    const to = targetNode(apps, e.appName, e.type);
    edges.push(`  ${legacyTypes.get(e.legacyType)} ${e.arrow}|"${mermaidText(e.label)} × ${e.count}"| ${to}`);
  }
  for (const l of appLines(apps)) out.push(l);
  if (more > 0) out.push(`  M1["… ${more} more credential(s): see the tables and the JSON report"]:::dropped`);
  for (const e of edges) out.push(e);
  for (const c of CLASS_DEFS) out.push(c);
  return out;
}
