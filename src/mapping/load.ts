import { extname, relative, resolve } from "node:path";
import { LineCounter, parseDocument } from "yaml";
import { z } from "zod";
import { CREDENTIAL_TYPES, LEGACY_SID_PATTERN } from "../domain.js";
import { UsageError } from "../errors.js";
import { MAX_MAPPING_FILE_BYTES } from "../limits.js";
import { readLocalFile } from "../localfile.js";
import { editDistance, escapeControl } from "../text.js";
import type { Mapping, MappingEntry } from "./types.js";

/** Where commands look for the mapping without --mapping or CR2COMMS_MAPPING. */
export const DEFAULT_MAPPING_PATH = "mappings/migration.yaml";

/** A path as one shell word, quoted only when it needs to be. */
function shellWord(text: string): string {
  return /^[\w./:@%+,=-]+$/.test(text) ? text : `'${text.replaceAll("'", "'\\''")}'`;
}

/** The only mapping file version this build reads. */
export const MAPPING_VERSION = 1;

const SECRET_KEYS = ["certificate", "privateKey", "p12", "passphrase", "serviceAccount"] as const;
const ENTRY_KEYS = ["sid", "appName", "isDefault", "credentialType", "skip", "secrets"] as const;

const secretsSchema = z.strictObject({
  certificate: z.string().optional(),
  privateKey: z.string().optional(),
  p12: z.string().optional(),
  passphrase: z.string().optional(),
  serviceAccount: z.string().optional(),
});

const entrySchema = z.strictObject({
  sid: z.string().regex(LEGACY_SID_PATTERN),
  appName: z.string().min(1).max(64).regex(/^[a-z0-9_]+$/).optional(),
  isDefault: z.boolean().optional(),
  credentialType: z.enum(["APN", "APN_SANDBOX", "FCM"]).optional(),
  skip: z.boolean().optional(),
  secrets: secretsSchema.optional(),
});

const fileSchema = z.strictObject({
  version: z.literal(MAPPING_VERSION),
  defaultApp: z.string().min(1).max(64).regex(/^[a-z0-9_]+$/).optional(),
  credentials: z.array(entrySchema),
});

const TOP_LEVEL_KEYS = ["version", "defaultApp", "credentials"] as const;

/**
 * Reads and validates a mapping file (`.yaml`, `.yml` or `.json`).
 * Throws `UsageError` (exit 64) listing every problem, one per line, by entry sid and number (`entry #1` is the first)
 * and field. Secret references are kept as written: the secrets module checks their syntax.
 */
export function loadMapping(path: string, cwd: string = process.cwd()): Mapping {
  const absolute = resolve(cwd, path);
  const displayPath = displayMappingPath(absolute, cwd);
  const shown = escapeControl(path);
  const ext = extname(absolute).toLowerCase();
  if (ext !== ".yaml" && ext !== ".yml" && ext !== ".json") {
    throw new UsageError(`mapping file ${shown}: unsupported extension "${escapeControl(ext)}" (use .yaml, .yml or .json)`);
  }
  const read = readLocalFile(absolute, MAX_MAPPING_FILE_BYTES);
  if (!read.ok) {
    if (read.code === "unreadable") {
      if (read.reason !== "not found") throw new UsageError(`cannot read mapping file ${shown}: ${read.reason}`);
      const init = absolute === resolve(cwd, DEFAULT_MAPPING_PATH) ? "cr2comms init" : `cr2comms init --mapping ${shellWord(shown)}`;
      throw new UsageError(`cannot read mapping file ${shown}: no such file (write one from the account's credentials with \`${init}\`, then edit it)`);
    }
    const hint = read.code === "too-large" ? " (a mapping file is a few KiB: is this the right file?)" : "";
    throw new UsageError(`mapping file ${shown} is ${read.reason}${hint}`);
  }
  const text = read.data.toString("utf8");
  const raw = ext === ".json" ? parseJson(path, text) : parseYaml(path, text);
  const problems = validate(raw);
  if (problems.length > 0) {
    const header =
      problems.length === 1 ? `invalid mapping file ${shown}:` : `invalid mapping file ${shown} (${problems.length} problems):`;
    throw new UsageError([header, ...problems.map((p) => `  - ${p}`)].join("\n"));
  }
  const parsed = fileSchema.parse(raw);
  const credentials: MappingEntry[] = parsed.credentials.map((e, index) => {
    const entry: MappingEntry = { sid: e.sid, index };
    if (e.appName !== undefined) entry.appName = e.appName;
    if (e.isDefault !== undefined) entry.isDefault = e.isDefault;
    if (e.credentialType !== undefined) entry.credentialType = e.credentialType;
    if (e.skip !== undefined) entry.skip = e.skip;
    if (e.secrets !== undefined) {
      entry.secrets = {};
      for (const key of SECRET_KEYS) {
        const value = e.secrets[key];
        if (value !== undefined) entry.secrets[key] = value;
      }
    }
    return entry;
  });
  return { version: 1, ...(parsed.defaultApp !== undefined ? { defaultApp: parsed.defaultApp } : {}), credentials, path: absolute, displayPath };
}

