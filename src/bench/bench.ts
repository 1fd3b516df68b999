/**
 * `npm run bench`: where the time goes. Not a test — it prints figures and writes
 * reports/bench-<ts>.json. Everything runs against the embedded emulator on loopback with 50 ms of
 * latency per request and a 200 ms visibility delay after each 202.
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { apply } from "../apply/writer.js";
import { createCommsClient } from "../comms/index.js";
import type { CommsClient } from "../comms/types.js";
import type { SecretResult } from "../domain.js";
import { generateLegacyCredentials, startEmulator, type Emulator, type EmulatorOptions } from "../emulator/index.js";
import { MemoryLedger } from "../ledger/ledger.js";
import { createLegacyReader } from "../legacy/index.js";
import { DEFAULT_CONCURRENCY, LEGACY_PAGE_SIZE } from "../limits.js";
import type { Mapping, MappingEntry } from "../mapping/types.js";
import { observe } from "../observe/observe.js";
import { plan as makePlan, secretsNeeded } from "../plan/index.js";
import { encodeContent, resolveEntrySecrets } from "../secrets/index.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const SECRETS = join(ROOT, "mappings", "examples", "secrets");
const LATENCY_MS = 50;
const VISIBILITY_MS = 200;
const N = 100;
const APPS = 10;

interface Row {
  scenario: string;
  concurrency: number | "";
  seconds: number;
  requests: number;
  retries: number;
  floorSeconds?: number;
  vsFloor?: number;
  speedup?: number;
  note?: string;
}

const rows: Row[] = [];
const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;

function benchMapping(dir: string, legacy: ReturnType<typeof generateLegacyCredentials>): Mapping {
  const credentials: MappingEntry[] = legacy.map((c, k) => {
    const app = `bench_app_${Math.floor(k / (N / APPS))}`;
    const secrets: MappingEntry["secrets"] =
      c.type === "fcm"
        ? { serviceAccount: "file:limonade-android-sa.json" }
        : c.sandbox === "True"
          ? { certificate: "file:ios-sandbox-2.cert.pem", privateKey: "file:ios-sandbox-2.key.pem" }
          : { certificate: "file:limonade-ios-prod.cert.pem", privateKey: "file:limonade-ios-prod.key.pem" };
    return { sid: c.sid, appName: app, secrets, index: k };
  });
  return { version: 1, credentials, path: join(dir, "bench.yaml") };
}

async function withEmulator<T>(opts: EmulatorOptions, fn: (emu: Emulator, comms: CommsClient) => Promise<T>): Promise<T> {
  const emu = await startEmulator({ port: 0, latencyMs: LATENCY_MS, visibilityDelayMs: VISIBILITY_MS, ...opts });
  const comms = createCommsClient({ baseUrl: emu.url, apiVersion: "v1", accountSid: emu.accountSid, username: emu.accountSid, password: emu.authToken });
  try {
    return await fn(emu, comms);
  } finally {
    await comms.close();
    await emu.close();
  }
}

/** observe → plan → apply of 100 credentials in 10 Apps, in process (no Node start-up in the figure). */
async function benchApply(concurrency: number, opts: EmulatorOptions = {}, label = "apply 100 (10 Apps × 10)"): Promise<Row> {
  const legacySeed = generateLegacyCredentials(N, { types: ["apn", "apn", "fcm"] });
  return withEmulator({ seed: { legacyCredentials: legacySeed }, ...opts }, async (emu, comms) => {
    const mapping = benchMapping(SECRETS, legacySeed);
    const ledger = new MemoryLedger();
    const t0 = performance.now();
    const legacy = createLegacyReader({ accountSid: emu.accountSid, username: emu.accountSid, password: emu.authToken, baseUrl: emu.url });
    const snapshot = await observe({ accountSid: emu.accountSid, legacy, comms, ledger, now: () => new Date() });
    const secrets = new Map<string, SecretResult>();
    for (const { entry, target } of secretsNeeded(snapshot, mapping)) {
      secrets.set(entry.sid, await resolveEntrySecrets(entry, target, { mappingDir: SECRETS, env: {}, now: new Date(), interactive: false }));
    }
    const plan = makePlan(snapshot, mapping, secrets, { now: new Date() });
    const result = await apply(plan, { comms, ledger, secrets, concurrency, existing: snapshot.comms });
    const seconds = (performance.now() - t0) / 1000;
    const confirmed = result.items.filter((i) => i.status === "confirmed").length;
    if (confirmed !== N) throw new Error(`bench apply confirmed ${confirmed}/${N}: ${JSON.stringify(result.items.find((i) => i.status !== "confirmed"))}`);
    const byKind = emu.requests.reduce<Record<string, number>>((acc, r) => {
      const k = `${r.api} ${r.method}`;
      acc[k] = (acc[k] ?? 0) + 1;
      return acc;
    }, {});
    // Floor: one round trip to observe (legacy and Comms lists run in parallel), ⌈N/c⌉ create
    // round trips, the visibility delay of the last create, and one read to confirm it.
    const floor = ((2 + Math.ceil(N / Math.min(concurrency, N))) * LATENCY_MS + VISIBILITY_MS) / 1000;
    return {
      scenario: label,
      concurrency,
      seconds: round(seconds),
      requests: emu.requests.length,
      retries: comms.stats.retries,
      floorSeconds: round(floor),
      vsFloor: round(seconds / floor),
      note: Object.entries(byKind).map(([k, v]) => `${k} ${v}`).join(", ") + (emu.requests.some((r) => r.status === 429) ? `; 429s ${emu.requests.filter((r) => r.status === 429).length}` : ""),
    };
  });
}

