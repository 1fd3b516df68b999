/**
 * Review (h-review): two real `apply` processes started together over a stale lock (dead pid):
 * exactly one may write; the other exits 1 naming the holder. Repeated to shake out interleavings.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startEmulator, type Emulator } from "../../src/emulator/index.js";
import { DEMO_ENV, emulatorEnv, runCli, workspace } from "../e2e/harness.js";

let emu: Emulator | undefined;
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

function deadPid(): number {
  const out = execFileSync(process.execPath, ["-e", "console.log(process.pid)"]).toString().trim();
  return Number(out);
}

describe("review: stale lock taken over by two processes at once", () => {
  it("never lets both run (8 rounds)", async () => {
    const rounds: string[] = [];
    for (let round = 0; round < 8; round++) {
      emu = await startEmulator({ port: 0, latencyMs: 150 });
      const ws = workspace();
      mkdirSync(ws.reports, { recursive: true });
      const lock = join(ws.reports, "ledger.jsonl.lock");
      writeFileSync(lock, JSON.stringify({ pid: deadPid(), host: hostname(), command: "apply", startedAt: "2026-01-01T00:00:00.000Z", id: "dead" }) + "\n");
      const env = emulatorEnv(emu, DEMO_ENV);
      const args = ["apply", "--yes", "--mapping", ws.mapping, "--reports-dir", ws.reports];
      const [a, b] = await Promise.all([runCli(args, { env }), runCli(args, { env })]);
      const codes = [a.code, b.code].sort();
      const posts = emu.requests.filter((r) => r.method === "POST").length;
      rounds.push(`round ${round}: exits ${codes.join(",")} posts ${posts}\n A: ${a.stderr.slice(-300)}\n B: ${b.stderr.slice(-300)}`);
      // The demo has 4 creates: if both ran, the second would see them (ledger) only if it started after.
      const both = [a, b].filter((r) => !/holds|taking over|kept changing hands|takeover/.test(r.stderr));
      expect(both.length, rounds.join("\n")).toBe(1);
      expect(posts, rounds.join("\n")).toBe(4);
      expect(existsSync(lock)).toBe(false);
      await emu.close();
      emu = undefined;
    }
  }, 120_000);
});
