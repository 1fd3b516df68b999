/**
 * Signals and crashes, through the built CLI: SIGTERM / SIGHUP are handled like Ctrl-C (exit
 * 128 + n, report written, every attempt journalled), a signal while reading says nothing was
 * written, and after a SIGKILL at the worst moment one rerun converges.
 */
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startEmulator, type Emulator, type EmulatorOptions, type SeedLegacyCredential } from "../../src/emulator/index.js";
import { DEMO_ENV, emulatorEnv, runCli, workspace, ledgerEvents } from "./harness.js";

let emu: Emulator | undefined;
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});


async function demo(opts: EmulatorOptions = {}) {
  emu = await startEmulator({ port: 0, ...opts });
  const ws = workspace();
  return { emu, ws, env: emulatorEnv(emu, DEMO_ENV), common: ["--mapping", ws.mapping, "--reports-dir", ws.reports] };
}

/** `n` apn credentials mapped round-robin to `apps` Apps, all with the demo's (fake) production certificate. */
async function many(n: number, apps: number, opts: EmulatorOptions = {}) {
  const legacy: SeedLegacyCredential[] = Array.from({ length: n }, (_, i) => ({
    sid: `CR${(0xa000 + i).toString(16).padStart(32, "0")}`,
    friendly_name: `app ${i}`,
    type: "apn",
    sandbox: "False",
    date_created: "2024-01-01T00:00:00Z",
    date_updated: "2024-01-01T00:00:00Z",
  }));
  emu = await startEmulator({ port: 0, ...opts, seed: { legacyCredentials: legacy } });
  const ws = workspace();
  const mapping = join(ws.dir, "mappings", "many.yaml");
  const entries = legacy.map(
    (c, i) =>
      `  - sid: ${c.sid}\n    appName: app_${i % apps}\n    secrets:\n      certificate: file:examples/secrets/limonade-ios-prod.cert.pem\n      privateKey: file:examples/secrets/limonade-ios-prod.key.pem\n`,
  );
  writeFileSync(mapping, `version: 1\ncredentials:\n${entries.join("")}`);
  // This machine and the emulator share one clock: a 1 s skew allowance keeps the waits short.
  return { emu, ws, env: emulatorEnv(emu, { CR2COMMS_CLOCK_SKEW_SECONDS: "1" }), common: ["--mapping", mapping, "--reports-dir", ws.reports], legacy };
}

describe("signals", () => {
  for (const [signal, code] of [
    ["SIGTERM", 143],
    ["SIGHUP", 129],
  ] as const) {
    it(`${signal} mid-apply finishes what is in flight, journals it, writes the report and exits ${code}`, async () => {
      const { emu, ws, env, common } = await demo({ latencyMs: 300 });
      const run = await runCli(["apply", "--yes", "--concurrency", "1", ...common], {
        env,
        onSpawn: (kill) => {
          // Once a create has reached Comms: a write not yet sent when the signal comes is never sent.
          const timer = setInterval(() => {
            if (emu.requests.some((r) => r.method === "POST")) {
              clearInterval(timer);
              kill(signal);
            }
          }, 10);
        },
      });
      expect(run.code).toBe(code);
      const report = JSON.parse(readFileSync(run.stdout.match(/(\S+apply-\S+\.json)/)![1]!, "utf8"));
      expect(report.interrupted).toBe(true);
      const events = ledgerEvents(ws.reports);
      for (const a of events.filter((e) => e.event === "attempt")) {
        expect(events.some((e) => e.attemptId === a.attemptId && e.event === "accepted")).toBe(true);
      }
      // What was sent is journalled and reported: confirmed, or accepted and left for a rerun to confirm.
      const sent = report.items.filter((i: any) => i.action === "create" && (i.status === "confirmed" || i.status === "accepted-unconfirmed"));
      expect(sent.length).toBeGreaterThanOrEqual(1);
      expect(report.items.filter((i: any) => i.action === "create" && i.status === "planned").length).toBeGreaterThanOrEqual(1);
      expect(emu.state.commsCredentials().length).toBe(1 + sent.length);
      for (const i of sent) expect(events.some((e) => e.event === "accepted" && e.commsCredentialId === i.commsCredentialId)).toBe(true);
    });
  }

  it("a signal while the account is still being read says in one line that nothing was written (exit 130)", async () => {
    const { emu, env, common } = await demo({ latencyMs: 1_500 });
    const run = await runCli(["apply", "--yes", ...common], {
      env,
      onSpawn: (kill) => {
        const timer = setInterval(() => {
          if (emu.requests.length > 0) {
            clearInterval(timer);
            kill("SIGINT");
          }
        }, 10);
      },
    });
    expect(run.code).toBe(130);
    expect(run.stderr).toMatch(/interrupted \(SIGINT\) while reading the account; nothing was written to Comms/);
    expect(emu.writeCount()).toBe(0);
  });

  it("rollback handles SIGTERM too: deletes in flight finish and are journalled, the report is written, exit 143", async () => {
    const { emu, ws, env, common } = await demo();
    expect((await runCli(["apply", "--yes", ...common], { env })).code).toBe(0);
    emu.setLatencyMs(300);
    const run = await runCli(["rollback", "--yes", "--allow-app-deletion", "--concurrency", "1", ...common], {
      env,
      onSpawn: (kill) => {
        const timer = setInterval(() => {
          if (emu.requests.some((r) => r.method === "DELETE")) {
            clearInterval(timer);
            kill("SIGTERM");
          }
        }, 10);
      },
    });
    expect(run.code).toBe(143);
    const report = JSON.parse(readFileSync(run.stdout.match(/(\S+rollback-\S+\.json)/)![1]!, "utf8"));
    expect(report.interrupted).toBe(true);
    const deletedInComms = emu.requests.filter((r) => r.method === "DELETE" && r.status === 202).length;
    expect(deletedInComms).toBeGreaterThanOrEqual(1);
    expect(ledgerEvents(ws.reports).filter((e) => e.event === "deleted" && e.reason === "rollback")).toHaveLength(deletedInComms);
    expect(report.items.filter((i: any) => i.action === "delete" && i.status === "planned").length).toBeGreaterThanOrEqual(1);
  });
});

