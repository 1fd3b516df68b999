import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync, cpSync, existsSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sampleSubaccount, startEmulator, type Emulator, type EmulatorOptions, type SubaccountSpec } from "../../src/emulator/index.js";
import { ROOT, runCli, type CliRun } from "../e2e/harness.js";

export const PARENT = "AC00000000000000000000000000000000";
export const SID = (n: number) => `CR${String(n).padStart(32, "0")}`;
/** What the demo mapping leaves in a sample account's Comms (it starts empty in a subaccount). */
export const EXPECTED = { "limonade_ios|APN": 1, "limonade_ios|APN_SANDBOX": 1, "limonade_android|FCM": 1, "limonade_ios_beta|APN_SANDBOX": 1 };

export interface FleetWorld {
  emu: Emulator;
  dir: string;
  reports: string;
  mappingDir: string;
  env: Record<string, string>;
  subs: SubaccountSpec[];
  cli(args: string[], extraEnv?: Record<string, string>, onSpawn?: NonNullable<Parameters<typeof runCli>[1]>["onSpawn"]): Promise<CliRun>;
  /** Writes the demo mapping (secrets paths fixed) for these accounts. */
  mapDemo(...sids: string[]): void;
}

/** An emulator with the given subaccounts and a scratch folder with the demo's secrets. */
export async function fleetWorld(subs: SubaccountSpec[], opts: EmulatorOptions = {}): Promise<FleetWorld> {
  const emu = await startEmulator({ port: 0, subaccounts: subs, ...opts });
  const dir = mkdtempSync(join(tmpdir(), "cr2comms-fleet-"));
  cpSync(join(ROOT, "mappings", "examples"), join(dir, "mappings", "examples"), { recursive: true });
  const mappingDir = join(dir, "mappings", "accounts");
  mkdirSync(mappingDir, { recursive: true });
  const state = join(dir, "state");
  mkdirSync(state);
  const env = {
    TWILIO_ACCOUNT_SID: emu.accountSid,
    TWILIO_AUTH_TOKEN: emu.authToken,
    CR2COMMS_CONVERSATIONS_URL: emu.url,
    CR2COMMS_COMMS_URL: emu.url,
    CR2COMMS_API_URL: emu.url,
    CR2COMMS_STATE_DIR: state,
    LIMONADE_DEV_P12_PASSPHRASE: "fake-demo-passphrase",
  };
  const demo = readFileSync(join(ROOT, "mappings", "demo.yaml"), "utf8").replaceAll("file:examples/", "file:../examples/");
  return {
    emu,
    dir,
    reports: join(dir, "reports"),
    mappingDir,
    env,
    subs,
    cli: (args, extraEnv = {}, onSpawn) => runCli([...args, "--reports-dir", join(dir, "reports")], { env: { ...env, ...extraEnv }, cwd: dir, ...(onSpawn ? { onSpawn } : {}) }),
    mapDemo(...sids) {
      for (const sid of sids) writeFileSync(join(mappingDir, `${sid}.yaml`), demo);
    },
  };
}

/** `n` active sample subaccounts (sample legacy credentials, own tokens). */
export function subs(n: number, from = 1): SubaccountSpec[] {
  return Array.from({ length: n }, (_, i) => sampleSubaccount(PARENT, from + i));
}

export function commsCounts(emu: Emulator, sid: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of emu.accounts.get(sid)!.state.commsCredentials()) out[`${c.appName}|${c.credentialType}`] = (out[`${c.appName}|${c.credentialType}`] ?? 0) + 1;
  return out;
}

/** The newest roll-up of a command. */
export function latestRollUp(reports: string, command: string): any {
  const names = readdirSync(reports).filter((n) => n.startsWith(`fleet-${command}-`) && n.endsWith(".json")).sort();
  if (names.length === 0) throw new Error(`no fleet-${command} roll-up in ${reports}`);
  return JSON.parse(readFileSync(join(reports, names[names.length - 1]!), "utf8"));
}

/** Every file under a folder (recursively), with its text. */
export function allFiles(dir: string): { path: string; text: string }[] {
  if (!existsSync(dir)) return [];
  const out: { path: string; text: string }[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...allFiles(path));
    else out.push({ path, text: readFileSync(path, "utf8") });
  }
  return out;
}

export function rowsBySid(rollUp: any): Record<string, any> {
  return Object.fromEntries(rollUp.accounts.map((r: any) => [r.accountSid, r]));
}
