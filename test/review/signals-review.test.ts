/**
 * Review (h-review): signals through the built CLI while the writer waits. EXPECTED behaviour is
 * asserted; a failing test is a finding.
 */
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startEmulator, type Emulator, type EmulatorOptions } from "../../src/emulator/index.js";
import { DEMO_ENV, emulatorEnv, runCli, workspace, ledgerEvents } from "../e2e/harness.js";

let emu: Emulator | undefined;
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});
const POST = { method: "POST", path: "/PushNotifications/Credentials" };

async function demo(opts: EmulatorOptions = {}) {
  emu = await startEmulator({ port: 0, ...opts });
  const ws = workspace();
  return { emu, ws, env: emulatorEnv(emu, DEMO_ENV), common: ["--mapping", ws.mapping, "--reports-dir", ws.reports] };
}

describe("review: signals while waiting", () => {
  it("SIGTERM during the settle wait: exit 143 promptly, nothing re-sent, attempt left open, report written, lock released", async () => {
    const { emu, ws, env, common } = await demo({ faults: { script: [{ ...POST, kind: "drop-before-commit" }] } });
    let sentAt = 0;
    const run = await runCli(["apply", "--yes", "--concurrency", "1", "--settle-seconds", "60", ...common], {
      env,
      onSpawn: (kill, stderr) => {
        let sent = false;
        stderr.on("data", (b) => {
          if (!sent && /waiting for it to appear in Comms/.test(b.toString())) {
            sent = true;
            setTimeout(() => { sentAt = Date.now(); kill("SIGTERM"); }, 300);
          }
        });
      },
    });
    const took = Date.now() - sentAt;
    expect(run.code, run.stderr).toBe(143);
    expect(took).toBeLessThan(10_000);
    expect(emu.requests.filter((r) => r.method === "POST").length).toBe(4); // 1 lost + 3 other demo creates; no re-send
    const events = ledgerEvents(ws.reports);
    expect(events.filter((e) => e.event === "abandoned")).toEqual([]);
    expect(events.filter((e) => e.event === "unknown")).toHaveLength(1);
    expect(readdirSync(ws.reports).some((f) => /^apply-.*\.json$/.test(f))).toBe(true);
    expect(existsSync(join(ws.reports, "ledger.jsonl.lock"))).toBe(false);
  }, 60_000);

  it("SIGTERM while a 202'd create is still invisible (confirmation polling): exit 143 within a few seconds", async () => {
    const { ws, env, common } = await demo({ visibilityDelayMs: 25_000 });
    let sentAt = 0;
    const run = await runCli(["apply", "--yes", "--concurrency", "1", ...common], {
      env,
      onSpawn: (kill) => {
        const t = setInterval(() => {
          if (ledgerEvents(ws.reports).some((e) => e.event === "accepted")) {
            clearInterval(t);
            sentAt = Date.now();
            kill("SIGTERM");
          }
        }, 50);
      },
    });
    const took = Date.now() - sentAt;
    expect(run.code, run.stderr).toBe(143);
    expect(took, `took ${took} ms to exit after SIGTERM`).toBeLessThan(10_000);
  }, 90_000);
});
