import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startEmulator, type Emulator } from "../../src/emulator/index.js";
import { DEMO_ENV, emulatorEnv, runCli, workspace } from "./harness.js";

let emu: Emulator | undefined;

/** The arguments of the `cr2comms apply …` command the plan's hint prints (paths here have no spaces). */
function printedCommand(stdout: string): string[] {
  const command = /with: cr2comms (apply [^)\n]*)\)/.exec(stdout)?.[1];
  expect(command, stdout).toBeDefined();
  return command!.split(" ");
}
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
    expect(run.stdout).toContain(`cr2comms apply --plan ${out} --mapping ${ws.mapping} --reports-dir ${ws.reports} --yes`);
    // And that command works as printed.
    const applied = await runCli(printedCommand(run.stdout), { env: emulatorEnv(emu, { ...DEMO_ENV, LOG_LEVEL: "warn" }) });
    expect(applied.stderr).toBe("");
    expect(applied.code).toBe(0);
  });

  it("under --emulator, the printed command carries --emulator and the mapping, and works as printed", async () => {
    const ws = workspace();
    const out = join(ws.dir, "plan.json");
    const run = await runCli(["plan", "--emulator", "--mapping", ws.mapping, "--out", out], { env: DEMO_ENV, cwd: ws.dir });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("cr2comms apply --plan plan.json --emulator --mapping mappings/demo.yaml --yes");
    const applied = await runCli(printedCommand(run.stdout), { env: { ...DEMO_ENV, LOG_LEVEL: "warn" }, cwd: ws.dir });
    expect(applied.stderr).toBe("");
    expect(applied.stdout).toMatch(/^Applied: 4 confirmed$/m);
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
