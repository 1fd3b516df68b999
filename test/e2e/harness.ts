import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Emulator } from "../../src/emulator/index.js";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
/** The built binary: `npm test` compiles before vitest runs. */
export const CLI = join(ROOT, "dist", "cli.js");

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

let stateDir: string | undefined;
/** A state folder (per-account locks) of this test file's own: tests never write to the real home. */
export function testStateDir(): string {
  stateDir ??= mkdtempSync(join(tmpdir(), "cr2comms-state-"));
  return stateDir;
}

/**
 * Runs the built CLI as a user would, with a clean environment (no real Twilio credentials) and a
 * temporary `CR2COMMS_STATE_DIR` unless the test sets one.
 */
export function runCli(args: string[], opts: { env?: Record<string, string>; cwd?: string; onSpawn?: (kill: (s: NodeJS.Signals) => void, stderr: { on: (e: "data", f: (b: Buffer) => void) => void }) => void } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: opts.cwd ?? ROOT,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", LOG_LEVEL: "info", CR2COMMS_STATE_DIR: testStateDir(), ...opts.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    opts.onSpawn?.((s) => child.kill(s), child.stderr);
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Environment pointing the CLI at an emulator started by the test. */
export function emulatorEnv(emu: Emulator, extra: Record<string, string> = {}): Record<string, string> {
  return {
    TWILIO_ACCOUNT_SID: emu.accountSid,
    TWILIO_AUTH_TOKEN: emu.authToken,
    CR2COMMS_CONVERSATIONS_URL: emu.url,
    CR2COMMS_COMMS_URL: emu.url,
    ...extra,
  };
}

/**
 * A scratch folder holding a copy of the demo mapping and its fake secrets, plus a reports dir.
 * Tests edit their copy freely.
 */
export function workspace(): { dir: string; mapping: string; reports: string } {
  const dir = mkdtempSync(join(tmpdir(), "cr2comms-e2e-"));
  cpSync(join(ROOT, "mappings", "examples"), join(dir, "mappings", "examples"), { recursive: true });
  cpSync(join(ROOT, "mappings", "demo.yaml"), join(dir, "mappings", "demo.yaml"));
  return { dir, mapping: join(dir, "mappings", "demo.yaml"), reports: join(dir, "reports") };
}

export const DEMO_ENV = { LIMONADE_DEV_P12_PASSPHRASE: "fake-demo-passphrase" };

export function parseJson<T = any>(text: string): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new Error(`stdout is not JSON:\n${text.slice(0, 2000)}`);
  }
}

/**
 * The events of `<reports>/ledger.jsonl` as a test reads them while a run may still be appending:
 * only whole lines (a line being written is left out).
 */
export function ledgerEvents(reports: string): any[] {
  const path = join(reports, "ledger.jsonl");
  return existsSync(path) ? readFileSync(path, "utf8").split("\n").filter((l) => l.endsWith("}")).map((l) => JSON.parse(l)) : [];
}
