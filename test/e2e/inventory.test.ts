import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateLegacyCredentials, SAMPLE_SEED, startEmulator, type Emulator } from "../../src/emulator/index.js";
import { emulatorEnv, parseJson, runCli } from "./harness.js";

let emu: Emulator;
beforeAll(async () => {
  emu = await startEmulator({ port: 0 });
});
afterAll(async () => {
  await emu.close();
});

describe("cr2comms inventory (built binary)", () => {
  it("prints a table with what each credential maps to and counts by type", async () => {
    const run = await runCli(["inventory"], { env: emulatorEnv(emu) });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/Legacy Conversations credentials in AC0{32}: 6 \(4 apn, 1 fcm, 1 gcm\)/);
    const line = (sid: string) => run.stdout.split("\n").find((l) => l.includes(sid)) ?? "";
    expect(run.stdout.split("\n")[0]).toBe(`Conversations API: ${emu.url}`);
    expect(line("CR00000000000000000000000000000001")).toMatch(/Limonade iOS \(production\) +apn +false +APN\b/);
    expect(line("CR00000000000000000000000000000002")).toMatch(/apn +true +APN_SANDBOX/);
    expect(line("CR00000000000000000000000000000003")).toMatch(/fcm +— +FCM/);
    expect(line("CR00000000000000000000000000000004")).toMatch(/dropped/);
    expect(line("CR00000000000000000000000000000005")).toMatch(/\(none\).*APN_SANDBOX/);
  });

  it("--json prints JSON on stdout only, logs on stderr", async () => {
    const run = await runCli(["inventory", "--json", "--comms", "--log-level", "debug"], { env: emulatorEnv(emu) });
    expect(run.code).toBe(0);
    const out = parseJson(run.stdout);
    expect(out.legacy).toHaveLength(SAMPLE_SEED.legacyCredentials!.length);
    expect(out.countsByType).toEqual({ apn: 4, fcm: 1, gcm: 1 });
    expect(out.conversationsUrl).toBe(emu.url);
    expect(out.legacy[0]).toMatchObject({ sid: "CR00000000000000000000000000000001", sandbox: false, mapsTo: "APN" });
    expect(Object.keys(out.comms)).toEqual(["marketing_web"]);
    expect(run.stderr.length).toBeGreaterThan(0);
    for (const line of run.stderr.trim().split("\n")) expect(() => JSON.parse(line)).not.toThrow();
  });

  it("--comms lists Comms credentials grouped by App", async () => {
    const run = await runCli(["inventory", "--comms"], { env: emulatorEnv(emu) });
    expect(run.stdout).toMatch(/Comms Push Notifications credentials: 1 in 1 App/);
    expect(run.stdout).toMatch(/marketing_web\n.*\n.*\ncomms_credential_\w+ +FCM +yes/);
  });

  it("works with an API key pair", async () => {
    const key = SAMPLE_SEED.apiKeys![0]!;
    const run = await runCli(["inventory", "--json"], {
      env: { ...emulatorEnv(emu), TWILIO_AUTH_TOKEN: "", TWILIO_API_KEY: key.sid, TWILIO_API_SECRET: key.secret },
    });
    expect(run.code).toBe(0);
    expect(parseJson(run.stdout).legacy).toHaveLength(6);
  });

  it("--emulator needs no account at all", async () => {
    const run = await runCli(["inventory", "--emulator", "--json", "--reports-dir", "/tmp/cr2comms-inventory-emulator"], {});
    expect(run.code).toBe(0);
    expect(parseJson(run.stdout).accountSid).toBe(SAMPLE_SEED.accountSid);
  });

  it("reads every page of a large account", async () => {
    const big = await startEmulator({ port: 0, seed: { legacyCredentials: generateLegacyCredentials(2_600) } });
    try {
      const run = await runCli(["inventory", "--json"], { env: emulatorEnv(big) });
      expect(run.code).toBe(0);
      expect(new Set(parseJson(run.stdout).legacy.map((c: any) => c.sid)).size).toBe(2_600);
      const pages = big.requests.filter((r) => r.path === "/v1/Credentials");
      expect(pages).toHaveLength(26);
      expect(pages.every((r) => r.query.PageSize === "100")).toBe(true);
    } finally {
      await big.close();
    }
  });

  it("a persistent server error is one clear line and exit 1", async () => {
    const broken = await startEmulator({ port: 0, faults: { rate: 1, kinds: ["503"], retryAfterSeconds: 0 } });
    try {
      const run = await runCli(["inventory"], { env: emulatorEnv(broken) });
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/cr2comms: .*503/);
      expect(run.stderr).not.toMatch(/\n\s+at /);
    } finally {
      await broken.close();
    }
  });
});
