import { describe, expect, it } from "vitest";

// cli.ts runs only as the program (not when a test imports it); what it prints is tested through
// the built binary in test/e2e/cli-usage.test.ts. Here: what it loads.
describe("the entry point's static imports", () => {
  it("name no heavy module (commands and libraries are imported when a command runs)", async () => {
    const { readFileSync } = await import("node:fs");
    const source = readFileSync(new URL("../../src/cli.ts", import.meta.url), "utf8");
    const staticImports = [...source.matchAll(/^import\s(?!type\s)[^;]*?from\s+"([^"]+)"/gms)].map((m) => m[1]);
    // (./text.js: a few string helpers, no dependencies)
    // (./cli/color.js: whether and how to colour, no dependencies; node:fs and node:url, loaded by Node itself)
    expect(staticImports.sort()).toEqual(["./cli/color.js", "./cli/output.js", "./errors.js", "./text.js", "./version.js", "node:fs", "node:url"]);
  });
});
