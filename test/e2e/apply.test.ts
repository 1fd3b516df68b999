import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startEmulator, type Emulator, type EmulatorOptions } from "../../src/emulator/index.js";
import { DEMO_ENV, emulatorEnv, parseJson, runCli, workspace } from "./harness.js";

const SID = (n: number) => `CR${String(n).padStart(32, "0")}`;
/** What the demo mapping should leave in Comms, besides the pre-existing marketing_web FCM. */
const EXPECTED = { "limonade_ios|APN": 1, "limonade_ios|APN_SANDBOX": 1, "limonade_android|FCM": 1, "limonade_ios_beta|APN_SANDBOX": 1, "marketing_web|FCM": 1 };

let emu: Emulator | undefined;
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

async function setup(opts: EmulatorOptions = {}) {
  emu = await startEmulator({ port: 0, ...opts });
  const ws = workspace();
  const env = emulatorEnv(emu, DEMO_ENV);
  const apply = (extra: string[] = []) => runCli(["apply", "--yes", "--json", "--mapping", ws.mapping, "--reports-dir", ws.reports, ...extra], { env });
  return { emu, ws, env, apply };
}

function commsCounts(e: Emulator): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of e.state.commsCredentials()) out[`${c.appName}|${c.credentialType}`] = (out[`${c.appName}|${c.credentialType}`] ?? 0) + 1;
  return out;
}

function ledgerEvents(ws: { reports: string }): any[] {
  const path = join(ws.reports, "ledger.jsonl");
  return existsSync(path) ? readFileSync(path, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l)) : [];
}

describe("apply", () => {
  it("plan → apply → apply again: creates each credential once, then makes zero write requests", async () => {
    const { emu, ws, env, apply } = await setup({ visibilityDelayMs: 50 });
    const planned = await runCli(["plan", "--mapping", ws.mapping, "--reports-dir", ws.reports], { env });
    expect(planned.code).toBe(0);
    expect(emu.writeCount()).toBe(0);

    const first = await apply();
    expect(first.stderr).not.toMatch(/unexpected error/);
    expect(first.code).toBe(0);
    const report = parseJson(first.stdout);
    expect(report).toMatchObject({ schemaVersion: 1, kind: "apply", mode: "applied" });
    const bySid = Object.fromEntries(report.items.map((i: any) => [i.legacySid, i]));
    for (const n of [1, 2, 3, 5]) {
      expect(bySid[SID(n)]).toMatchObject({ action: "create", status: "confirmed" });
      expect(bySid[SID(n)].commsCredentialId).toMatch(/^comms_credential_/);
    }
    expect(bySid[SID(4)]).toMatchObject({ action: "drop", status: "skipped" });
    expect(bySid[SID(6)]).toMatchObject({ action: "skip", status: "skipped" });
    expect(commsCounts(emu)).toEqual(EXPECTED);
    expect(emu.state.commsCredentials().find((c) => c.id === bySid[SID(1)].commsCredentialId)?.isDefault).toBe(true);
    expect(existsSync(report.reportPaths.jsonPath)).toBe(true);
    const creates = emu.requests.filter((r) => r.method === "POST").length;
    expect(creates).toBe(4);

    const writesBefore = emu.writeCount();
    const second = await apply();
    expect(second.code).toBe(0);
    const rerun = parseJson(second.stdout);
    expect(emu.writeCount()).toBe(writesBefore);
    for (const n of [1, 2, 3, 5]) expect(rerun.items.find((i: any) => i.legacySid === SID(n))).toMatchObject({ action: "already-migrated", status: "confirmed" });
    expect(commsCounts(emu)).toEqual(EXPECTED);
  });

  it("recreates exactly the credential deleted out of band, and says so", async () => {
    const { emu, apply } = await setup();
    const first = parseJson((await apply()).stdout);
    const gone = first.items.find((i: any) => i.legacySid === SID(3)).commsCredentialId;
    emu.state.deleteComms(gone);
    const writesBefore = emu.writeCount();
    const rerun = await apply();
    expect(rerun.code).toBe(0);
    const item = parseJson(rerun.stdout).items.find((i: any) => i.legacySid === SID(3));
    expect(item).toMatchObject({ action: "create", status: "confirmed" });
    expect(item.commsCredentialId).not.toBe(gone);
    expect(item.warnings.join(" ")).toMatch(/no longer exists|recreat/i);
    expect(emu.writeCount() - writesBefore).toBe(1);
    expect(commsCounts(emu)).toEqual(EXPECTED);
  });

  it("a bad credential beside good ones: the good ones are created, the bad one reported, exit 1", async () => {
    const { emu, ws, apply } = await setup();
    writeFileSync(ws.mapping, readFileSync(ws.mapping, "utf8").replace("ios-sandbox-2.key.pem", "limonade-ios-prod.key.pem"));
    const run = await apply();
    expect(run.code).toBe(1);
    const report = parseJson(run.stdout);
    const bad = report.items.find((i: any) => i.legacySid === SID(5));
    expect(bad.status).toBe("failed");
    expect(bad.problems.join(" ")).toMatch(/match/i);
    for (const n of [1, 2, 3]) expect(report.items.find((i: any) => i.legacySid === SID(n)).status).toBe("confirmed");
    expect(existsSync(report.reportPaths.jsonPath) && existsSync(report.reportPaths.markdownPath)).toBe(true);
    const { ["limonade_ios_beta|APN_SANDBOX"]: _beta, ...rest } = EXPECTED;
    expect(commsCounts(emu)).toEqual(rest);
  });

  it("refuses to run without --yes when stdin is not a terminal", async () => {
    const { ws, env, emu } = await setup();
    const run = await runCli(["apply", "--mapping", ws.mapping, "--reports-dir", ws.reports], { env });
    expect(run.code).toBe(64);
    expect(run.stderr).toMatch(/--yes/);
    expect(emu.writeCount()).toBe(0);
  });

  it("applies a saved plan, and refuses a stale one", async () => {
    const { emu, ws, env, apply } = await setup();
    const planFile = join(ws.dir, "plan.json");
    expect((await runCli(["plan", "--out", planFile, "--mapping", ws.mapping, "--reports-dir", ws.reports], { env })).code).toBe(0);
    emu.state.addComms({ appName: "limonade_ios", credentialType: "FCM" });
    const stale = await apply(["--plan", planFile]);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toMatch(/stale/);
    expect(emu.writeCount()).toBe(0);
    expect((await runCli(["plan", "--out", planFile, "--mapping", ws.mapping, "--reports-dir", ws.reports], { env })).code).toBe(0);
    const fresh = await apply(["--plan", planFile]);
    expect(fresh.code).toBe(0);
    expect(parseJson(fresh.stdout).summary.confirmed).toBe(4);
  });
});

