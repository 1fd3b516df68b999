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
      // The emulator holds every request: whichever run takes the lock stays at its first read,
      // so the other meets the lock however slowly the machine starts it. Released once one run has
      // ended (the refused one) or, if both got past the lock (the bug), after a grace period.
      const release = emu.hold();
      const runs = [runCli(args, { env }), runCli(args, { env })];
      await Promise.race([Promise.race(runs), new Promise((r) => setTimeout(r, 20_000))]);
      release();
      const [a, b] = await Promise.all(runs);
      const codes = [a!.code, b!.code].sort();
      const posts = emu.requests.filter((r) => r.method === "POST").length;
      rounds.push(`round ${round}: exits ${codes.join(",")} posts ${posts}\n A: ${a!.stderr.slice(-300)}\n B: ${b!.stderr.slice(-300)}`);
      const refused = [a!, b!].filter((r) => r.code === 1 && /holds|kept changing hands|is taking over/.test(r.stderr));
      expect(refused.length, rounds.join("\n")).toBe(1);
      expect(codes, rounds.join("\n")).toEqual([0, 1]);
      expect(posts, rounds.join("\n")).toBe(4);
      expect(existsSync(lock)).toBe(false);
      await emu.close();
      emu = undefined;
    }
  }, 120_000);
});
