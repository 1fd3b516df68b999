import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startEmulator, type Emulator } from "../../src/emulator/index.js";
import { DEMO_ENV, emulatorEnv, runCli, workspace } from "./harness.js";

let emu: Emulator | undefined;
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

describe("plan --out", () => {
  it("saves the plan whole (no temporary file left) and its hint is the command the next step needs, --yes included", async () => {
    emu = await startEmulator({ port: 0 });
    const ws = workspace();
    const out = join(ws.dir, "saved", "plan.json");
    const run = await runCli(["plan", "--mapping", ws.mapping, "--reports-dir", ws.reports, "--out", out], { env: emulatorEnv(emu, DEMO_ENV) });
    expect(run.code).toBe(0);
    expect(existsSync(out)).toBe(true);
    expect(JSON.parse(readFileSync(out, "utf8")).version).toBe(1);
    expect(readdirSync(dirname(out))).toEqual(["plan.json"]);
    expect(run.stdout).toContain(`cr2comms apply --plan ${out} --yes`);
    // And that command works as printed.
    const applied = await runCli(["apply", "--plan", out, "--yes", "--mapping", ws.mapping, "--reports-dir", ws.reports], { env: emulatorEnv(emu, DEMO_ENV) });
    expect(applied.code).toBe(0);
  });
});

describe("a rerun with nothing to do", () => {
  it("says Nothing to change once, and no Applied line", async () => {
    emu = await startEmulator({ port: 0 });
    const ws = workspace();
    const args = ["apply", "--yes", "--mapping", ws.mapping, "--reports-dir", ws.reports];
    expect((await runCli(args, { env: emulatorEnv(emu, DEMO_ENV) })).stdout).toMatch(/^Applied: 4 confirmed$/m);
    const again = await runCli(args, { env: emulatorEnv(emu, DEMO_ENV) });
    expect(again.code).toBe(0);
    expect(again.stdout.match(/Nothing to change/g)).toHaveLength(1);
    expect(again.stdout).not.toMatch(/^Applied:/m);
  });
});
