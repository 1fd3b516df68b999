/**
 * Review (h-review): SIGKILL the built CLI at many moments of an apply (creates in flight, lost
 * answers, the settle wait), then rerun: never a duplicate, never a credential lost, and the
 * lock of the dead run is taken over.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startEmulator, type Emulator, type SeedLegacyCredential } from "../../src/emulator/index.js";
import { emulatorEnv, runCli, workspace, ledgerEvents } from "../e2e/harness.js";

let emu: Emulator | undefined;
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});


async function many(n: number, apps: number, opts: Parameters<typeof startEmulator>[0] = {}) {
  const legacy: SeedLegacyCredential[] = Array.from({ length: n }, (_, i) => ({
    sid: `CR${(0xa000 + i).toString(16).padStart(32, "0")}`, friendly_name: `app ${i}`, type: "apn", sandbox: "False",
    date_created: "2024-01-01T00:00:00Z", date_updated: "2024-01-01T00:00:00Z",
  }));
  emu = await startEmulator({ port: 0, ...opts, seed: { legacyCredentials: legacy } });
  const ws = workspace();
  const mapping = join(ws.dir, "mappings", "many.yaml");
  writeFileSync(mapping, `version: 1\ncredentials:\n${legacy.map((c, i) => `  - sid: ${c.sid}\n    appName: app_${i % apps}\n    secrets:\n      certificate: file:examples/secrets/limonade-ios-prod.cert.pem\n      privateKey: file:examples/secrets/limonade-ios-prod.key.pem\n`).join("")}`);
  // This machine and the emulator share one clock: a 1 s skew allowance keeps the waits short.
  return { emu, ws, env: emulatorEnv(emu, { CR2COMMS_CLOCK_SKEW_SECONDS: "1" }), common: ["--mapping", mapping, "--reports-dir", ws.reports], legacy };
}

const POST = { method: "POST", path: "/PushNotifications/Credentials" };

describe("review: SIGKILL at many moments, then reruns", () => {
  const points: { name: string; when: (events: any[]) => boolean }[] = [
    { name: "after the 3rd attempt line", when: (ev) => ev.filter((e) => e.event === "attempt").length >= 3 },
    { name: "right after the first unknown", when: (ev) => ev.some((e) => e.event === "unknown") },
    { name: "during the settle wait (2nd lost create in flight elsewhere)", when: (ev) => ev.filter((e) => e.event === "unknown").length >= 1 && ev.filter((e) => e.event === "attempt").length >= 7 },
    { name: "after the 5th accepted", when: (ev) => ev.filter((e) => e.event === "accepted").length >= 5 },
  ];
  for (const point of points) {
    it(`killed ${point.name}: reruns converge with every sid exactly once`, async () => {
      const { emu, ws, env, common, legacy } = await many(12, 3, {
        latencyMs: 60,
        faults: { script: [{ ...POST, kind: "drop-before-commit" }, { ...POST, kind: "drop-after-commit" }] },
      });
      const killed = await runCli(["apply", "--yes", "--settle-seconds", "600", ...common], {
        env,
        onSpawn: (kill) => {
          const timer = setInterval(() => {
            if (point.when(ledgerEvents(ws.reports))) {
              clearInterval(timer);
              kill("SIGKILL");
            }
          }, 5);
        },
      });
      expect(killed.signal).toBe("SIGKILL");
      await new Promise((r) => setTimeout(r, 300)); // let in-flight requests land in the emulator
      const logs: string[] = [];
      let last = { code: -1 as number | null, stdout: "", stderr: "" };
      for (let i = 0; i < 3; i++) {
        last = await runCli(["apply", "--yes", "--settle-seconds", "2", ...common], { env });
        logs.push(`run ${i + 2}: exit ${last.code}\n${last.stdout}\n${last.stderr.slice(-1500)}`);
        if (last.code === 0) break;
      }
      const all = emu.state.commsCredentials();
      const confirmed = new Map<string, string>();
      for (const e of ledgerEvents(ws.reports)) if (e.event === "confirmed") confirmed.set(e.legacySid, e.commsCredentialId);
      const info = logs.join("\n----\n");
      // Never a duplicate: at most one credential per sid in Comms.
      expect(all.length, info).toBeLessThanOrEqual(12);
      expect(last.code, info).toBe(0);
      expect(all.length, info).toBe(12);
      expect(new Set(confirmed.values()).size, info).toBe(12);
      expect([...confirmed.keys()].sort()).toEqual(legacy.map((c) => c.sid).sort());
    }, 120_000);
  }
});