describe("apply under faults: every mapped credential exists exactly once", () => {
  it("429 bursts and 503s on creates, 503s on reads", async () => {
    const { emu, apply } = await setup({
      visibilityDelayMs: 100,
      faults: {
        retryAfterSeconds: 0,
        script: [
          { method: "POST", kind: "429", times: 3 },
          { method: "POST", kind: "503", times: 2 },
          { method: "GET", path: "/PushNotifications/Credentials", kind: "503", times: 3 },
          { method: "GET", path: "/v1/Credentials", kind: "503", times: 1 },
        ],
      },
    });
    const run = await apply();
    expect(run.stderr).not.toMatch(/unexpected error/);
    expect(run.code).toBe(0);
    expect(emu.requests.filter((r) => r.fault === "429").length).toBe(3);
    expect(commsCounts(emu)).toEqual(EXPECTED);
  });

  it("a connection dropped after a committed create is reconciled, not re-sent", async () => {
    const { emu, ws, apply } = await setup({
      visibilityDelayMs: 200,
      faults: { script: [{ method: "POST", path: "/PushNotifications/Credentials", kind: "drop-after-commit", times: 2 }] },
    });
    const run = await apply();
    expect(run.code).toBe(0);
    expect(commsCounts(emu)).toEqual(EXPECTED);
    expect(emu.requests.filter((r) => r.method === "POST").length).toBe(4);
    const adopted = ledgerEvents(ws).filter((e) => e.event === "accepted" && e.reconciled);
    expect(adopted).toHaveLength(2);
  });

  it("a 500 after a committed create is reconciled and adopted, not re-sent", async () => {
    const { emu, ws, apply } = await setup({
      faults: { script: [{ method: "POST", path: "/PushNotifications/Credentials", kind: "500-after-commit", times: 1 }] },
    });
    const run = await apply();
    expect(run.code).toBe(0);
    expect(commsCounts(emu)).toEqual(EXPECTED);
    expect(emu.requests.filter((r) => r.method === "POST").length).toBe(4);
    expect(ledgerEvents(ws).filter((e) => e.event === "accepted" && e.reconciled)).toHaveLength(1);
  });

  it("a random mix of faults with the concurrency limit and delayed visibility", async () => {
    const { emu, ws, apply } = await setup({ visibilityDelayMs: 150, maxInFlight: 2, faults: { rate: 0.25, seed: 7, retryAfterSeconds: 0 } });
    const run = await apply(["--concurrency", "8"]);
    expect(run.stderr).not.toMatch(/unexpected error/);
    // Even the faulted run: every legacy credential is in the report once, and nothing is duplicated.
    const report = parseJson(run.stdout);
    expect(report.items.map((i: any) => i.legacySid).sort()).toEqual([1, 2, 3, 4, 5, 6].map(SID));
    for (const n of Object.values(commsCounts(emu))) expect(n).toBe(1);
    // The exit code is checked against the ledger and Comms, not against the report's own statuses.
    const events = ledgerEvents(ws);
    const live = new Set(emu.state.commsCredentials().map((c) => c.id));
    const lastConfirmed = new Map<string, string>();
    for (const e of events) if (e.event === "confirmed") lastConfirmed.set(e.legacySid, e.commsCredentialId);
    const allDone = [1, 2, 3, 5].every((n) => live.has(lastConfirmed.get(SID(n)) ?? ""));
    expect(run.code).toBe(allDone ? 0 : 1);
    for (const i of report.items.filter((x: any) => x.status === "confirmed")) expect(live.has(i.commsCredentialId)).toBe(true);
    // And a rerun converges with exactly one credential each.
    emu.setFaults(undefined);
    const rerun = await apply();
    expect(rerun.code).toBe(0);
    expect(commsCounts(emu)).toEqual(EXPECTED);
  });

  it("SIGKILL mid-apply with creates in flight, then a rerun: each credential exactly once", async () => {
    const { emu, ws, env, apply } = await setup({ latencyMs: 400, visibilityDelayMs: 100 });
    const killed = await runCli(["apply", "--yes", "--mapping", ws.mapping, "--reports-dir", ws.reports], {
      env,
      onSpawn: (kill) => {
        // Kill once all four creates have reached the server and before any answer (400 ms latency).
        const timer = setInterval(() => {
          if (emu.requests.filter((r) => r.method === "POST").length >= 4) {
            clearInterval(timer);
            kill("SIGKILL");
          }
        }, 20);
      },
    });
    expect(killed.signal).toBe("SIGKILL");
    const events = ledgerEvents(ws);
    expect(events.filter((e) => e.event === "attempt").length).toBeGreaterThanOrEqual(3);
    expect(events.filter((e) => e.event === "confirmed").length).toBeLessThan(4);

    emu.setFaults(undefined);
    const rerun = await apply();
    expect(rerun.code).toBe(0);
    expect(commsCounts(emu)).toEqual(EXPECTED);
    const again = await apply();
    expect(again.code).toBe(0);
    expect(commsCounts(emu)).toEqual(EXPECTED);
  });
});

