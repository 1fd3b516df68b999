/**
 * A 401 names the host and which credential was used (the variable or flag), never its value; a
 * 403 says the credential lacks permission for that request (method, host, what it was).
 */
import { afterEach, describe, expect, it } from "vitest";
import { resolveCredentials } from "../../src/cli/config.js";
import { createCommsClient } from "../../src/comms/index.js";
import { ApiError, AuthError, PermissionError } from "../../src/errors.js";
import { startEmulator, type Emulator } from "../../src/emulator/index.js";
import { createLegacyReader } from "../../src/legacy/index.js";
import { runCli, workspace } from "../e2e/harness.js";
import { startLocalServer } from "../comms/local-server.js";

const ACCOUNT = "AC0123456789abcdef0123456789abcdef";
const KEY = "SK0123456789abcdef0123456789abcdef";
const WRONG = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

describe("which credential a run uses, and where it came from", () => {
  it("names the variable or flag, never the value", () => {
    expect(resolveCredentials({}, { TWILIO_ACCOUNT_SID: ACCOUNT, TWILIO_AUTH_TOKEN: WRONG }).label).toBe(`TWILIO_AUTH_TOKEN for ${ACCOUNT}`);
    expect(resolveCredentials({ authToken: WRONG }, { TWILIO_ACCOUNT_SID: ACCOUNT }).label).toBe(`--auth-token for ${ACCOUNT}`);
    expect(resolveCredentials({}, { TWILIO_ACCOUNT_SID: ACCOUNT, TWILIO_API_KEY: KEY, TWILIO_API_SECRET: WRONG }).label).toBe(`API key ${KEY} (TWILIO_API_KEY/TWILIO_API_SECRET)`);
    expect(resolveCredentials({ apiKey: KEY, apiSecret: WRONG }, { TWILIO_ACCOUNT_SID: ACCOUNT }).label).toBe(`API key ${KEY} (--api-key/--api-secret)`);
  });
});

describe("401 and 403 from the clients", () => {
  async function server(status: number) {
    const s = await startLocalServer(() => ({ status, json: { code: status === 401 ? 20003 : 20403, message: status === 401 ? "Authenticate" : "Authenticated user is not authorized to perform this action" } }));
    cleanups.push(() => s.close());
    return s;
  }

  it("a Comms 401 names the host and the credential, not its value", async () => {
    const s = await server(401);
    const client = createCommsClient({ baseUrl: s.url, apiVersion: "v1", username: KEY, password: WRONG, accountSid: ACCOUNT, credentialLabel: `API key ${KEY} (TWILIO_API_KEY/TWILIO_API_SECRET)` });
    cleanups.push(() => client.close());
    const error = await client.list().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthError);
    const message = (error as Error).message;
    expect(message).toContain(`127.0.0.1:${s.port}`);
    expect(message).toContain(`API key ${KEY} (TWILIO_API_KEY/TWILIO_API_SECRET)`);
    expect(message).toContain(ACCOUNT);
    expect(message).not.toContain(WRONG);
  });

  it("a Comms 403 to a create says the credential lacks permission to create a credential there", async () => {
    const s = await server(403);
    const client = createCommsClient({ baseUrl: s.url, apiVersion: "v1", username: KEY, password: WRONG, accountSid: ACCOUNT, credentialLabel: `API key ${KEY} (TWILIO_API_KEY/TWILIO_API_SECRET)` });
    cleanups.push(() => client.close());
    const error = await client.create({ appName: "a", credentialType: "FCM", content: { privateKey: "eyJ9" } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermissionError);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(403);
    expect((error as ApiError).code).toBe(20403);
    const message = (error as Error).message;
    expect(message).toContain(`API key ${KEY} (TWILIO_API_KEY/TWILIO_API_SECRET) lacks permission`);
    expect(message).toContain(`POST 127.0.0.1:${s.port}/v1/PushNotifications/Credentials (create a credential)`);
    expect(message).not.toContain(WRONG);
  });

  it("a legacy 401 and 403 name the host and the credential", async () => {
    for (const status of [401, 403]) {
      const s = await server(status);
      const reader = createLegacyReader({ accountSid: ACCOUNT, username: ACCOUNT, password: WRONG, baseUrl: s.url, credentialLabel: `TWILIO_AUTH_TOKEN for ${ACCOUNT}` });
      cleanups.push(() => reader.close());
      const error = await reader.listAll().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(status === 401 ? AuthError : PermissionError);
      const message = (error as Error).message;
      expect(message).toContain(`TWILIO_AUTH_TOKEN for ${ACCOUNT}`);
      expect(message).toContain(`127.0.0.1:${s.port}`);
      if (status === 403) expect(message).toContain("GET");
      expect(message).not.toContain(WRONG);
    }
  });
});

describe("the CLI's 401", () => {
  let emu: Emulator | undefined;
  afterEach(async () => {
    await emu?.close();
    emu = undefined;
  });

  const cases: [string, string[], Record<string, string>, string][] = [
    ["TWILIO_AUTH_TOKEN", [], { TWILIO_AUTH_TOKEN: WRONG }, "TWILIO_AUTH_TOKEN for AC00000000000000000000000000000000"],
    ["--auth-token", ["--auth-token", WRONG], {}, "--auth-token for AC00000000000000000000000000000000"],
    ["an API key pair", [], { TWILIO_API_KEY: KEY, TWILIO_API_SECRET: WRONG }, `API key ${KEY} (TWILIO_API_KEY/TWILIO_API_SECRET)`],
  ];
  for (const [what, args, env, named] of cases) {
    it(`inventory with a wrong ${what} names it and the host, exit 1`, async () => {
      emu = await startEmulator({ port: 0 });
      const ws = workspace();
      const run = await runCli(["inventory", "--reports-dir", ws.reports, ...args], {
        env: { TWILIO_ACCOUNT_SID: emu.accountSid, CR2COMMS_CONVERSATIONS_URL: emu.url, CR2COMMS_COMMS_URL: emu.url, ...env },
      });
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(named);
      expect(run.stderr).toContain(`127.0.0.1:${emu.port}`);
      expect(run.stderr + run.stdout).not.toContain(WRONG);
    });
  }
});
