import { readFileSync } from "node:fs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startEmulator, type Emulator } from "../../src/emulator/index.js";
import { DEMO_ENV, emulatorEnv, parseJson, runCli, workspace } from "../e2e/harness.js";

// Runs the built dist/cli.js (build first), like test/e2e.
let emu: Emulator;
let ws: ReturnType<typeof workspace>;

beforeEach(async () => {
  emu = await startEmulator({ port: 0 });
  ws = workspace();
});
afterEach(async () => {
  await emu.close();
});

describe("plan reports (built CLI)", () => {
  it("show the mapping path relative to the working directory, in the JSON and the Markdown", async () => {
    const run = await runCli(["plan", "--json", "--mapping", ws.mapping, "--reports-dir", ws.reports], {
      cwd: ws.dir,
      env: emulatorEnv(emu, DEMO_ENV),
    });
    expect(run.stderr).not.toMatch(/unexpected error/);
    const report = parseJson(run.stdout);
    expect(report.mappingPath).toBe("mappings/demo.yaml");
    const md = readFileSync(report.reportPaths.markdownPath, "utf8");
    expect(md).toContain("- Mapping: `mappings/demo.yaml`");
    expect(md).not.toContain(ws.dir);
    expect(readFileSync(report.reportPaths.jsonPath, "utf8")).not.toContain(ws.dir);
  });
});
