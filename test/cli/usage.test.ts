import { describe, expect, it } from "vitest";

// cli.ts runs main() when imported; the pieces it exports are tested through the built binary in
// test/e2e/cli-usage.test.ts. Here: the option tables themselves.
describe("the entry point's static imports", () => {
  it("name no heavy module (commands and libraries are imported when a command runs)", async () => {
    const { readFileSync } = await import("node:fs");
    const source = readFileSync(new URL("../../src/cli.ts", import.meta.url), "utf8");
    const staticImports = [...source.matchAll(/^import\s(?!type\s)[^;]*?from\s+"([^"]+)"/gms)].map((m) => m[1]);
    // (./text.js: a few string helpers, no dependencies)
    // (./cli/color.js: whether and how to colour, no dependencies)
    expect(staticImports.sort()).toEqual(["./cli/color.js", "./cli/output.js", "./errors.js", "./text.js", "./version.js"]);
  });
});
