import { mkdir } from "node:fs/promises";
import { dirname, extname } from "node:path";
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type YAMLMap, type YAMLSeq } from "yaml";
import type { CredentialType, LegacyCredential } from "../domain.js";
import { UsageError } from "../errors.js";
import { MAX_MAPPING_FILE_BYTES } from "../limits.js";
import { readLocalFile } from "../localfile.js";
import { writeFileAtomic } from "../report/atomic.js";
import { escapeControl } from "../text.js";

const MAX_APP_NAME = 64;

/**
 * An appName (`^[a-z0-9_]+$`, 1..64) proposed from a friendly name: lower-cased (accents removed), every run of other
 * characters turned into `_`, trimmed; `app_<last 8 of sid>` when nothing is left. When the result is
 * in `taken`, `_2`, `_3`, … is appended. `taken` is not modified.
 */
export function proposeAppName(friendlyName: string | null, sid: string, taken: Set<string>): string {
  let base = (friendlyName ?? "")
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "")
    .slice(0, MAX_APP_NAME)
    .replace(/_+$/, "");
  if (base === "") base = `app_${sid.slice(-8).toLowerCase().replace(/[^a-z0-9]/g, "0")}`;
  if (!taken.has(base)) return base;
  for (let n = 2; ; n++) {
    const suffix = `_${n}`;
    const candidate = `${base.slice(0, MAX_APP_NAME - suffix.length)}${suffix}`;
    if (!taken.has(candidate)) return candidate;
  }
}

/**
 * `init --app-name-template` / `--secrets-template` (SPEC "init over many accounts"), so that 500
 * accounts need no hand edits. `accountName` is the account's friendly name when known.
 */
export interface ScaffoldTemplates {
  appName?: string;
  secrets?: string;
  accountSid: string;
  accountName?: string | null;
}

const APP_NAME_PLACEHOLDERS = ["accountSid", "accountName", "friendlyName", "type"] as const;
const SECRETS_PLACEHOLDERS = ["accountSid", "sid", "part"] as const;

/** A template's unknown placeholders, as a usage error naming the flag. */
export function checkTemplate(flag: string, template: string, allowed: readonly string[]): void {
  for (const m of template.matchAll(/\{([^{}]*)\}/g)) {
    if (!allowed.includes(m[1]!)) throw new UsageError(`${flag}: unknown placeholder {${escapeControl(m[1]!)}} (use ${allowed.map((a) => `{${a}}`).join(", ")})`);
  }
}

export function checkTemplates(t: { appName?: string; secrets?: string }): void {
  if (t.appName !== undefined) checkTemplate("--app-name-template", t.appName, APP_NAME_PLACEHOLDERS);
  if (t.secrets !== undefined) {
    checkTemplate("--secrets-template", t.secrets, SECRETS_PLACEHOLDERS);
    if (!/^(file:.+|env:.+)$/.test(t.secrets)) throw new UsageError("--secrets-template must be a file:<path> or env:<VAR> reference with placeholders, e.g. file:../../secrets/{accountSid}/{sid}.{part}");
  }
}

function fill(template: string, values: Record<string, string>): string {
  return template.replace(/\{([^{}]*)\}/g, (whole, name: string) => values[name] ?? whole);
}

/** The text an appName is made from: the template filled in, or the friendly name. */
function nameSource(c: LegacyCredential, t: ScaffoldTemplates | undefined): string | null {
  if (t?.appName === undefined) return c.friendlyName;
  return fill(t.appName, { accountSid: t.accountSid, accountName: t.accountName ?? "", friendlyName: c.friendlyName ?? "", type: c.type });
}

/** The Comms type a legacy credential maps to (SPEC mapping table); undefined for gcm and unknown types. */
function targetType(c: LegacyCredential): CredentialType | undefined {
  if (c.type === "apn") return c.sandbox === true ? "APN_SANDBOX" : "APN";
  if (c.type === "fcm") return "FCM";
  return undefined;
}

/** Text safe to put in a YAML comment: one line, bounded. */
function commentText(value: string | null): string {
  if (value === null) return "(no friendly name)";
  // Escaped after JSON quoting too: U+2028 or a bidi override must not reach a YAML comment raw.
  const oneLine = value.replace(/[\r\n\t]+/g, " ").trim();
  return escapeControl(JSON.stringify(oneLine.length > 100 ? `${oneLine.slice(0, 99)}…` : oneLine));
}