/** The path as reports show it: relative to `cwd` when inside it, so no local home folder leaks into a shared report. */
export function displayMappingPath(absolute: string, cwd: string): string {
  const rel = relative(cwd, absolute);
  return rel === "" || rel.startsWith("..") || resolve(cwd, rel) !== absolute || /^[A-Za-z]:/.test(rel) ? absolute : rel;
}

function parseYaml(path: string, text: string): unknown {
  const lineCounter = new LineCounter();
  // prettyErrors would append a source excerpt, which may hold a pasted secret.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const err = doc.errors[0];
  if (err) {
    const { line, col } = lineCounter.linePos(err.pos[0]);
    throw new UsageError(`${escapeControl(path)}:${line}:${col}: YAML syntax error: ${firstLine(err.message)}`);
  }
  return doc.toJS({ maxAliasCount: 100 });
}

function parseJson(path: string, text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (jsonErr) {
    // V8's message quotes the source text; report only a position, found by the YAML parser
    // (JSON is YAML) or, failing that, from V8's "at position N".
    const lineCounter = new LineCounter();
    const doc = parseDocument(text, { lineCounter, prettyErrors: false });
    const yamlErr = doc.errors[0];
    if (yamlErr) {
      const { line, col } = lineCounter.linePos(yamlErr.pos[0]);
      throw new UsageError(`${escapeControl(path)}:${line}:${col}: JSON syntax error`);
    }
    const at = /at position (\d+)/.exec(String((jsonErr as Error).message))?.[1];
    if (at !== undefined) {
      const { line, col } = lineCounter.linePos(Number(at));
      throw new UsageError(`${escapeControl(path)}:${line}:${col}: JSON syntax error`);
    }
    throw new UsageError(`${escapeControl(path)}: JSON syntax error`);
  }
}

function firstLine(message: string): string {
  return (message.split("\n")[0] ?? message).replace(/ at line \d+, column \d+:?$/, "").trim();
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** All problems with a parsed file, in human words; empty when valid. */
function validate(raw: unknown): string[] {
  if (raw === null || raw === undefined) return ["the file is empty (expected `version: 1` and a `credentials` list)"];
  if (!isRecord(raw)) return ["expected a map with `version: 1` and a `credentials` list at the top level"];
  if (!("version" in raw)) return ["missing `version: 1` at the top level"];
  if (raw.version !== MAPPING_VERSION) {
    if (raw.version === String(MAPPING_VERSION)) {
      return [`version must be the number ${MAPPING_VERSION}, not the text "${MAPPING_VERSION}" (write \`version: ${MAPPING_VERSION}\`, without quotes)`];
    }
    const shown = typeof raw.version === "number" ? String(raw.version) : JSON.stringify(raw.version) ?? "?";
    return [`unsupported mapping version ${escapeControl(shown.slice(0, 40))}, this cr2comms reads version ${MAPPING_VERSION}`];
  }
  // `order` keeps the output in file order: top-level problems first, then entry by entry.
  const problems: { order: number; text: string }[] = [];
  const result = fileSchema.safeParse(raw);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const order = issue.path[0] === "credentials" && typeof issue.path[1] === "number" ? issue.path[1] : -1;
      for (const text of describeIssue(raw, issue)) problems.push({ order, text });
    }
  }
  // A missing appName is not a file error: the planner blocks that one credential (and a gcm entry
  // needs none, since it is dropped anyway), so the other credentials are still planned.
  return problems.sort((a, b) => a.order - b.order).map((p) => p.text);
}

type Issue = z.core.$ZodIssue;

