/**
 * `npm run demo`: rehearses a whole migration against the embedded emulator's sample data, with
 * the clearly fake secrets in mappings/examples/secrets — plan, apply, then a rerun that changes
 * nothing — by running the real CLI three times. No Twilio account is contacted.
 */
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join, relative } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const cli = join(root, "dist", "cli.js");
const reportsDir = join(root, "reports", "demo");
const common = ["--emulator", "--mapping", join(root, "mappings", "demo.yaml"), "--reports-dir", reportsDir];

// A fresh rehearsal each time: the ledger and the emulator's saved Comms state start empty.
rmSync(join(reportsDir, "ledger.jsonl"), { force: true });
rmSync(join(reportsDir, "emulator-state.json"), { force: true });

const steps: { title: string; args: string[]; okCodes: number[] }[] = [
  { title: "1/3  cr2comms plan (dry run: nothing is written)", args: ["plan", "--detailed-exitcode", ...common], okCodes: [2] },
  { title: "2/3  cr2comms apply --yes (creates the credentials in the emulator's Comms)", args: ["apply", "--yes", ...common], okCodes: [0] },
  { title: "3/3  cr2comms apply --yes again (idempotent: nothing to do)", args: ["apply", "--yes", ...common], okCodes: [0] },
];

let failed = false;
for (const step of steps) {
  process.stdout.write(`\n=== ${step.title}\n$ cr2comms ${step.args.map((a) => (a.startsWith(root) ? relative(root, a) : a)).join(" ")}\n\n`);
  const run = spawnSync(process.execPath, [cli, ...step.args], {
    cwd: root,
    stdio: "inherit",
    env: { ...process.env, LIMONADE_DEV_P12_PASSPHRASE: "fake-demo-passphrase", LOG_LEVEL: process.env.LOG_LEVEL ?? "warn" },
  });
  const code = run.status ?? 1;
  process.stdout.write(`\n(exit code ${code}${step.okCodes.includes(code) ? ", as expected" : ", NOT what the rehearsal expects"})\n`);
  if (!step.okCodes.includes(code)) failed = true;
}
process.stdout.write(`\nReports and the ledger are in ${relative(root, reportsDir)}/ — open the .md files to review.\n`);
process.exit(failed ? 1 : 0);