function legacyDescription(c: LegacyCredential): string {
  if (c.type !== "apn") return `legacy ${escapeControl(c.type)}`;
  // The raw flag is whatever the API sent: a newline in it would start a YAML line of its own.
  const raw = c.sandboxRaw === null ? "unset" : escapeControl(c.sandboxRaw);
  return `legacy apn, sandbox ${raw}`;
}

const HEADER = `# cr2comms mapping file: which legacy Conversations credential (CR…) goes to which Comms App.
#
# How to fill it in:
#   1. Review each appName (^[a-z0-9_]+$, 1..64 characters). Credentials that share an appName land in
#      the same Comms App (e.g. the APN and APN_SANDBOX certificates of one iOS app, or iOS and
#      Android). Comms allows at most 10 Apps per account and 10 credentials per App.
#   2. Provide the secrets: the legacy API never returns certificates, keys or server keys.
#      A secret is a reference, never the secret itself:
#        file:<path>   a file, relative to this mapping file's folder
#        env:<VAR>     an environment variable
#        prompt        ask on the terminal with hidden input (interactive runs only)
#      A literal secret in this file is refused: mapping files are meant to be committed.
#      Keep the secret files themselves out of version control (add their folder to .gitignore).
#      APN: certificate + privateKey (PEM), or p12 (+ passphrase).
#      FCM: serviceAccount, the Firebase service-account JSON (FCM HTTP v1).
#   3. Optional: isDefault: true (at most one per appName and credentialType), credentialType to
#      override the type derived from the legacy sandbox flag (APN / APN_SANDBOX), or skip: true to
#      leave a credential alone. Credentials left out of this file are reported as unmapped.
#      A top-level \`defaultApp: <appName>\` (next to version) chooses the account's default App.
#   4. Run \`cr2comms plan\` and read the report before \`cr2comms apply\`.
#   Later, \`cr2comms init --update\` adds the account's new legacy credentials to this file.
`;

/**
 * The commented YAML mapping `cr2comms init` writes: one entry per apn/fcm credential with a
 * proposed appName and secret placeholders; gcm and unknown types as comments only.
 * The result loads with `loadMapping`.
 */
export function renderScaffold(legacy: LegacyCredential[], opts: { generatedAt: string; accountSid: string; templates?: ScaffoldTemplates }): string {
  const lines: string[] = [HEADER.trimEnd()];
  lines.push(`#`, `# Generated ${opts.generatedAt} for account ${opts.accountSid} from ${legacy.length} legacy credential(s).`, ``);
  lines.push(`version: 1`);

  // Names collide only within one target type: different types may share an App.
  const takenByType = new Map<CredentialType, Set<string>>();
  const entries: string[][] = [];
  const notes: string[][] = [];
  for (const c of legacy) {
    const type = targetType(c);
    if (type === undefined) {
      notes.push(noteLines(c).map((l) => `  # ${l}`));
      continue;
    }
    const taken = takenByType.get(type) ?? new Set<string>();
    takenByType.set(type, taken);
    const appName = proposeAppName(nameSource(c, opts.templates), c.sid, taken);
    taken.add(appName);
    const parts = entryParts(c, type, appName, opts.templates);
    const entry = [`  # ${parts.comment}`, ...parts.body.map((l) => `  ${l}`)];
    entries.push(entry);
  }

  if (entries.length === 0) {
    lines.push(`credentials: []`);
    if (notes.length > 0) {
      lines.push(`# Not migrated:`);
      for (const note of notes) for (const l of note) lines.push(l.slice(2));
    }
  } else {
    lines.push(`credentials:`);
    for (const entry of entries) {
      for (const l of entry) lines.push(l);
      lines.push(``);
    }
    if (notes.length > 0) {
      lines.push(`  # Not migrated:`);
      for (const note of notes) for (const l of note) lines.push(l);
    }
  }
  return `${lines.join("\n").trimEnd()}\n`;
}

