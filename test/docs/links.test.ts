/**
 * The docs keep their word: every relative link in the README and docs/ resolves (a file that
 * exists, and a heading for an anchor), and the README's two commands are the ones CI and the demo
 * run.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../e2e/harness.js";
import { anchorOf, anchors, links, userDocs } from "./pages.js";

describe("links in the README and docs/", () => {
  it("finds the pages and their links", () => {
    const pages = userDocs();
    expect(pages.length).toBeGreaterThan(3);
    expect(links(readFileSync(pages[0]!, "utf8")).length).toBeGreaterThan(5);
  });

  it("every relative link resolves, anchors included", () => {
    const broken: string[] = [];
    for (const page of userDocs()) {
      const text = readFileSync(page, "utf8");
      for (const { target, line } of links(text)) {
        if (/^[a-z]+:/i.test(target)) continue; // https:, mailto: — not ours to check offline
        const [path, anchor] = target.split("#") as [string, string | undefined];
        const file = path === "" ? page : join(dirname(page), decodeURI(path));
        const where = `${relative(ROOT, page)}:${line} → ${target}`;
        if (!existsSync(file)) {
          broken.push(`${where} (no such file)`);
          continue;
        }
        if (anchor !== undefined && statSync(file).isFile() && file.endsWith(".md") && !anchors(readFileSync(file, "utf8")).has(anchor)) {
          broken.push(`${where} (no such heading)`);
        }
      }
    }
    expect(broken).toEqual([]);
  });

  it("the anchor rule matches GitHub's for the headings used here", () => {
    expect(anchorOf("Which key for which command")).toBe("which-key-for-which-command");
    expect(anchorOf("The account's default App (`defaultApp`)")).toBe("the-accounts-default-app-defaultapp");
    expect(anchorOf("Tests, coverage and mutation testing")).toBe("tests-coverage-and-mutation-testing");
  });
});

describe("the README's two commands", () => {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const twoCommands = readme.slice(readme.indexOf("## Two commands"), readme.indexOf("\n## ", readme.indexOf("## Two commands") + 3));
  const shown = [...twoCommands.matchAll(/^ {4}(npm .+)$/gm)].map((m) => m[1]!.trim());

  it("are exactly two: the demo and the tests", () => {
    expect(shown).toEqual(["npm ci && npm run demo", "npm ci && npm test"]);
  });

  it("the test command is the one .ci/run runs", () => {
    const ci = readFileSync(join(ROOT, ".ci", "run"), "utf8");
    const run = ci.split("\n").filter((l) => /^\s*npm /.test(l)).map((l) => l.trim());
    expect(run).toEqual([shown[1]]);
  });

  it("the demo command runs the demo script", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> };
    expect(pkg.scripts.demo).toMatch(/demo/);
    expect(pkg.scripts.test).toBeDefined();
  });
});