describe("apply interrupted with Ctrl-C", () => {
  it("finishes the requests in flight, records them, writes the report, exits 130", async () => {
    const { emu, ws, env } = await setup({ latencyMs: 300 });
    const run = await runCli(["apply", "--yes", "--concurrency", "1", "--mapping", ws.mapping, "--reports-dir", ws.reports], {
      env,
      onSpawn: (kill) => {
        // Once a create has reached Comms (it is in flight for 300 ms): a write not yet sent when
        // the signal comes is never sent, so the signal must find one on the wire.
        const timer = setInterval(() => {
          if (emu.requests.some((r) => r.method === "POST")) {
            clearInterval(timer);
            kill("SIGINT");
          }
        }, 10);
      },
    });
    expect(run.code).toBe(130);
    const report = JSON.parse(readFileSync(run.stdout.match(/(\S+apply-\S+\.json)/)![1]!, "utf8"));
    expect(report.interrupted).toBe(true);
    const creates = report.items.filter((i: any) => i.action === "create");
    // Sent before the signal: confirmed, or accepted and left for a rerun to confirm (the wait for visibility stops).
    const done = creates.filter((i: any) => i.status === "confirmed" || i.status === "accepted-unconfirmed");
    const notStarted = creates.filter((i: any) => i.status === "planned");
    expect(done.length).toBeGreaterThanOrEqual(1);
    expect(notStarted.length).toBeGreaterThanOrEqual(1);
    expect(done.length + notStarted.length).toBe(4);
    // Every attempt in the ledger has its outcome; what was created is exactly what the report says.
    const events = ledgerEvents(ws);
    for (const a of events.filter((e) => e.event === "attempt")) {
      expect(events.some((e) => e.attemptId === a.attemptId && e.event === "accepted")).toBe(true);
    }
    expect(emu.state.commsCredentials().length).toBe(1 + done.length);
  });
});