/** The comment lines (without `# `) for a credential that gets no entry: gcm, or a type cr2comms does not know. */
function noteLines(c: LegacyCredential): string[] {
  return c.type === "gcm"
    ? [
        `${c.sid} ${commentText(c.friendlyName)} (legacy gcm): will be dropped, with a warning.`,
        `  Comms has no GCM type and Google shut GCM down in 2019; nothing to fill in.`,
      ]
    : [
        `${c.sid} ${commentText(c.friendlyName)}: unknown legacy type ${commentText(c.type)}.`,
        `  cr2comms does not know how to migrate it; it will be reported as not migrated.`,
      ];
}

/** One entry as `init` writes it: the comment above it (without `# `) and its lines, indented from the `- `. */
function entryParts(c: LegacyCredential, type: CredentialType, appName: string, templates?: ScaffoldTemplates): { comment: string; body: string[] } {
  const file = `secrets/${appName}-${c.sid.slice(-8).toLowerCase()}`;
  const body = [`- sid: ${c.sid}`, `  appName: ${appName}`, `  secrets:`];
  const t = templates?.secrets;
  if (t !== undefined) {
    const ref = (part: string) => JSON.stringify(fill(t, { accountSid: templates!.accountSid, sid: c.sid, part }));
    if (type === "FCM") body.push(`    serviceAccount: ${ref("serviceAccount")}`);
    else body.push(`    certificate: ${ref("certificate")}`, `    privateKey: ${ref("privateKey")}`);
  } else if (type === "FCM") {
    body.push(
      `    # The legacy FCM server key cannot be used by Comms: it needs the Firebase`,
      `    # service-account JSON (Firebase console > Project settings > Service accounts).`,
      `    serviceAccount: file:${file}-service-account.json`,
    );
  } else {
    body.push(
      `    certificate: file:${file}.cert.pem`,
      `    privateKey: file:${file}.key.pem`,
      `    # or, instead of certificate + privateKey, a PKCS#12 bundle:`,
      `    # p12: file:${file}.p12`,
      `    # passphrase: env:${appName.toUpperCase()}_P12_PASSPHRASE`,
    );
  }
  return { comment: `${commentText(c.friendlyName)}: ${legacyDescription(c)} -> Comms ${type}`, body };
}

/**
 * Writes a scaffold to `path`, creating parent folders. Refuses (UsageError) to replace an existing
 * file unless `force`; the write is atomic (temporary file, then rename).
 */
export async function writeScaffold(path: string, text: string, opts: { force: boolean }): Promise<void> {
  try {
    await mkdir(dirname(path), { recursive: true });
    await writeFileAtomic(path, text, { overwrite: opts.force });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST") {
      throw new UsageError(`${path} already exists; not overwriting it (use --force to replace it)`, { cause: err });
    }
    throw new UsageError(`cannot write ${path}: ${code ?? String(err)}`, { cause: err });
  }
}

/** What `init --update` did to a mapping file. */
export interface ScaffoldUpdate {
  /** The new file text (the old one when nothing was added). */
  text: string;
  /** Legacy credentials that got a new entry. */
  added: LegacyCredential[];
  /** New gcm (and unknown-type) credentials, written as comments only (YAML) or not at all (JSON). */
  noted: LegacyCredential[];
}

/**
 * `init --update`: adds an entry (as `init` writes it) for every apn/fcm legacy credential that the
 * mapping does not mention yet, and a comment for every new gcm one, keeping everything the user
 * wrote — entries, secrets, comments, order — through the `yaml` Document API. A credential counts
 * as mentioned when its sid appears anywhere in the file (an entry, or a comment such as `init`'s
 * gcm notes). Proposed appNames avoid the names the file already uses. JSON files get entries only.
 */
export function updateScaffold(text: string, legacy: LegacyCredential[], opts: { generatedAt: string; path: string; templates?: ScaffoldTemplates }): ScaffoldUpdate {
  const lower = text.toLowerCase();
  const fresh = legacy.filter((c) => !lower.includes(c.sid.toLowerCase()));
  const json = extname(opts.path).toLowerCase() === ".json";
  if (fresh.length === 0) return { text, added: [], noted: [] };
  return json ? updateJson(text, legacy, fresh, opts.path, opts.templates) : updateYaml(text, legacy, fresh, opts);
}

