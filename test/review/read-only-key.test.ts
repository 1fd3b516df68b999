/**
 * The emulator serves a restricted read-only API key: reads work, writes are answered 403 (code
 * 20403) as Twilio does. The commands that only read need nothing more.
 */
import { afterEach, describe, expect, it } from "vitest";
import { createCommsClient } from "../../src/comms/index.js";
import { PermissionError } from "../../src/errors.js";
import { runEmulatorCommand, SAMPLE_SEED, startEmulator, type Emulator } from "../../src/emulator/index.js";
import { DEMO_ENV, runCli, workspace } from "../e2e/harness.js";

let emu: Emulator | undefined;
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

const readOnly = () => {
  const key = SAMPLE_SEED.apiKeys.find((k) => k.readOnly === true);
  expect(key).toBeDefined();
  return key!;
};

describe("the emulator's read-only API key", () => {
  it("reads, and is answered 403 code 20403 to a write, which changes nothing", async () => {
    emu = await startEmulator({ port: 0 });
    const key = readOnly();
    const client = createCommsClient({ baseUrl: emu.url, apiVersion: "v1", username: key.sid, password: key.secret, accountSid: emu.accountSid });
    try {
      expect((await client.list()).length).toBe(1);
      const error = await client.create({ appName: "a", credentialType: "FCM", content: { privateKey: "eyJ9" } }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PermissionError);
      expect((error as PermissionError).code).toBe(20403);
      expect((error as Error).message).toMatch(/not authorized/);
      expect(emu.state.commsCredentials()).toHaveLength(1);
      expect(emu.requests.map((r) => [r.method, r.status])).toEqual([["GET", 200], ["POST", 403]]);
    } finally {
      await client.close();
    }
  });

  it("is printed by `cr2comms emulator` with the other credentials", async () => {
    const lines: string[] = [];
    emu = await runEmulatorCommand({}, (l) => lines.push(l));
    const key = readOnly();
    expect(lines.join("\n")).toContain(`read-only API key ${key.sid} / ${key.secret}`);
  });

  it("inventory, init, plan and status succeed with it and send no request but GET", async () => {
    emu = await startEmulator({ port: 0 });
    const key = readOnly();
    const ws = workspace();
    const env = { ...DEMO_ENV, TWILIO_ACCOUNT_SID: emu.accountSid, TWILIO_API_KEY: key.sid, TWILIO_API_SECRET: key.secret, CR2COMMS_CONVERSATIONS_URL: emu.url, CR2COMMS_COMMS_URL: emu.url };
    const common = ["--reports-dir", ws.reports];
    for (const args of [
      ["inventory", "--comms"],
      ["init", "--mapping", `${ws.dir}/mappings/scaffold.yaml`],
      ["plan", "--mapping", ws.mapping],
      ["status", "--mapping", ws.mapping],
    ]) {
      const run = await runCli([...args, ...common], { env });
      expect(run.code, `${args[0]}: ${run.stderr.slice(-500)}`).toBe(0);
    }
    expect(emu.requests.length).toBeGreaterThan(0);
    expect(emu.requests.filter((r) => r.method !== "GET")).toEqual([]);
    expect(emu.requests.every((r) => r.status === 200)).toBe(true);
  });
});

describe("apply with the emulator's read-only API key", () => {
  it("stops after the first 403: no further write is sent, the rest stay planned, exit 1, and it says the key lacks write permission", async () => {
    emu = await startEmulator({ port: 0 });
    const key = readOnly();
    const ws = workspace();
    const env = { ...DEMO_ENV, TWILIO_ACCOUNT_SID: emu.accountSid, TWILIO_API_KEY: key.sid, TWILIO_API_SECRET: key.secret, CR2COMMS_CONVERSATIONS_URL: emu.url, CR2COMMS_COMMS_URL: emu.url };
    const run = await runCli(["apply", "--yes", "--json", "--mapping", ws.mapping, "--reports-dir", ws.reports], { env });
    expect(run.code, run.stderr.slice(-800)).toBe(1);
    const writes = emu.requests.filter((r) => r.method !== "GET");
    expect(writes.map((r) => [r.method, r.status])).toEqual([["POST", 403]]);
    expect(emu.state.commsCredentials()).toHaveLength(1);
    const report = JSON.parse(run.stdout) as { items: { status?: string; action: string }[]; problems?: string[] };
    const statuses = report.items.filter((i) => i.action === "create").map((i) => i.status);
    expect(statuses.filter((s) => s === "failed")).toHaveLength(1);
    expect(statuses.filter((s) => s === "planned").length).toBe(statuses.length - 1);
    expect(statuses.length).toBeGreaterThan(1);
    expect(`${run.stderr}\n${run.stdout}`).toMatch(/lacks write permission/);
    expect(`${run.stderr}\n${run.stdout}\n${JSON.stringify(report)}`).not.toContain(key.secret);
  });
});