/** The naive way: POST one credential, poll its location until visible, then the next. */
async function benchSequential(): Promise<Row> {
  const legacySeed = generateLegacyCredentials(N, { types: ["apn", "apn", "fcm"] });
  return withEmulator({ seed: { legacyCredentials: legacySeed } }, async (emu, comms) => {
    const mapping = benchMapping(SECRETS, legacySeed);
    const resolved: { entry: MappingEntry; secret: SecretResult; type: "APN" | "APN_SANDBOX" | "FCM" }[] = [];
    for (const [k, entry] of mapping.credentials.entries()) {
      const c = legacySeed[k]!;
      const type = c.type === "fcm" ? "FCM" : c.sandbox === "True" ? "APN_SANDBOX" : "APN";
      resolved.push({ entry, type, secret: await resolveEntrySecrets(entry, type, { mappingDir: SECRETS, env: {}, now: new Date(), interactive: false }) });
    }
    const t0 = performance.now();
    for (const r of resolved) {
      const accepted = await comms.create({ appName: r.entry.appName!, credentialType: r.type, content: encodeContent(r.secret.secret!) });
      while (!(await comms.fetchLocation(accepted.resourceLocation))) await new Promise((res) => setTimeout(res, 25));
    }
    return { scenario: "naive sequential (POST, poll, next)", concurrency: 1, seconds: round((performance.now() - t0) / 1000), requests: emu.requests.length, retries: comms.stats.retries };
  });
}

/** `cr2comms plan` (the built CLI) over 10,000 legacy credentials with 100 mapped: wall time and peak RSS. */
async function benchPlan10k(): Promise<Row & { peakRssMiB: number }> {
  const mapped = generateLegacyCredentials(N, { types: ["apn", "apn", "fcm"] });
  const rest = generateLegacyCredentials(10_000 - N, { startIndex: N + 1 });
  const dir = mkdtempSync(join(tmpdir(), "cr2comms-bench-"));
  const mapping = benchMapping(SECRETS, mapped);
  const yaml = ["version: 1", "credentials:"];
  for (const e of mapping.credentials) {
    yaml.push(`  - sid: ${e.sid}`, `    appName: ${e.appName}`, "    secrets:");
    for (const [k, v] of Object.entries(e.secrets ?? {})) yaml.push(`      ${k}: ${v.replace("file:", `file:${SECRETS}/`)}`);
  }
  writeFileSync(join(dir, "bench.yaml"), yaml.join("\n") + "\n");
  return withEmulator({ seed: { legacyCredentials: [...mapped, ...rest] } }, async (emu) => {
    const t0 = performance.now();
    const { code, peakKiB } = await runAndWatch(
      [join(ROOT, "dist", "cli.js"), "plan", "--json", "--mapping", join(dir, "bench.yaml"), "--reports-dir", join(dir, "reports")],
      { TWILIO_ACCOUNT_SID: emu.accountSid, TWILIO_AUTH_TOKEN: emu.authToken, CR2COMMS_CONVERSATIONS_URL: emu.url, CR2COMMS_COMMS_URL: emu.url, LOG_LEVEL: "warn" },
    );
    const seconds = (performance.now() - t0) / 1000;
    if (code !== 0) throw new Error(`bench plan exited ${code}`);
    const pages = Math.ceil(10_000 / LEGACY_PAGE_SIZE);
    const floor = (pages * LATENCY_MS) / 1000;
    return {
      scenario: "plan 10,000 legacy (100 mapped), built CLI",
      concurrency: "",
      seconds: round(seconds),
      requests: emu.requests.length,
      retries: 0,
      floorSeconds: round(floor),
      vsFloor: round(seconds / floor),
      peakRssMiB: round(peakKiB / 1024, 1),
      note: `${pages} legacy pages in sequence (next_page_url) is the floor; peak RSS ${round(peakKiB / 1024, 1)} MiB`,
    };
  });
}

const STARTUP_RUNS = 10;

