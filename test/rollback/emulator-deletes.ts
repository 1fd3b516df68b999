import { afterEach } from "vitest";
import { createCommsClient } from "../../src/comms/index.js";
import type { CommsClient } from "../../src/comms/types.js";
import { startEmulator, type Emulator, type EmulatorOptions } from "../../src/emulator/index.js";
import type { RollbackCandidate } from "../../src/rollback/rollback.js";
import { sid } from "../plan/builders.js";

/**
 * Rollback against the embedded emulator. Call it inside a `describe`: the returned `start(opts,
 * sleep)` starts an emulator (seed it with Comms credentials), opens a Comms client on it whose
 * Retry-After waits go through `sleep` (5 ms by default: a test need not wait them out), and returns
 * one rollback candidate per credential it lists, with the request log emptied; both are closed
 * after each test.
 */
export function emulatorDeletes() {
  let emu: Emulator | undefined;
  let client: CommsClient | undefined;
  afterEach(async () => {
    await client?.close();
    await emu?.close();
    emu = client = undefined;
  });
  return async (opts: EmulatorOptions, sleep: (ms: number) => Promise<void> = () => new Promise((r) => setTimeout(r, 5))) => {
    const e = (emu = await startEmulator({ port: 0, ...opts }));
    const comms = (client = createCommsClient({ baseUrl: e.url, apiVersion: "v1", accountSid: e.accountSid, username: e.accountSid, password: e.authToken, sleep }));
    const deletes = (await comms.list()).map((c, k): RollbackCandidate => ({ legacySid: sid(k + 1), commsCredentialId: c.id, appName: c.appName, credentialType: c.credentialType }));
    e.requests.length = 0; // only what the rollback sends
    return { emu: e, comms, deletes };
  };
}
