#!/usr/bin/env node
/**
 * Differential test of the CLI's argument parsing: the build before 96296c2 (a command parsed by the
 * full parser) against this worktree's build (a command parsed by a parser of that command alone).
 * Not part of `npm test` (it needs the old build); run by hand:
 *
 *   node test/review/cli-diff.mjs [/path/to/old/dist/cli.js] [--only <substring>] [--verbose]
 *
 * Each vector runs in a fresh temp dir (a copy of mappings/, the demo passphrase in the env, no Twilio
 * credentials, stdin /dev/null) under both builds; exit code, stdout and stderr are compared after
 * normalising ports, times, temp paths, generated ids and durations. Prints each difference; exits 1
 * if any.
 */
import { spawn } from "node:child_process";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const NEW = join(ROOT, "dist", "cli.js");
const argvIn = process.argv.slice(2);
const OLD = argvIn.find((a) => a.endsWith(".js")) ?? "/work/wt/cli-old/dist/cli.js";
const only = argvIn.includes("--only") ? argvIn[argvIn.indexOf("--only") + 1] : undefined;
const verbose = argvIn.includes("--verbose");

// ---------------------------------------------------------------------------------------------
// Vectors
// ---------------------------------------------------------------------------------------------

/** @type {{args: string[], env?: Record<string,string>, steps?: string[][], killAfterMs?: number}[]} */
const cases = [];
const add = (args, extra = {}) => cases.push({ args, ...extra });

const M = ["--mapping", "mappings/demo.yaml"];
const GLOBAL_STR = ["account-sid", "auth-token", "api-key", "api-secret", "conversations-url", "comms-url", "comms-api-version", "mapping", "reports-dir", "ledger", "concurrency", "settle-seconds", "clock-skew-seconds", "log-level", "log-format"];
const GLOBAL_BOOL = ["json", "emulator"];
const COMMANDS = {
  inventory: { bool: ["comms"], str: [] },
  init: { bool: ["force", "update"], str: ["out"] },
  plan: { bool: ["detailed-exitcode"], str: ["out"] },
  apply: { bool: ["yes", "wait"], str: ["plan"], arr: ["replace"] },
  status: { bool: [], str: ["expiring-within"] },
  rollback: { bool: ["yes", "allow-app-deletion"], str: ["report"] },
  "ledger check": { bool: ["force"], str: [] },
};
const cmdArgs = (c) => c.split(" ");
const typo = (s) => (s.length > 3 ? s.slice(0, 1) + s.slice(2, 3) + s.slice(1, 2) + s.slice(3) : s + "x");
const camel = (s) => s.replace(/-([a-z])/g, (_, c) => c.toUpperCase());

// Top level, no command / unknown command.
for (const a of [[], ["--json"], ["--emulator"], ["invntory"], ["Inventory"], ["plna"], ["ledgr", "check"], ["help"], ["version"], ["debug"], ["--"], ["-"], [""], ["--bogus"], ["--json", "inventory"], ["--emulator", "status"], ["--mapping", "x", "plan"], ["--reports-dir=r", "ledger", "check"], ["-j", "inventory"], ["--version", "inventory"], ["--help", "plan"], ["-h", "plan"], ["--version", "--help"], ["-v"], ["-V"], ["--no-json", "inventory", "--emulator"]])
  add(a);