function entryLabel(raw: Record<string, unknown>, index: number): string {
  const entry = Array.isArray(raw.credentials) ? (raw.credentials[index] as unknown) : undefined;
  const sid = isRecord(entry) ? entry.sid : undefined;
  // Numbered from 1, as a person counts entries in the file.
  return typeof sid === "string" && LEGACY_SID_PATTERN.test(sid) ? `${sid} (entry #${index + 1})` : `entry #${index + 1}`;
}

/** Key names are shown only when they look like key names (a mangled paste could put secret text in a key). */
function showKey(key: string): string {
  return /^[A-Za-z0-9_.-]{1,40}$/.test(key) ? `"${key}"` : "(a key that is not a plain name)";
}

function suggest(key: string, known: readonly string[]): string {
  const lower = key.toLowerCase().replace(/[-_]/g, "");
  const hit = known.find((k) => k.toLowerCase() === lower || editDistance(k.toLowerCase(), lower) <= 2);
  return hit ? ` (did you mean "${hit}"?)` : ` (allowed: ${known.join(", ")})`;
}

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a map";
  return `a ${typeof value}`;
}

function describeIssue(raw: Record<string, unknown>, issue: Issue): string[] {
  return [describeOne(raw, issue)].flat();
}

/** One zod issue in human words; never the value of a secret. */
function describeOne(raw: Record<string, unknown>, issue: Issue): string | string[] {
  const path = issue.path;
  // Top level.
  if (path.length === 0) {
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((k) => `unknown top-level key ${showKey(k)}${suggest(k, TOP_LEVEL_KEYS)}`);
    }
    return "expected a map with `version: 1` and a `credentials` list";
  }
  if (path[0] === "defaultApp") {
    const value = raw.defaultApp;
    return typeof value === "string"
      ? `defaultApp "${escapeControl(value.slice(0, 80))}" must be 1..64 characters of a-z, 0-9 and _`
      : `defaultApp must be an appName (1..64 characters of a-z, 0-9 and _), not ${typeName(value)}`;
  }
  if (path[0] === "credentials" && path.length === 1) {
    return raw.credentials === undefined
      ? "missing the `credentials` list"
      : `credentials must be a list of entries, not ${typeName(raw.credentials)}`;
  }
  if (path[0] !== "credentials" || typeof path[1] !== "number") return `${path.join(".")}: invalid value`;
  const label = entryLabel(raw, path[1]);
  const entry = (raw.credentials as unknown[])[path[1]];
  const rest = path.slice(2).map(String);
  if (rest.length === 0) {
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((k) => `${label}: unknown key ${showKey(k)}${suggest(k, ENTRY_KEYS)}`);
    }
    return `${label}: expected a map with sid, appName, secrets…, not ${typeName(entry)}`;
  }
  const field = rest[0]!;
  const value = isRecord(entry) ? entry[field] : undefined;
  switch (field) {
    case "sid":
      if (value === undefined) return `${label}: sid is required`;
      return typeof value === "string"
        ? `${label}: sid "${escapeControl(value.slice(0, 40))}" is not a legacy credential sid (CR followed by 32 hex digits)`
        : `${label}: sid must be a string (CR followed by 32 hex digits), not ${typeName(value)}`;
    case "appName":
      return typeof value === "string"
        ? `${label}: appName "${escapeControl(value.slice(0, 80))}" must be 1..64 characters of a-z, 0-9 and _`
        : `${label}: appName must be a string of 1..64 characters of a-z, 0-9 and _, not ${typeName(value)}`;
    case "isDefault":
    case "skip":
      return `${label}: ${field} must be true or false, not ${typeName(value)}`;
    case "credentialType":
      return `${label}: credentialType must be one of ${CREDENTIAL_TYPES.join(", ")}`;
    case "secrets": {
      if (rest.length === 1) {
        if (issue.code === "unrecognized_keys") {
          return issue.keys.map((k) => `${label}: secrets: unknown key ${showKey(k)}${suggest(k, SECRET_KEYS)}`);
        }
        return `${label}: secrets must be a map of secret references (${SECRET_KEYS.join(", ")}), not ${typeName(value)}`;
      }
      const key = rest[1]!;
      const secretValue = isRecord(value) ? value[key] : undefined;
      // Never echo the value: it may be a literal secret.
      return `${label}: secrets.${key} must be a reference string (file:<path>, env:<VAR> or prompt), not ${typeName(secretValue)}`;
    }
    default:
      return `${label}: ${field}: invalid value`;
  }
}
