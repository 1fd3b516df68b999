/**
 * The README a newcomer reads stays true: every message it and docs/troubleshooting.md quote is
 * still in the code, and its options table lists only options every command (but `emulator`)
 * takes.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../e2e/harness.js";

const readme = readFileSync(join(ROOT, "README.md"), "utf8");

function section(title: string): string {
  const start = readme.indexOf(`## ${title}`);
  expect(start, `README has a "## ${title}" section`).toBeGreaterThanOrEqual(0);
  const next = readme.indexOf("\n## ", start + 3);
  return readme.slice(start, next < 0 ? undefined : next);
}

function sources(dir: string): string {
  let all = "";
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) all += sources(path);
    else if (name.endsWith(".ts")) all += readFileSync(path, "utf8");
  }
  return all;
}

describe("README", () => {
  it("every message the troubleshooting pages quote exists in the code", () => {
    // Template literals escape their backticks in the source.
    const code = sources(join(ROOT, "src")).replace(/\\`/g, "`");
    // Bold code spans: **`text`** or **`` text ``**; "…" separates quoted pieces of one message.
    const quoted = (text: string) => [...text.matchAll(/\*\*(`+) ?(.+?) ?\1\*\*/g)].map((m) => m[2]!);
    const inReadme = quoted(section("Troubleshooting"));
    const quotes = [...inReadme, ...quoted(readFileSync(join(ROOT, "docs", "troubleshooting.md"), "utf8"))];
    for (const q of quotes) expect(q.length, `"${q}" is too short to mean anything`).toBeGreaterThanOrEqual(12);
    expect(inReadme.length).toBeGreaterThanOrEqual(3);
    expect(quotes.length).toBeGreaterThan(10);
    const missing = quotes.filter((q) => q !== "accepted-unconfirmed" && !code.includes(q));
    expect(missing).toEqual([]);
  });

  it("the options table lists exactly the global options", () => {
    const table = section("Commands").split("Options every command")[1] ?? "";
    const flags = [...table.matchAll(/^\| `(--[a-z-]+)`(?: \/ `(--[a-z-]+)`)? \|/gm)].flatMap((m) => [m[1], m[2]].filter(Boolean)).map((f) => f!.slice(2));
    expect(flags.length).toBeGreaterThan(10);
    // The entry point runs on import, so its option table is read as text.
    const cli = readFileSync(join(ROOT, "src", "cli.ts"), "utf8");
    const block = cli.slice(cli.indexOf("export const GLOBAL_OPTIONS"), cli.indexOf("\n};", cli.indexOf("export const GLOBAL_OPTIONS")));
    const globals = [...block.matchAll(/^  (?:"([a-z-]+)"|([a-z]+)):/gm)].map((m) => m[1] ?? m[2]!);
    expect(globals.length).toBeGreaterThan(10);
    expect([...flags].sort()).toEqual([...globals].sort());
  });
});