for (const [c, spec] of Object.entries(COMMANDS)) {
  const base = cmdArgs(c);
  const name = base[0];
  add(base); // bare (most: no account)
  add([...base, "--emulator"]);
  add([...base, "--emulator", "--json"]);
  add([...base, "--emulator", "--json", ...M]);
  add([...base, "--bogus"]);
  add([...base, "--bogus=1"]);
  add([...base, "-x"]);
  add([...base, "-xyz"]);
  add([...base, "extra"]);
  add([...base, "extra", "--emulator"]);
  add([...base, "1"]);
  add([...base, ""]);
  add([...base, "$0"]);
  add([...base, "--", "extra"]);
  add([...base, "--emulator", "--", "--json"]);
  add([...base, "--jsn"]);
  add([...base, "--no-jsn"]);
  add([...base, "--no-json", "--emulator"]);
  add([...base, "--json=false", "--emulator"]);
  add([...base, "--json", "false", "--emulator"]);
  add([...base, "--json", "true", "--emulator"]);
  add([...base, "--json=yes", "--emulator"]);
  add([...base, "--emulator=1"]);
  add([...base, "--emulator", "--emulator"]);
  add([...base, "-h"]);
  add([...base, "--help"]);
  add([...base, "--version"]);
  add([...base, "--emulator", "--help"]);
  add([...base, "--emulator", "-h"]);
  add([...base, "--json", "--version"]);
  add([...base, "--help=true"]);
  add([...base, "--help=false", "--emulator"]);
  add([...base, "--no-help", "--emulator"]);
  add([...base, "--version=true"]);
  add([...base, "--version=false", "--emulator"]);
  add([...base, "--no-version", "--emulator"]);
  add([...base, "--hlep"]);
  add([...base, "--verison"]);
  add([...base, "--mapping", "-h"]);
  add([...base, "--mapping", "--help"]);
  add([...base, "--mapping", "--version"]);
  add([...base, "--mapping=-h", "--emulator"]);
  add([...base, "--mapping=--help", "--emulator"]);
  add([...base, "--mapping", "--json"]);
  add([...base, "--mapping", ""]);
  add([...base, "--mapping="]);
  add([...base, "--mapping", "a", "--mapping", "b"]);
  add([...base, "--reportsDir", "r", "--emulator", ...M]);
  add([...base, "--reports-dir", "r", "--emulator", ...M]);
  add([...base, "--reports_dir", "r"]);
  add([...base, "--logLevel", "silent", "--emulator", ...M]);
  add([...base, "--log-level", "bogus", "--emulator"]);
  add([...base, "--log-format", "json", "--emulator", "--log-level", "warn", ...M]);
  add([...base, "--concurrency", "abc", "--emulator"]);
  add([...base, "--concurrency", "0", "--emulator"]);
  add([...base, "--concurrency=5", "--emulator", ...M]);
  add([...base, "--settle-seconds", "-5", "--emulator"]);
  add([...base, "--clock-skew-seconds", "1e9", "--emulator"]);
  add([...base, "--comms-api-version", "v9", "--emulator"]);
  add([...base, "--account-sid", "AC123"]);
  add([...base, "--account-sid=AC123", "--auth-token", "x", "--conversations-url", "http://127.0.0.1:9"]);
  add([...base, "--mapping.x", "1"]);
  add([...base, "--_", "x"]);
  add(["debug", ...base]);
  add([...base, "debug"]);
  for (const o of GLOBAL_STR) {
    add([...base, `--${o}`]);
    add([...base, `--${typo(o)}`, "v"]);
  }
  add([...base, "--accountSid"]);
  for (const b of spec.bool) {
    add([...base, `--${b}`, "--emulator", ...M]);
    add([...base, `--no-${b}`, "--emulator", ...M]);
    add([...base, `--no-${typo(b)}`]);
    add([...base, `--${typo(b)}`]);
    add([...base, `--${camel(b)}`, "--emulator", ...M]);
    add([...base, `--${b}=false`, "--emulator", ...M]);
  }
  for (const s of spec.str) {
    add([...base, `--${s}`]);
    add([...base, `--${s}`, "--json"]);
    add([...base, `--${s}`, "-h"]);
    add([...base, `--${s}=`]);
    add([...base, `--${typo(s)}`, "x"]);
    add([...base, `--${camel(s)}`, "x", "--emulator", ...M]);
    add([...base, `--${s}`, "5", "--emulator", ...M]);
  }
  for (const e of [{ CR2COMMS_CONCURRENCY: "abc" }, { LOG_LEVEL: "debug" }, { LOG_LEVEL: "bogus" }, { CR2COMMS_MAPPING: "mappings/demo.yaml" }, { TWILIO_ACCOUNT_SID: "AC1", TWILIO_AUTH_TOKEN: "t", CR2COMMS_CONVERSATIONS_URL: "http://127.0.0.1:9", CR2COMMS_COMMS_URL: "http://127.0.0.1:9" }])
    add([...base, "--emulator", ...M], { env: e });
  void name;
}

// Odd tokens, the command name repeated, yargs's own hidden switches.
for (const a of [["inventory", "inventory"], ["plan", "inventory"], ["apply", "apply"], ["ledger", "ledger"], ["ledger", "check", "ledger"], ["ledger", "check", "check"], ["ledger", "check", "$0"], ["inventory", "--", "$0"], ["inventory", "--", "--help"], ["inventory", "--", "-h"], ["inventory", "-hj"], ["inventory", "-jh"], ["inventory", "--no-emulator"], ["inventory", "--no-comms=true", "--emulator"], ["inventory", "--1", "x"], ["inventory", "--json", "--json", "--emulator"], ["inventory", "--get-yargs-completions"], ["inventory", "--show-hidden"], ["inventory", "--no-"], ["inventory", "---json"], ["inventory", "-"], ["inventory", "--=x"], ["inventory", "--help", "--version"], ["inventory", "--version", "--emulator"], ["plan", "--out", "--version"], ["status", "--expiring-within", "-1", "--emulator"], ["status", "--expiring-within=-h", "--emulator"], ["apply", "--replace", "-h"], ["apply", "--replace", "--help"], ["init", "--out=--version", "--emulator"], ["inventory", "$0", "--help"], ["ledger", "$0", "check", "--help"], ["inventory", "--emulator", "--json", "--help=false"], ["inventory", "--HELP"], ["inventory", "--Version"]])
  add(a);

