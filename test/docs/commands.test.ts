/**
 * Every `cr2comms …` command the README and docs/ show in a code block parses: an unknown flag, a
 * flag without its value, or an unknown command fails this test. Nothing is run.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { usageErrorOf } from "../../src/cli.js";
import { userDocs } from "./pages.js";

/** Shell words of one command line: quotes kept together, `\`-continued lines joined. */
function words(line: string): string[] {
  const out: string[] = [];
  for (const m of line.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)) out.push(m[1] ?? m[2] ?? m[3]!);
  return out;
}

/** The cr2comms command lines in a page's code (fenced or indented), without comments and pipes. */
export function commandsIn(markdown: string): string[][] {
  const code: string[] = [];
  let fence = false;
  for (const line of markdown.split("\n")) {
    if (/^\s*```/.test(line)) {
      fence = !fence;
      continue;
    }
    if (fence || /^ {4}/.test(line)) code.push(line);
  }
  const joined = code.join("\n").replace(/\\\n\s*/g, " ");
  const commands: string[][] = [];
  for (const raw of joined.split("\n")) {
    // Each command of `a && b`, `a; b`, `a || b`, and what a `$ ` prompt or `npx`/`node dist/cli.js` runs.
    for (const part of raw.replace(/\s#\s.*$/, "").split(/&&|\|\||;|\|/)) {
      const all = words(part.trim());
      const redirect = all.findIndex((x) => /^\d?>>?/.test(x) || x === "<");
      const w = redirect < 0 ? all : all.slice(0, redirect);
      const at = w.findIndex((x, i) => x === "cr2comms" && (i === 0 || ["npx", "$"].includes(w[i - 1]!)));
      const node = w.findIndex((x, i) => x === "dist/cli.js" && w[i - 1] === "node");
      const start = at >= 0 ? at + 1 : node >= 0 ? node + 1 : -1;
      if (start > 0 && w[start] && !w[start]!.startsWith("<")) commands.push(w.slice(start));
    }
  }
  return commands;
}

describe("commands shown in the docs", () => {
  const pages = userDocs().map((path) => ({ path, commands: commandsIn(readFileSync(path, "utf8")) }));

  it("are found (the README alone shows more than twenty)", () => {
    expect(pages[0]!.commands.length).toBeGreaterThan(20);
  });

  it("every one parses: no unknown flag, no flag without its value, no unknown command", async () => {
    const bad: string[] = [];
    for (const { path, commands } of pages) {
      for (const argv of commands) {
        // Placeholders a reader fills in (`AC…`, `<file>`) are values, which the parser takes as given.
        const error = await usageErrorOf(argv);
        if (error) bad.push(`${path.replace(/.*\//, "")}: cr2comms ${argv.join(" ")} → ${error}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it("the check itself refuses a misspelt flag, a missing value and an unknown command", async () => {
    expect(await usageErrorOf(["plan", "--detailed-exit-code"])).toMatch(/unknown option --detailed-exit-code/);
    expect(await usageErrorOf(["apply", "--plan"])).toMatch(/--plan needs a value/);
    expect(await usageErrorOf(["migrate"])).toMatch(/unknown command/);
    expect(await usageErrorOf(["status", "--expiring-within", "30"])).toBeUndefined();
  });

  it("finds commands in prompts, pipelines, npx and node dist/cli.js, and joins continued lines", () => {
    const md = ["    $ cr2comms plan --out plan.json && cr2comms apply --plan plan.json --yes", "    node dist/cli.js inventory --emulator | head",
      "    cr2comms inventory --json > inventory.json 2>/dev/null", "    npx cr2comms init \\", "      --update", "```sh", "cr2comms status # a comment", "```", "    cr2comms <command> --help"].join("\n");
    expect(commandsIn(md)).toEqual([["plan", "--out", "plan.json"], ["apply", "--plan", "plan.json", "--yes"], ["inventory", "--emulator"], ["inventory", "--json"], ["init", "--update"], ["status"]]);
  });
});
