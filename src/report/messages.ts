import { escapeControl } from "../text.js";

interface MessageSource {
  problems: readonly string[];
  warnings: readonly string[];
  items: readonly { legacySid: string; problems: readonly string[]; warnings: readonly string[] }[];
}

/**
 * The messages of a plan or applied result as terminal lines: one message per line, general ones
 * first, each item's prefixed by its sid once (item messages do not carry it; one that starts with
 * it, from an older plan file, is not prefixed again), escaped for the terminal.
 */
export function messageLines(source: MessageSource): { problems: string[]; warnings: string[] } {
  const problems: string[] = [];
  const warnings: string[] = [];
  for (const p of source.problems) problems.push(escapeControl(p));
  for (const w of source.warnings) warnings.push(escapeControl(w));
  for (const item of source.items) {
    const line = (m: string): string => escapeControl(m.startsWith(item.legacySid) ? m : `${item.legacySid}: ${m}`);
    for (const p of item.problems) problems.push(line(p));
    for (const w of item.warnings) warnings.push(line(w));
  }
  return { problems, warnings };
}
