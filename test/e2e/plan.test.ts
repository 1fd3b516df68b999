import { copyFileSync, mkdirSync, readFileSync, readdirSync, writeFileSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { startEmulator, type Emulator } from "../../src/emulator/index.js";
import { readP12 } from "../../src/secrets/index.js";
import { DEMO_ENV, emulatorEnv, parseJson, runCli, workspace } from "./harness.js";

const SID = (n: number) => `CR${String(n).padStart(32, "0")}`;
let emu: Emulator;
let ws: ReturnType<typeof workspace>;

beforeEach(async () => {
  emu = await startEmulator({ port: 0 });
  ws = workspace();
});
afterEach(async () => {
  await emu.close();
});

const plan = (extra: string[] = [], env: Record<string, string> = {}) =>
  runCli(["plan", "--json", "--mapping", ws.mapping, "--reports-dir", ws.reports, ...extra], { env: emulatorEnv(emu, { ...DEMO_ENV, ...env }) });

describe("plan against the emulator's sample data", () => {
  it("plans every legacy credential once, writes reports, and sends no write request", async () => {
    const run = await plan(["--detailed-exitcode"]);
    expect(run.stderr).not.toMatch(/unexpected error/);
    expect(run.code).toBe(2);
    const report = parseJson(run.stdout);
    const bySid = Object.fromEntries(report.items.map((i: any) => [i.legacySid, i]));
    expect(report.items).toHaveLength(6);
    expect(bySid[SID(1)]).toMatchObject({ action: "create", target: { appName: "limonade_ios", credentialType: "APN", isDefault: true } });
    expect(bySid[SID(2)]).toMatchObject({ action: "create", target: { appName: "limonade_ios", credentialType: "APN_SANDBOX" } });
    expect(bySid[SID(3)]).toMatchObject({ action: "create", target: { appName: "limonade_android", credentialType: "FCM" } });
    expect(bySid[SID(4)].action).toBe("drop");
    // Item messages leave the sid to the item (and the Markdown names it once per line).
    expect(bySid[SID(4)].warnings.join(" ")).toMatch(/gcm credential: GCM was shut down/);
    expect(bySid[SID(5)]).toMatchObject({ action: "create", target: { appName: "limonade_ios_beta", credentialType: "APN_SANDBOX" } });
    expect(bySid[SID(6)].action).toBe("skip");
    expect(bySid[SID(1)].secret).toMatchObject({ environment: "production" });
    expect(bySid[SID(3)].secret.projectId).toBeTruthy();
    expect(report.summary).toMatchObject({ create: 4, drop: 1, skip: 1 });
    expect(existsSync(report.reportPaths.jsonPath) && existsSync(report.reportPaths.markdownPath)).toBe(true);
    expect(readdirSync(ws.reports).filter((f) => /^plan-\d{8}T\d{6}Z(-\d+)?\.(json|md)$/.test(f))).toHaveLength(2);
    expect(emu.writeCount()).toBe(0);
    expect(emu.requests.filter((r) => r.method !== "GET")).toEqual([]);
  });

  it("exits 0 without --detailed-exitcode and prints a readable summary and the report paths", async () => {
    const run = await runCli(["plan", "--mapping", ws.mapping, "--reports-dir", ws.reports], { env: emulatorEnv(emu, DEMO_ENV) });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/4 create/);
    expect(run.stdout).toMatch(/plan-\d{8}T\d{6}Z\.md/);
  });

  it("init writes a scaffold that plans cleanly once its secret files exist", async () => {
    const out = join(ws.dir, "mappings", "migration.yaml");
    const init = await runCli(["init", "--out", out], { env: emulatorEnv(emu) });
    expect(init.code).toBe(0);
    const text = readFileSync(out, "utf8");
    expect(text).toMatch(/CR00000000000000000000000000000004/); // gcm, as a comment
    const doc = parseYaml(text) as { credentials: { sid: string; secrets?: Record<string, string> }[] };
    expect(doc.credentials.map((c) => c.sid).sort()).toEqual([SID(1), SID(2), SID(3), SID(5), SID(6)]);

    // Without the secret files every create is blocked, naming the file, and the rest are still planned.
    const blocked = await plan(["--mapping", out]);
    expect(blocked.code).toBe(1);
    const blockedReport = parseJson(blocked.stdout);
    expect(blockedReport.items).toHaveLength(6);
    expect(blockedReport.items.filter((i: any) => i.action === "blocked")).toHaveLength(5);
    expect(blockedReport.items.find((i: any) => i.legacySid === SID(1)).problems.join(" ")).toMatch(/secrets\//);

    // Put fake secrets where the scaffold points.
    const fx = join(ws.dir, "mappings", "examples", "secrets");
    const sandbox: Record<string, boolean> = { [SID(1)]: false, [SID(2)]: true, [SID(5)]: true, [SID(6)]: false };
    for (const c of doc.credentials) {
      for (const [field, ref] of Object.entries(c.secrets ?? {})) {
        const path = join(dirname(out), ref.replace(/^file:/, ""));
        mkdirSync(dirname(path), { recursive: true });
        const apn = sandbox[c.sid] ? "ios-sandbox-2" : "limonade-ios-prod";
        const source = field === "serviceAccount" ? "limonade-android-sa.json" : field === "certificate" ? `${apn}.cert.pem` : `${apn}.key.pem`;
        copyFileSync(join(fx, source), path);
      }
    }
    const ok = await plan(["--mapping", out, "--detailed-exitcode"]);
    expect(ok.stderr).not.toMatch(/problem/i);
    expect(ok.code).toBe(2);
    expect(parseJson(ok.stdout).summary).toMatchObject({ create: 5, drop: 1 });
    expect(emu.writeCount()).toBe(0);
  });

  it("init never overwrites without --force", async () => {
    const run = await runCli(["init", "--out", ws.mapping], { env: emulatorEnv(emu) });
    expect(run.code).toBe(64);
    expect(run.stderr).toMatch(/--force/);
    expect(readFileSync(ws.mapping, "utf8")).toMatch(/limonade_ios_beta/);
  });
});

describe("bad input: one clear line, the right exit code, the others still planned", () => {
  const editMapping = (fn: (text: string) => string) => writeFileSync(ws.mapping, fn(readFileSync(ws.mapping, "utf8")));

  it("an unknown sid in the mapping is a blocking problem naming it", async () => {
    editMapping((t) => t + `  - sid: CR${"f".repeat(32)}\n    appName: ghost\n    secrets:\n      serviceAccount: file:examples/secrets/limonade-android-sa.json\n`);
    const run = await plan();
    expect(run.code).toBe(1);
    const report = parseJson(run.stdout);
    expect(report.problems.join(" ")).toContain(`CR${"f".repeat(32)}`);
    expect(report.summary.create).toBe(4);
  });

  it("a literal secret is refused for that credential only, without echoing it", async () => {
    editMapping((t) => t.replace("file:examples/secrets/limonade-android-sa.json", "'{\"type\":\"service_account\",\"private_key\":\"LITERAL-SECRET-VALUE\"}'"));
    const run = await plan();
    expect(run.code).toBe(1);
    const report = parseJson(run.stdout);
    const item = report.items.find((i: any) => i.legacySid === SID(3));
    expect(item.action).toBe("blocked");
    expect(item.problems.join(" ")).toMatch(/literal/i);
    expect(run.stdout + run.stderr).not.toContain("LITERAL-SECRET-VALUE");
    expect(report.summary.create).toBe(3);
  });

  it("a missing environment variable names the variable", async () => {
    const run = await runCli(["plan", "--json", "--mapping", ws.mapping, "--reports-dir", ws.reports], { env: emulatorEnv(emu) });
    expect(run.code).toBe(1);
    const item = parseJson(run.stdout).items.find((i: any) => i.legacySid === SID(2));
    expect(item.action).toBe("blocked");
    expect(item.problems.join(" ")).toContain("LIMONADE_DEV_P12_PASSPHRASE");
  });

  it("prompt without a terminal is a blocking problem, not a hang", async () => {
    editMapping((t) => t.replace("env:LIMONADE_DEV_P12_PASSPHRASE", "prompt"));
    const run = await plan();
    expect(run.code).toBe(1);
    const item = parseJson(run.stdout).items.find((i: any) => i.legacySid === SID(2));
    expect(item.problems.join(" ")).toMatch(/terminal|interactive/i);
  });

  it("a key that does not match its certificate blocks that credential", async () => {
    editMapping((t) => t.replace("ios-sandbox-2.key.pem", "limonade-ios-prod.key.pem"));
    const run = await plan();
    expect(run.code).toBe(1);
    const item = parseJson(run.stdout).items.find((i: any) => i.legacySid === SID(5));
    expect(item.action).toBe("blocked");
    expect(item.problems.join(" ")).toMatch(/match/i);
    expect(parseJson(run.stdout).summary.create).toBe(3);
  });

  it("an unreadable or invalid mapping file is a usage error (64) naming the file", async () => {
    const missing = await runCli(["plan", "--mapping", join(ws.dir, "nope.yaml")], { env: emulatorEnv(emu) });
    expect(missing.code).toBe(64);
    expect(missing.stderr).toContain("nope.yaml");
    editMapping((t) => t.replace("appName: limonade_android", "appname: limonade_android"));
    const typo = await plan();
    expect(typo.code).toBe(64);
    expect(typo.stderr).toMatch(/appname/);
    expect(typo.stderr.trim().split("\n").length).toBeLessThan(10);
  });

  it("an unknown flag is a usage error (64)", async () => {
    const run = await runCli(["plan", "--no-such-flag"], { env: emulatorEnv(emu) });
    expect(run.code).toBe(64);
  });

  it("missing credentials name the variable; a wrong token is an authentication failure (1)", async () => {
    const none = await runCli(["inventory"], {});
    expect(none.code).toBe(64);
    expect(none.stderr).toMatch(/TWILIO_ACCOUNT_SID/);
    const wrong = await runCli(["inventory"], { env: emulatorEnv(emu, { TWILIO_AUTH_TOKEN: "wrong" }) });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain(`authentication failed for account ${emu.accountSid}`);
    expect(wrong.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });
});

describe("secrets never leak", () => {
  it("no secret byte in stdout, stderr (debug logs), the plan or apply reports, or the ledger", async () => {
    const run = await plan([], { LOG_LEVEL: "debug" });
    const mdRun = await runCli(["plan", "--mapping", ws.mapping, "--reports-dir", ws.reports, "--log-level", "debug"], { env: emulatorEnv(emu, DEMO_ENV) });
    const applied = await runCli(["apply", "--yes", "--mapping", ws.mapping, "--reports-dir", ws.reports, "--log-level", "debug"], { env: emulatorEnv(emu, DEMO_ENV) });
    expect(applied.code).toBe(0);
    const files = readdirSync(ws.reports).filter((f) => /^(plan|apply)-/.test(f) || f === "ledger.jsonl");
    const reports = files.map((f) => readFileSync(join(ws.reports, f), "utf8"));
    const everything = [run.stdout, run.stderr, mdRun.stdout, mdRun.stderr, applied.stdout, applied.stderr, ...reports].join("\n");
    expect(files.filter((f) => f.startsWith("plan-"))).toHaveLength(4);
    expect(files.filter((f) => f.startsWith("apply-"))).toHaveLength(2);
    expect(files).toContain("ledger.jsonl");
    // The secrets did reach Comms (the emulator keeps what it was sent), so the needles are real.
    expect(emu.state.commsCredentials().length).toBe(5);

    const fx = join(ws.dir, "mappings", "examples", "secrets");
    const needles: string[] = [];
    for (const f of readdirSync(fx).filter((f) => f.endsWith(".pem"))) {
      const pem = readFileSync(join(fx, f), "utf8");
      const body = pem.split("\n").filter((l) => l && !l.startsWith("-----"));
      needles.push(...body.slice(1, 3)); // two full base64 lines of each PEM body
      needles.push(Buffer.from(pem).toString("base64").slice(40, 100));
    }
    const saText = readFileSync(join(fx, "limonade-android-sa.json"));
    const sa = JSON.parse(saText.toString("utf8"));
    // base64 of the raw file is exactly what is sent in content.privateKey
    needles.push(sa.private_key.split("\n")[2], saText.toString("base64").slice(40, 100));
    // The dev credential comes from a .p12: its key and certificate bodies must not leak either.
    const p12 = readP12(readFileSync(join(fx, "limonade-ios-dev.p12")), "fake-demo-passphrase");
    if (!("certificatePem" in p12)) throw new Error("demo p12 did not open");
    for (const pem of [p12.certificatePem, p12.privateKeyPem]) needles.push(...pem.split("\n").filter((l) => l && !l.startsWith("-----")).slice(1, 3));
    needles.push("fake-demo-passphrase");
    for (const needle of needles) {
      expect(needle.length).toBeGreaterThan(10);
      expect(everything.includes(needle), `leaked: ${needle.slice(0, 12)}…`).toBe(false);
    }
  });
});
