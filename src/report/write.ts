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
  kind: "plan" | "apply" | "rollback",
  json: unknown,
  markdown: string,
  now: Date,
): Promise<{ jsonPath: string; markdownPath: string }> {
  await mkdir(dir, { recursive: true });
  const base = `${kind}-${reportStamp(now)}`;
  const jsonText = `${JSON.stringify(json, null, 2)}\n`;
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
async function claim(path: string, text: string): Promise<boolean> {
  try {
    await writeFileAtomic(path, text, { overwrite: false });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  }
}