describe("account-level problems", () => {
  it("11 Apps for a 10-App account: apply writes nothing at all and exits 1 with the plan's problem", async () => {
    const { emu, env, common } = await many(11, 11);
    const run = await runCli(["apply", "--yes", ...common], { env });
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/Nothing was written to Comms/);
    expect(run.stdout).toMatch(/needs 11 Apps but Comms allows 10 per account/);
    expect(emu.writeCount()).toBe(0);
    expect(run.stdout).toMatch(/Report: \S+apply-/);
  });
});

describe("after a crash, one rerun converges", () => {
  it("SIGKILL while creates have unknown outcomes, then one rerun: every credential exactly once, exit 0", async () => {
    const { emu, ws, env, common, legacy } = await many(24, 3, {
      latencyMs: 20,
      // Two creates are lost on the way (never carried out): their outcome stays unknown.
      faults: { script: [{ method: "POST", path: "/PushNotifications/Credentials", kind: "drop-before-commit", times: 2 }] },
    });
    const killed = await runCli(["apply", "--yes", ...common], {
      env,
      onSpawn: (kill) => {
        const timer = setInterval(() => {
          if (ledgerEvents(ws.reports).some((e) => e.event === "unknown")) {
            clearInterval(timer);
            kill("SIGKILL");
          }
        }, 10);
      },
    });
    expect(killed.signal).toBe("SIGKILL");
    expect(emu.state.commsCredentials().length).toBeLessThan(24);

    const rerun = await runCli(["apply", "--yes", "--settle-seconds", "1", ...common], { env });
    expect(rerun.stderr).not.toMatch(/unexpected error/);
    expect(rerun.code).toBe(0);
    const all = emu.state.commsCredentials();
    expect(all).toHaveLength(24);
    const perApp: Record<string, number> = {};
    for (const c of all) perApp[c.appName] = (perApp[c.appName] ?? 0) + 1;
    expect(perApp).toEqual({ app_0: 8, app_1: 8, app_2: 8 });
    // Each legacy sid maps to its own credential in the ledger, and a further run changes nothing.
    const confirmed = new Map<string, string>();
    for (const e of ledgerEvents(ws.reports)) if (e.event === "confirmed") confirmed.set(e.legacySid, e.commsCredentialId);
    expect(new Set(confirmed.values()).size).toBe(24);
    expect([...confirmed.keys()].sort()).toEqual(legacy.map((c) => c.sid).sort());
    const writes = emu.writeCount();
    expect((await runCli(["apply", "--yes", ...common], { env })).code).toBe(0);
    expect(emu.writeCount()).toBe(writes);
  });

  it("--settle-seconds must be a whole number of at least 1, named in the error (exit 64)", async () => {
    const { env, common } = await demo();
    const bad = await runCli(["apply", "--yes", "--settle-seconds", "0", ...common], { env });
    expect(bad.code).toBe(64);
    expect(bad.stderr).toMatch(/--settle-seconds must be a whole number of seconds, at least 1/);
    const fromEnv = await runCli(["apply", "--yes", ...common], { env: { ...env, CR2COMMS_SETTLE_SECONDS: "soon" } });
    expect(fromEnv.code).toBe(64);
    expect(fromEnv.stderr).toMatch(/CR2COMMS_SETTLE_SECONDS must be/);
  });
});

describe("a signal during a command that only reads", () => {
  it("plan interrupted while reading: one line, nothing sent to Twilio, exit 130", async () => {
    const { emu, env, common } = await demo({ latencyMs: 1_500 });
    const run = await runCli(["plan", ...common], {
      env,
      onSpawn: (kill) => {
        const timer = setInterval(() => {
          if (emu.requests.length > 0) {
            clearInterval(timer);
            kill("SIGINT");
          }
        }, 10);
      },
    });
    expect(run.code).toBe(130);
    expect(run.stderr.trim().split("\n").at(-1)).toBe("cr2comms: interrupted (SIGINT); nothing was sent to Twilio");
    expect(emu.writeCount()).toBe(0);
  });
});