// ledger's positional.
for (const a of [["ledger"], ["ledger", "bogus"], ["ledger", "CHECK"], ["ledger", "check", "repair"], ["ledger", "--force"], ["ledger", "--emulator"], ["ledger", "--emulator", "check"], ["ledger", "--force", "rebuild", "--emulator"], ["ledger", "rebuild", "--emulator"], ["ledger", "rebuild", "--emulator", "--force", "--json"], ["ledger", "repair", "--emulator"], ["ledger", "repair", "--emulator", "--json"], ["ledger", "--", "check"], ["ledger", "check", "--", "x"], ["ledger", "$0", "check"], ["ledger", "$0"], ["ledger", "--action", "check"], ["ledger", "--action=check", "--emulator"], ["ledger", "check", "--action", "repair", "--emulator"], ["ledger", "1"], ["ledger", ""], ["ledger", "-h", "check"], ["ledger", "check", "-h"], ["ledger", "chek"], ["ledger", "check", "--ledger", "nope.jsonl"], ["ledger", "check", "--ledger"]])
  add(a);

// apply specifics.
for (const a of [["apply", "--emulator", ...M], ["apply", "--emulator", "--yes", ...M, "--replace", "a", "--replace", "b"], ["apply", "--emulator", "--yes", ...M, "--replace", "a,b"], ["apply", "--emulator", "--yes", ...M, "--replace"], ["apply", "--emulator", "--yes", ...M, "--replace", "--json"], ["apply", "--emulator", "--yes", ...M, "--replace", "CR00000000000000000000000000000001"], ["apply", "--emulator", "--yes", ...M, "--replace=CR00000000000000000000000000000001"], ["apply", "--emulator", "--yes", ...M, "--no-wait"], ["apply", "--emulator", "--yes", ...M, "--wait=false"], ["apply", "--emulator", "--yes", ...M, "--no-wiat"], ["apply", "--emulator", "--yes", ...M, "--wiat"], ["apply", "--emulator", "--yes", ...M, "--plan", "nope.json"], ["apply", "--emulator", "--yes", ...M, "--plan"], ["apply", "--emulator", "-y", ...M], ["apply", "--yes=false", "--emulator", ...M], ["apply", "--replace", "a", "extra"], ["apply", "--replace", "a", "b", "--emulator", "--yes", ...M]])
  add(a);

// Sequences in one workspace (state carried over).
add([], { steps: [["plan", "--emulator", ...M, "--out", "p.json"], ["apply", "--emulator", "--yes", ...M, "--plan", "p.json", "--json"], ["status", "--emulator", "--json"], ["ledger", "check", "--emulator"], ["rollback", "--emulator", "--yes", "--json"], ["status", "--emulator"]] });
add([], { steps: [["apply", "--emulator", "--yes", ...M], ["status", "--emulator", "--expiring-within", "36500"], ["plan", "--emulator", ...M, "--detailed-exitcode"], ["ledger", "rebuild", "--emulator"], ["ledger", "rebuild", "--emulator", "--force"]] });
add([], { steps: [["init", "--emulator", "--out", "m.yaml"], ["init", "--emulator", "--out", "m.yaml"], ["init", "--emulator", "--out", "m.yaml", "--update"], ["init", "--emulator", "--out", "m.yaml", "--force"]] });

// The emulator command (does not take the global options). Serving cases are killed after a moment.
for (const a of [["emulator", "--port"], ["emulator", "--port", "abc"], ["emulator", "--port=abc"], ["emulator", "--seed"], ["emulator", "--seed", "nope.json"], ["emulator", "--latency-ms"], ["emulator", "--latency-ms", "x"], ["emulator", "--latencyMs"], ["emulator", "--visibility-delay-ms"], ["emulator", "--fault-rate"], ["emulator", "--fault-rate", "2"], ["emulator", "--max-in-flight"], ["emulator", "--bogus"], ["emulator", "--json"], ["emulator", "--emulator"], ["emulator", "--mapping", "x"], ["emulator", "extra"], ["emulator", "--prot", "1"], ["emulator", "--no-port"], ["emulator", "--log-level"], ["emulator", "--port", "-h"], ["emulator", "--port", "--help"], ["emulator", "--help=true"], ["emulator", "--version=true"], ["emulator", "$0"]])
  add(a);
for (const a of [["emulator"], ["emulator", "--port", "0"], ["emulator", "--port=0", "--latency-ms", "5"], ["emulator", "--latencyMs", "5"], ["emulator", "--log-level", "debug"], ["emulator", "--port", "0", "--port", "0"], ["emulator", "--no-version"], ["emulator", "--help=false"]])
  add(a, { killAfterMs: 20_000 });

