/**
 * One run at a time, and nothing sent before the ledger and reports are proven writable — through
 * the built CLI against the emulator.
 */
import { existsSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { startEmulator, type Emulator } from "../../src/emulator/index.js";
import { DEMO_ENV, emulatorEnv, runCli, workspace } from "./harness.js";

let emu: Emulator | undefined;
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

async function demo(latencyMs = 0) {
  emu = await startEmulator({ port: 0, latencyMs });
  const ws = workspace();
  return { emu, ws, env: emulatorEnv(emu, DEMO_ENV), common: ["--mapping", ws.mapping, "--reports-dir", ws.reports] };
}

const created = (e: Emulator) => e.state.commsCredentials().length - 1; // the sample's marketing_web is not ours

describe("one run at a time", () => {
  it("two applies started together: one creates, the other exits 1 naming the holder; nothing is duplicated", async () => {
    const { emu, ws, env, common } = await demo(150);
    // The emulator holds every request, so the winner stays at its first read until the loser has
    // met its lock and ended, however slowly the machine starts either (20 s grace if both got past).
    const release = emu.hold();
    const runs = [runCli(["apply", "--yes", ...common], { env }), runCli(["apply", "--yes", ...common], { env })];
    await Promise.race([Promise.race(runs), new Promise((r) => setTimeout(r, 20_000))]);
    release();
    const [a, b] = (await Promise.all(runs)) as [Awaited<(typeof runs)[0]>, Awaited<(typeof runs)[0]>];
    const codes = [a.code, b.code].sort();
    expect(codes).toEqual([0, 1]);
    const loser = a.code === 1 ? a : b;
    expect(loser.stderr).toMatch(/another cr2comms apply \(pid \d+.*\) holds .*ledger\.jsonl\.lock/);
    expect(created(emu)).toBe(4);
    expect(existsSync(join(ws.reports, "ledger.jsonl.lock"))).toBe(false); // released
    // And the loser can simply run again: nothing left to do.
    const again = await runCli(["apply", "--yes", ...common], { env });
    expect(again.code).toBe(0);
    expect(created(emu)).toBe(4);
  });

  it("apply and rollback exclude each other too", async () => {
    const { emu, ws, env, common } = await demo();
    expect((await runCli(["apply", "--yes", ...common], { env })).code).toBe(0);
    // The second apply takes the lock, then waits on the held emulator: rollback starts while it
    // holds the lock, however slowly the machine starts either process.
    const release = emu.hold();
    const lock = join(ws.reports, "ledger.jsonl.lock");
    let rollbackRun: Promise<Awaited<ReturnType<typeof runCli>>> | undefined;
    const applyRun = runCli(["apply", "--yes", ...common], {
      env,
      onSpawn: () => {
        const timer = setInterval(() => {
          if (existsSync(lock)) {
            clearInterval(timer);
            rollbackRun = runCli(["rollback", "--yes", "--allow-app-deletion", ...common], { env });
          }
        }, 5);
      },
    });
    await vi.waitUntil(() => rollbackRun, { timeout: 30_000, interval: 10 });
    const r = await rollbackRun!;
    release();
    const a = await applyRun;
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/another cr2comms apply .* holds/);
    expect(a.code).toBe(0);
    expect(created(emu)).toBe(4);
  });
});

describe("checks before the first write", () => {
  it("a reports dir that cannot be written: nothing is sent to Comms, one clear line, exit 1", async () => {
    const { emu, ws, env } = await demo();
    const blocker = join(ws.dir, "not-a-dir");
    writeFileSync(blocker, "a file where the reports dir should be\n");
    const run = await runCli(["apply", "--yes", "--mapping", ws.mapping, "--reports-dir", join(blocker, "reports")], { env });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/cannot write .*nothing was sent to Comms/);
    expect(emu.writeCount()).toBe(0);
  });

  it("a lost ledger beside earlier apply reports: apply refuses and names `ledger rebuild`; no duplicate is made", async () => {
    const { emu, ws, env, common } = await demo();
    expect((await runCli(["apply", "--yes", ...common], { env })).code).toBe(0);
    rmSync(join(ws.reports, "ledger.jsonl"));
    const run = await runCli(["apply", "--yes", ...common], { env });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/ledger rebuild/);
    expect(created(emu)).toBe(4);
    expect((await runCli(["ledger", "rebuild", ...common], { env })).code).toBe(0);
    const writes = emu.writeCount();
    expect((await runCli(["apply", "--yes", ...common], { env })).code).toBe(0);
    expect(emu.writeCount()).toBe(writes);
  });

  it("a torn last line (a crash mid-write) is set aside with a warning and the run goes on", async () => {
    const { emu, ws, env, common } = await demo();
    expect((await runCli(["apply", "--yes", ...common], { env })).code).toBe(0);
    const ledger = join(ws.reports, "ledger.jsonl");
    writeFileSync(ledger, readFileSync(ledger, "utf8") + '{"v":1,"ts":"2026-11-23T10:00:00.000Z","legacySid":"CR0000');
    emu.state.deleteComms(emu.state.commsCredentials().find((c) => c.appName === "limonade_android")!.id);
    const run = await runCli(["apply", "--yes", ...common], { env });
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/torn/);
    expect(created(emu)).toBe(4);
    const lines = readFileSync(ledger, "utf8").split("\n").filter(Boolean);
    for (const l of lines) expect(() => JSON.parse(l)).not.toThrow();
    expect((await runCli(["ledger", "check", ...common], { env })).code).toBe(0);
  });
});