/** Wall time of one `node …` run to exit, in seconds. */
function timeNode(args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, args, { env: { PATH: process.env.PATH ?? "" }, stdio: "ignore" });
    child.on("error", reject);
    child.on("exit", () => resolve((performance.now() - t0) / 1000));
  });
}

/**
 * Start-up: bare Node, `--version` and `--help`, interleaved (so machine noise hits all three
 * alike), median of STARTUP_RUNS each. The floor is `node -e 0`; the target is ≤ 2.5× it.
 */
async function benchStartup(): Promise<Row[]> {
  const cli = join(ROOT, "dist", "cli.js");
  const cases = [
    { scenario: "start-up: node -e 0", args: ["-e", "0"] },
    { scenario: "start-up: cr2comms --version", args: [cli, "--version"] },
    { scenario: "start-up: cr2comms --help", args: [cli, "--help"] },
  ];
  const times: number[][] = cases.map(() => []);
  for (let i = 0; i < STARTUP_RUNS; i++) {
    for (const [k, c] of cases.entries()) times[k]!.push(await timeNode(c.args));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const floor = median(times[0]!);
  return cases.map((c, k) => {
    const seconds = median(times[k]!);
    return { scenario: c.scenario, concurrency: "", seconds: round(seconds, 3), requests: 0, retries: 0, floorSeconds: round(floor, 3), vsFloor: round(seconds / floor, 2), note: `median of ${STARTUP_RUNS}` };
  });
}

/** Runs node with args and samples the child's VmHWM (peak resident set) from /proc. */
function runAndWatch(args: string[], env: Record<string, string>): Promise<{ code: number | null; peakKiB: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env: { PATH: process.env.PATH ?? "", ...env }, stdio: ["ignore", "ignore", "inherit"] });
    let peakKiB = 0;
    const sample = () => {
      try {
        const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"));
        if (m) peakKiB = Math.max(peakKiB, Number(m[1]));
      } catch {
        /* exited */
      }
    };
    const timer = setInterval(sample, 20);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearInterval(timer);
      resolve({ code, peakKiB });
    });
  });
}

function printTable(): void {
  const headers = ["scenario", "conc.", "seconds", "floor s", "× floor", "× faster than seq.", "requests", "retries"];
  const body = rows.map((r) => [r.scenario, String(r.concurrency), r.seconds.toFixed(r.seconds < 1 ? 3 : 2), r.floorSeconds?.toFixed(r.floorSeconds < 1 ? 3 : 2) ?? "", r.vsFloor?.toFixed(2) ?? "", r.speedup?.toFixed(1) ?? "", String(r.requests), String(r.retries)]);
  const widths = headers.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => "| " + cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ") + " |";
  console.log(line(headers));
  console.log("|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|");
  for (const b of body) console.log(line(b));
}

async function main(): Promise<void> {
  console.error(`cr2comms bench: emulator latency ${LATENCY_MS} ms/request, visibility delay ${VISIBILITY_MS} ms, ${N} credentials in ${APPS} Apps`);
  const sequential = await benchSequential();
  rows.push(sequential);
  const applyRows: Row[] = [];
  const defaultRow = await benchApply(DEFAULT_CONCURRENCY, {}, "apply 100 (10 Apps × 10), default concurrency");
  applyRows.push(defaultRow);
  for (const c of [1, 2, 4, 8, 16]) applyRows.push(await benchApply(c));
  for (const r of applyRows) r.speedup = round(sequential.seconds / r.seconds, 1);
  rows.push(...applyRows);
  const plan10k = await benchPlan10k();
  rows.push(plan10k);
  rows.push(await benchApply(8, { maxInFlight: 5 }, "apply 100, emulator limit 5 in flight"));
  rows.push(await benchApply(4, { maxInFlight: 5 }, "apply 100, emulator limit 5 in flight"));

  const startup = await benchStartup();
  rows.push(...startup);

  printTable();
  const at = new Date();
  const stamp = at.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
  const out = join(ROOT, "reports", `bench-${stamp}.json`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(
    out,
    JSON.stringify({ generatedAt: at.toISOString(), node: process.version, latencyMs: LATENCY_MS, visibilityDelayMs: VISIBILITY_MS, credentials: N, apps: APPS, rows }, null, 2) + "\n",
  );
  const targets = [
    `start-up: --version ${startup[1]!.vsFloor}×, --help ${startup[2]!.vsFloor}× a bare \`node -e 0\` (target ≤ 2.5×)`,
    `default concurrency ${DEFAULT_CONCURRENCY}: ${defaultRow.speedup}× faster than sequential (target ≥ 8×), ${defaultRow.vsFloor}× the floor (target ≤ 1.5×)`,
    `plan over 10k: ${plan10k.vsFloor}× its paging floor (target ≤ 1.5×), peak RSS ${plan10k.peakRssMiB} MiB (target < 200 MiB)`,
  ];
  console.log("\n" + targets.join("\n"));
  console.log(`\nWritten to ${out}`);
}

await main();