// ---------------------------------------------------------------------------------------------
// Running
// ---------------------------------------------------------------------------------------------

function run(cli, args, cwd, env, killAfterMs) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], {
      cwd,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", LIMONADE_DEV_P12_PASSPHRASE: "fake-demo-passphrase", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b) => {
      stdout += b;
      // a serving emulator: stopped once it has said where it listens
      if (killAfterMs && stdout.includes("\n")) child.kill("SIGTERM");
    });
    child.stderr.on("data", (b) => (stderr += b));
    const hard = setTimeout(() => child.kill("SIGKILL"), 60_000);
    const soft = killAfterMs ? setTimeout(() => child.kill("SIGTERM"), killAfterMs) : undefined;
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(hard);
      if (soft) clearTimeout(soft);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

function normalise(text, dir) {
  return text
    .replaceAll(dir, "<DIR>")
    .replace(/^ +at .*\n?/gm, "") // stack traces (LOG_LEVEL=debug) name the build's own files
    .replace(/\.[0-9a-f]{12}\.tmp\b/g, ".<RND>.tmp")
    .replace(/"time":\d+/g, '"time":T')
    .replace(/"(pid|hostname)":("[^"]*"|\d+)/g, '"$1":X')
    .replace(/127\.0\.0\.1:\d+/g, "127.0.0.1:PORT")
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, "<ISO>")
    .replace(/\d{8}T\d{6}Z(-\d+)?/g, "<STAMP>")
    .replace(/\b(comms_[a-z_]+?_|run_|attempt_)[0-9a-z]{20,}\b/g, "$1<ID>")
    .replace(/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/g, "<UUID>")
    .replace(/"(runId|durationMs|elapsedMs|ms|startedAt|finishedAt)":\s*("[^"]*"|[\d.]+)/g, '"$1":X')
    .replace(/\b\d+(\.\d+)? ?(ms|s)\b/g, "<DUR>")
    .replace(/"ledgerTail":\s*"[^"]*"/g, '"ledgerTail":X')
    .replace(/"(observedFingerprint|fingerprint|ledgerSha256|planSha256)":\s*"[0-9a-f]+"/g, '"$1":X');
}

async function runCase(cli, c) {
  const dir = mkdtempSync(join(tmpdir(), "cr2comms-diff-"));
  try {
    cpSync(join(ROOT, "mappings"), join(dir, "mappings"), { recursive: true });
    const steps = c.steps ?? [c.args];
    const out = [];
    for (const s of steps) {
      const r = await run(cli, s, dir, c.env ?? {}, c.killAfterMs);
      // a serving emulator stopped by us: exit 0 (its handler) and death by SIGTERM (not yet installed) alike
      const stopped = c.killAfterMs && (r.signal === "SIGTERM" || r.code === 0 || r.code === 143);
      out.push({ code: stopped ? "stopped" : r.code, signal: stopped ? null : r.signal, stdout: normalise(r.stdout, dir), stderr: normalise(r.stderr, dir) });
    }
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const label = (c) => (c.steps ? c.steps.map((s) => s.join(" ")).join(" ; ") : c.args.map((a) => (a === "" ? "''" : /[\s$]/.test(a) ? `'${a}'` : a)).join(" ")) + (c.env ? `  [env ${Object.entries(c.env).map(([k, v]) => `${k}=${v}`).join(" ")}]` : "");

const selected = cases.filter((c) => !only || label(c).includes(only));
const diffs = [];
let next = 0;
let done = 0;
async function worker() {
  while (next < selected.length) {
    const c = selected[next++];
    const [o, n] = await Promise.all([runCase(OLD, c), runCase(NEW, c)]);
    done++;
    const same = JSON.stringify(o) === JSON.stringify(n);
    if (!same) diffs.push({ c, o, n });
    if (verbose) process.stderr.write(`${same ? "same" : "DIFF"}  ${label(c)}\n`);
  }
}
await Promise.all(Array.from({ length: Number(process.env.JOBS ?? 8) }, worker));

const show = (r) => r.map((s) => `exit ${s.code}${s.signal ? ` (${s.signal})` : ""}\n  stdout: ${JSON.stringify(s.stdout.slice(0, 400))}\n  stderr: ${JSON.stringify(s.stderr.slice(0, 400))}`).join("\n  --\n  ");
for (const { c, o, n } of diffs) {
  console.log(`\n### ${label(c)}\n OLD ${show(o)}\n NEW ${show(n)}`);
}
console.log(`\n${selected.length} vectors compared (${selected.reduce((k, c) => k + (c.steps?.length ?? 1), 0)} runs per build), ${diffs.length} differ`);
process.exit(diffs.length ? 1 : 0);