/** appNames already used in the file, by the type their legacy credential maps to (all types when unknown). */
function takenNames(entries: { sid?: unknown; appName?: unknown }[], legacy: LegacyCredential[]): Map<CredentialType, Set<string>> {
  const typeOf = new Map(legacy.map((c) => [c.sid.toLowerCase(), targetType(c)]));
  const taken = new Map<CredentialType, Set<string>>([
    ["APN", new Set()],
    ["APN_SANDBOX", new Set()],
    ["FCM", new Set()],
  ]);
  for (const e of entries) {
    if (typeof e.appName !== "string") continue;
    const type = typeof e.sid === "string" ? typeOf.get(e.sid.toLowerCase()) : undefined;
    for (const [t, names] of taken) if (type === undefined || type === t) names.add(e.appName);
  }
  return taken;
}

function updateYaml(text: string, legacy: LegacyCredential[], fresh: LegacyCredential[], opts: { generatedAt: string; path: string; templates?: ScaffoldTemplates }): ScaffoldUpdate {
  const lineCounter = new LineCounter();
  // prettyErrors would quote the source, which may hold a pasted secret.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const err = doc.errors[0];
  if (err) {
    const { line, col } = lineCounter.linePos(err.pos[0]);
    throw new UsageError(`${escapeControl(opts.path)}:${line}:${col}: YAML syntax error; fix it before init --update`);
  }
  if (!isMap(doc.contents)) throw new UsageError(`${escapeControl(opts.path)} is not a mapping file (expected a map with version and credentials)`);
  const root = doc.contents as YAMLMap;
  let seq = root.get("credentials", true) as unknown;
  if (seq === undefined || (isScalar(seq) && seq.value === null)) {
    seq = doc.createNode([]);
    root.set("credentials", seq);
  }
  if (!isSeq(seq)) throw new UsageError(`${escapeControl(opts.path)}: credentials is not a list; fix it before init --update`);
  const list = seq as YAMLSeq;
  const existing = list.items.map((item) => (isMap(item) ? { sid: item.get("sid"), appName: item.get("appName") } : {}));
  const taken = takenNames(existing, legacy);

  const added: LegacyCredential[] = [];
  const noted: LegacyCredential[] = [];
  const entries: { comment: string; body: string[] }[] = [];
  const notes: string[] = [];
  for (const c of fresh) {
    const type = targetType(c);
    if (type === undefined) {
      noted.push(c);
      notes.push(...noteLines(c));
      continue;
    }
    const names = taken.get(type)!;
    const appName = proposeAppName(nameSource(c, opts.templates), c.sid, names);
    names.add(appName);
    entries.push(entryParts(c, type, appName, opts.templates));
    added.push(c);
  }
  const header = ` Added by cr2comms init --update on ${opts.generatedAt}:`;
  const notesHeader = " Not migrated (added by cr2comms init --update):";
  const spliced = spliceIntoSeq(text, list, lineCounter, entries, header, notes.length ? [notesHeader, ...notes.map((l) => ` ${l}`)] : []);
  if (spliced !== undefined && parsesWith(spliced, existing.length + entries.length)) return { text: spliced, added, noted };

  // An empty or flow-style list: the Document API writes it (comments and order are kept, spacing may change).
  entries.forEach((parts, i) => {
    const node = (parseDocument(parts.body.join("\n")).contents as YAMLSeq).items[0] as YAMLMap;
    node.commentBefore = [...(i === 0 ? [header] : []), ` ${parts.comment}`].join("\n");
    node.spaceBefore = true;
    list.items.push(node);
  });
  if (entries.length > 0) list.flow = false;
  if (notes.length > 0) {
    const lines = [notesHeader, ...notes.map((l) => ` ${l}`)].join("\n");
    if (list.items.length > 0) list.comment = list.comment ? `${list.comment}\n${lines}` : lines;
    else doc.comment = doc.comment ? `${doc.comment}\n${lines}` : lines;
  }
  return { text: doc.toString({ lineWidth: 0 }), added, noted };
}

/**
 * The file's own text with the new entries inserted after the last item of a block-style
 * `credentials` list (before the comments that trail it) and the notes after those comments: every
 * byte the user wrote stays as it was. Undefined when the list is empty or flow-style.
 */
