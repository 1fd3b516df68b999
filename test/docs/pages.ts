/** The user-facing Markdown pages and what the doc tests read from them. */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../e2e/harness.js";

/** README.md and every Markdown page under docs/. */
export function userDocs(): string[] {
  const docs = join(ROOT, "docs");
  const pages = existsSync(docs) ? readdirSync(docs).filter((n) => n.endsWith(".md")).map((n) => join(docs, n)) : [];
  return [join(ROOT, "README.md"), ...pages];
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes. */
export function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[`*_]/g, "")
    .replace(/[^\p{L}\p{N} -]/gu, "")
    .replace(/ /g, "-");
}

export function anchors(markdown: string): Set<string> {
  const out = new Set<string>();
  let inFence = false;
  for (const line of markdown.split("\n")) {
    if (/^```/.test(line)) inFence = !inFence;
    const m = !inFence && /^#{1,6} (.+)$/.exec(line);
    if (m) out.add(anchorOf(m[1]!));
  }
  return out;
}

/** Markdown links `[text](target)` outside code, with their line numbers. */
export function links(markdown: string): { target: string; line: number }[] {
  const out: { target: string; line: number }[] = [];
  let inFence = false;
  markdown.split("\n").forEach((line, i) => {
    if (/^```/.test(line)) inFence = !inFence;
    if (inFence || /^ {4}/.test(line)) return;
    const prose = line.replace(/`[^`]*`/g, "");
    for (const m of prose.matchAll(/\]\(([^)\s]+)\)/g)) out.push({ target: m[1]!, line: i + 1 });
  });
  return out;
}

