/** Rollback says what an App deletion takes with it: the App's device registrations, counted before anything is deleted. */
import { afterEach, describe, expect, it } from "vitest";
import { createCommsClient } from "../../src/comms/index.js";
import type { CommsClient } from "../../src/comms/types.js";
import { SAMPLE_SEED, startEmulator, type Emulator } from "../../src/emulator/index.js";
import { MemoryLedger } from "../../src/ledger/ledger.js";
import { countAppRegistrations, describeAppDeletion, planRollback, rollback } from "../../src/rollback/rollback.js";
import { comms as commsOf, ledgerEntry, sid } from "../plan/builders.js";

let em: Emulator | undefined;
let client: CommsClient | undefined;
afterEach(async () => {
  await client?.close();
  await em?.close();
  em = client = undefined;
});

/** cr2comms created `ios` (one credential, the App's only one) and `android` (one of two). */
async function setup() {
  em = await startEmulator({ seed: { ...SAMPLE_SEED, commsCredentials: [] } });
  const c = (client = createCommsClient({ baseUrl: em.url, apiVersion: "v1", accountSid: em.accountSid, username: em.accountSid, password: em.authToken }));
  const ios = em.state.addComms({ appName: "ios", credentialType: "APN" });
  const android = em.state.addComms({ appName: "android", credentialType: "FCM" });
  em.state.addComms({ appName: "android", credentialType: "FCM" });
  for (let i = 0; i < 1204; i++) em.state.register({ appName: "ios", token: `t${i}`, provider: "APN" });
  em.state.register({ appName: "android", token: "a", provider: "FCM" });
  const entries = new Map([
    [sid(1), ledgerEntry({ legacySid: sid(1), commsCredentialId: ios.id, appName: "ios" })],
    [sid(2), ledgerEntry({ legacySid: sid(2), commsCredentialId: android.id, appName: "android", credentialType: "FCM" })],
  ]);
  return { em, c, entries };
}

describe("rollback: device registrations an App deletion takes", () => {
  it("with --allow-app-deletion, counts the App's registrations (every page) before deleting, and the report says so", async () => {
    const { em, c, entries } = await setup();
    const plan = await countAppRegistrations(planRollback(entries, await c.list(), { allowAppDeletion: true }), c);
    expect(plan.appDeletions).toEqual([{ appName: "ios", registrations: 1204 }]);
    expect(em.requests.filter((r) => r.method === "DELETE")).toHaveLength(0);

    const result = await rollback(plan, { comms: c, ledger: new MemoryLedger(), concurrency: 2, runId: "r", accountSid: em.accountSid, sleep: async () => {} });
    expect(result.warnings).toContain("rollback deletes App ios and its 1,204 device registrations (--allow-app-deletion)");
    expect(result.items.find((i) => i.legacySid === sid(1))?.warnings).toEqual(["the last credential(s) of App ios: Comms deletes App ios and its 1,204 device registrations"]);
    expect(result.items.find((i) => i.legacySid === sid(2))?.warnings).toEqual([]);
    expect([...em.state.registrations.values()].map((r) => r.appName)).toEqual(["android"]);
  });

  it("without it, the refusal says how many registrations the deletion would take", async () => {
    const { c, entries } = await setup();
    const plan = await countAppRegistrations(planRollback(entries, await c.list(), { allowAppDeletion: false }), c);
    expect(plan.appDeletions).toBeUndefined();
    expect(plan.refused.map((r) => [r.appName, r.registrations])).toEqual([["ios", 1204]]);
    const result = await rollback(plan, { comms: c, ledger: new MemoryLedger(), concurrency: 2, runId: "r", accountSid: "AC1", sleep: async () => {} });
    expect(result.items.find((i) => i.action === "refused")?.problems[0]).toMatch(/deletes the App and its device registrations \(1,204\)/);
  });

  it("a count that fails is said so and does not stop the rollback the user allowed", async () => {
    const one = commsOf({ appName: "solo" });
    const plan = planRollback(new Map([[sid(1), ledgerEntry({ commsCredentialId: one.id, appName: "solo" })]]), [one], { allowAppDeletion: true });
    const counted = await countAppRegistrations(plan, { countDeviceRegistrations: async () => Promise.reject(new Error("HTTP 503")) });
    expect(counted.appDeletions).toEqual([{ appName: "solo", countError: "HTTP 503" }]);
    expect(describeAppDeletion(counted.appDeletions![0]!)).toBe("deletes App solo and all its device registrations (they could not be counted: HTTP 503)");
    expect(describeAppDeletion({ appName: "x", registrations: 1 })).toBe("deletes App x and its 1 device registration");
  });
});
