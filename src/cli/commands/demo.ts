import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Cr2commsError, EXIT, UsageError } from "../../errors.js";
import { escapeControl } from "../../text.js";
import { print } from "../output.js";

export interface DemoArgs {
  dir?: string;
}

/** The package's root: the demo mapping and its fake secrets ship beside `dist/`. */
const PACKAGE_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const CLI = fileURLToPath(new URL("../../cli.js", import.meta.url));
export const DEMO_MAPPING = join(PACKAGE_ROOT, "mappings", "demo.yaml");
/** The demo's p12 is encrypted with this; it is as fake as the certificates. */
export const DEMO_ENV = { LIMONADE_DEV_P12_PASSPHRASE: "fake-demo-passphrase" };

/**
 * `cr2comms demo`: rehearses a whole migration against the embedded emulator's sample data —
 * plan, apply, then a rerun that changes nothing — by running the CLI three times. Every run
 * starts from an empty folder (a new temporary one unless `--dir` names an empty or absent one),
 * so no earlier rehearsal's ledger or reports are ever in the way, and nothing is written to the
 * working folder's `reports/`. No Twilio account is contacted.
 */
export function demoCommand(args: DemoArgs, out: (text: string) => void = print): number {
  if (!existsSync(DEMO_MAPPING)) throw new Cr2commsError(`the demo mapping ${DEMO_MAPPING} is missing from this installation`, EXIT.failure);
  const dir = args.dir !== undefined ? emptyDir(resolve(args.dir)) : mkdtempSync(join(tmpdir(), "cr2comms-demo-"));
  const common = ["--emulator", "--mapping", DEMO_MAPPING, "--reports-dir", dir];
  const steps: { title: string; args: string[]; okCodes: number[] }[] = [
    { title: "1/3  cr2comms plan (dry run: nothing is written)", args: ["plan", "--detailed-exitcode", ...common], okCodes: [2] },
    { title: "2/3  cr2comms apply --yes (creates the credentials in the emulator's Comms)", args: ["apply", "--yes", ...common], okCodes: [0] },
    { title: "3/3  cr2comms apply --yes again (idempotent: nothing to do)", args: ["apply", "--yes", ...common], okCodes: [0] },
  ];
  let failed = false;
  for (const step of steps) {
    out(`\n=== ${step.title}\n$ cr2comms ${step.args.join(" ")}\n`);
    const run = spawnSync(process.execPath, [CLI, ...step.args], {
      stdio: "inherit",
      env: { ...process.env, ...DEMO_ENV, LOG_LEVEL: process.env.LOG_LEVEL ?? "warn" },
    });
    const code = run.status ?? 1;
    out(`\n(exit code ${code}${step.okCodes.includes(code) ? ", as expected" : ", NOT what the rehearsal expects"})`);
    if (!step.okCodes.includes(code)) failed = true;
  }
  out(`\nReports and the ledger are in ${escapeControl(dir)} — open the .md files to review.`);
  return failed ? 1 : 0;
}

/** `--dir`: created when absent; an existing folder must be empty (the demo never deletes anything). */
function emptyDir(dir: string): string {
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    throw new UsageError(`--dir ${escapeControl(dir)} is not empty; name an empty or new folder, or leave --dir out for a temporary one`);
  }
  mkdirSync(dir, { recursive: true });
  return dir;
}