function spliceIntoSeq(
  text: string,
  list: YAMLSeq,
  lineCounter: LineCounter,
  entries: { comment: string; body: string[] }[],
  header: string,
  notes: string[],
): string | undefined {
  const range = list.range;
  if (list.flow || list.items.length === 0 || !range) return undefined;
  const { line } = lineCounter.linePos(range[0]);
  const lineStart = lineCounter.lineStarts[line - 1] ?? 0;
  const indent = " ".repeat(/^ */.exec(text.slice(lineStart))?.[0].length ?? 0);
  // The file's own line ends (a Windows-edited file keeps CRLF).
  const eol = text.includes("\r\n") ? "\r\n" : "\n";
  const startOfLine = (pos: number): string => (pos > 0 && text[pos - 1] !== "\n" ? eol : "");
  let block = "";
  if (entries.length > 0) {
    const before = text.slice(0, range[1]);
    block += startOfLine(range[1]) + (/\n[ \t]*\r?\n$/.test(before) ? "" : eol);
    block += entries
      .map((e, i) => [...(i === 0 ? [`#${header}`] : []), `# ${e.comment}`, ...e.body].map((l) => `${indent}${l}`).join(eol))
      .join(eol + eol);
    block += eol;
    // A blank line before what follows, unless it starts with one.
    if (range[1] < text.length && !/^[ \t]*\r?\n/.test(text.slice(range[1]))) block += eol;
  }
  const notesText = notes.length ? notes.map((l) => `${indent}#${l}`).join(eol) + eol : "";
  if (range[2] === range[1]) return text.slice(0, range[1]) + block + notesText + text.slice(range[1]);
  return text.slice(0, range[1]) + block + text.slice(range[1], range[2]) + startOfLine(range[2]) + notesText + text.slice(range[2]);
}

/** The spliced text still parses, with the expected number of entries. */
function parsesWith(text: string, count: number): boolean {
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) return false;
  const list = doc.get("credentials", true);
  return isSeq(list) && list.items.length === count;
}

function updateJson(text: string, legacy: LegacyCredential[], fresh: LegacyCredential[], path: string, templates?: ScaffoldTemplates): ScaffoldUpdate {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new UsageError(`${escapeControl(path)}: JSON syntax error; fix it before init --update`);
  }
  const root = data as { credentials?: unknown };
  if (!root || typeof root !== "object" || Array.isArray(root)) throw new UsageError(`${escapeControl(path)} is not a mapping file (expected an object with version and credentials)`);
  root.credentials ??= [];
  if (!Array.isArray(root.credentials)) throw new UsageError(`${escapeControl(path)}: credentials is not a list; fix it before init --update`);
  const list = root.credentials as { sid?: unknown; appName?: unknown }[];
  const taken = takenNames(list, legacy);
  const added: LegacyCredential[] = [];
  const noted: LegacyCredential[] = [];
  for (const c of fresh) {
    const type = targetType(c);
    if (type === undefined) {
      noted.push(c);
      continue;
    }
    const names = taken.get(type)!;
    const appName = proposeAppName(nameSource(c, templates), c.sid, names);
    names.add(appName);
    list.push((parseDocument(entryParts(c, type, appName, templates).body.join("\n")).toJS() as Record<string, unknown>[])[0]!);
    added.push(c);
  }
  if (added.length === 0) return { text, added, noted };
  const indent = /^( +)"/m.exec(text)?.[1]?.length ?? 2;
  return { text: `${JSON.stringify(root, null, indent)}\n`, added, noted };
}

/** Reads the mapping file `init --update` edits; a UsageError when it is missing or unreadable. */
export function readMappingForUpdate(path: string): string {
  const read = readLocalFile(path, MAX_MAPPING_FILE_BYTES);
  if (read.ok) return read.data.toString("utf8");
  if (read.code === "unreadable" && read.reason === "not found") {
    throw new UsageError(`${escapeControl(path)} does not exist: run cr2comms init (without --update) to create it`);
  }
  throw new UsageError(`cannot update mapping file ${escapeControl(path)}: ${read.reason}`);
}
