import { mkdir, unlink } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "./atomic.js";

/** `yyyymmddThhmmssZ` in UTC, as used in report file names. */
export function reportStamp(now: Date): string {
  return now.toISOString().replace(/\.\d{3}Z$/, "Z").replace(/[-:]/g, "");
}

const MAX_SUFFIX = 1000;

/**
 * Writes `<dir>/<kind>-<UTC stamp>.json` and `.md` (creating `dir`), each atomically. Never
 * overwrites: when either name is taken, `-2`, `-3`, … is added to both. Returns the paths written.
 */
export async function writeReport(
  dir: string,
  kind: "plan" | "apply" | "rollback" | "status",
  json: unknown,
  /** The Markdown text, or its pieces (called once per name tried). */
  markdown: string | (() => Iterable<string>),
  now: Date,
): Promise<{ jsonPath: string; markdownPath: string }> {
  await mkdir(dir, { recursive: true });
  const base = `${kind}-${reportStamp(now)}`;
  // In pieces: a 10,000-credential report is never held as one string.
  const jsonText = () => jsonPieces(json);
  for (let n = 1; n <= MAX_SUFFIX; n++) {
    const name = n === 1 ? base : `${base}-${n}`;
    const jsonPath = join(dir, `${name}.json`);
    const markdownPath = join(dir, `${name}.md`);
    if (!(await claim(jsonPath, jsonText))) continue;
    if (!(await claim(markdownPath, markdown))) {
      // The pair must share a name: give this one back and move on.
      await unlink(jsonPath);
      continue;
    }
    return { jsonPath, markdownPath };
  }
  throw new Error(`could not find a free report name for ${base} in ${dir}`);
}

/** Writes `path` unless it exists; false when it does. */
async function claim(path: string, text: string | (() => Iterable<string>)): Promise<boolean> {
  try {
    await writeFileAtomic(path, text, { overwrite: false });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  }
}

/** Pieces are gathered up to about this many characters before each write. */
const PIECE_CHARS = 64 * 1024;

/**
 * `JSON.stringify(value, null, 2) + "\n"`, character for character, in pieces of about
 * `PIECE_CHARS`: a top-level array, or an array directly under a top-level key (a report's
 * `items`), is written one element at a time.
 */
export function* jsonPieces(value: unknown): Generator<string> {
  let buffer = "";
  for (const part of jsonParts(value)) {
    buffer += part;
    if (buffer.length >= PIECE_CHARS) {
      yield buffer;
      buffer = "";
    }
  }
  yield `${buffer}\n`;
}

function* jsonParts(value: unknown): Generator<string> {
  if (Array.isArray(value)) {
    yield* arrayParts(value, "");
    return;
  }
  if (!isPlainObject(value)) {
    yield JSON.stringify(value, null, 2) ?? "undefined";
    return;
  }
  const entries = Object.entries(value).filter(([, v]) => JSON.stringify(v) !== undefined);
  if (entries.length === 0) {
    yield "{}";
    return;
  }
  yield "{\n";
  for (const [i, [key, v]] of entries.entries()) {
    yield `  ${JSON.stringify(key)}: `;
    if (Array.isArray(v)) yield* arrayParts(v, "  ");
    else yield nest(JSON.stringify(v, null, 2)!, "  ");
    yield i < entries.length - 1 ? ",\n" : "\n";
  }
  yield "}";
}

function* arrayParts(array: readonly unknown[], indent: string): Generator<string> {
  if (array.length === 0) {
    yield "[]";
    return;
  }
  yield "[\n";
  for (let i = 0; i < array.length; i++) {
    yield `${indent}  ${nest(JSON.stringify(array[i], null, 2) ?? "null", `${indent}  `)}${i < array.length - 1 ? "," : ""}\n`;
  }
  yield `${indent}]`;
}

function nest(text: string, indent: string): string {
  return indent === "" ? text : text.replace(/\n/g, `\n${indent}`);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && typeof (value as { toJSON?: unknown }).toJSON !== "function";
}
