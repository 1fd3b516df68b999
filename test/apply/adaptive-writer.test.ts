/**
 * The writer's run-wide limit against an emulator that refuses more than a few requests in flight
 * (429 with Retry-After, as Twilio does with error 20429): adaptive backs off and every credential
 * is created once; a fixed `--concurrency N` never moves.
 */
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { apply } from "../../src/apply/writer.js";
import { createCommsClient } from "../../src/comms/index.js";
import type { CommsClient } from "../../src/comms/types.js";
import type { SecretResult } from "../../src/domain.js";
import { generateLegacyCredentials, startEmulator, type Emulator } from "../../src/emulator/index.js";
import { MemoryLedger } from "../../src/ledger/ledger.js";
import { createLegacyReader } from "../../src/legacy/index.js";
import type { Mapping, MappingEntry } from "../../src/mapping/types.js";
import { observe } from "../../src/observe/observe.js";
import { plan as makePlan, secretsNeeded } from "../../src/plan/index.js";
import { resolveEntrySecrets } from "../../src/secrets/index.js";
import { ROOT } from "../e2e/harness.js";

const SECRETS = join(ROOT, "mappings", "examples", "secrets");

let emu: Emulator | undefined;
let client: CommsClient | undefined;
afterEach(async () => {
  await client?.close();
  await emu?.close();
  emu = client = undefined;
});

/** `n` legacy credentials spread over `apps` Apps, all mapped, against an emulator limited to `maxInFlight`. */
async function world(n: number, apps: number, maxInFlight: number, latencyMs = 5) {
  const seed = generateLegacyCredentials(n, { types: ["apn", "apn", "fcm"] });
  emu = await startEmulator({ port: 0, latencyMs, maxInFlight, seed: { legacyCredentials: seed } });
  const e = emu;
  // Retry-After is 1 s; the test does not need to wait it out for real.
  const c = (client = createCommsClient({ baseUrl: e.url, apiVersion: "v1", accountSid: e.accountSid, username: e.accountSid, password: e.authToken, sleep: () => new Promise((r) => setTimeout(r, 5)) }));
  const credentials: MappingEntry[] = seed.map((s, index) => ({
    sid: s.sid,
    appName: `app_${index % apps}`,
    index,
    secrets:
      s.type === "fcm"
        ? { serviceAccount: "file:limonade-android-sa.json" }
        : s.sandbox === "True"
          ? { certificate: "file:ios-sandbox-2.cert.pem", privateKey: "file:ios-sandbox-2.key.pem" }
          : { certificate: "file:limonade-ios-prod.cert.pem", privateKey: "file:limonade-ios-prod.key.pem" },
  }));
  const mapping: Mapping = { version: 1, credentials, path: join(SECRETS, "m.yaml") };
  const ledger = new MemoryLedger();
  const legacy = createLegacyReader({ accountSid: e.accountSid, username: e.accountSid, password: e.authToken, baseUrl: e.url });
  const snapshot = await observe({ accountSid: e.accountSid, legacy, comms: c, ledger, now: () => new Date() });
  const secrets = new Map<string, SecretResult>();
  for (const { entry, target } of secretsNeeded(snapshot, mapping)) {
    secrets.set(entry.sid, await resolveEntrySecrets(entry, target, { mappingDir: SECRETS, env: {}, now: new Date(), interactive: false }));
  }
  const plan = makePlan(snapshot, mapping, secrets, { now: new Date() });
  e.requests.length = 0; // count only what apply sends
  return { emu: e, comms: c, ledger, plan, secrets, existing: snapshot.comms };
}

describe("adaptive concurrency in the writer", () => {
  it("against a server that takes 5 in flight, backs off on 429 and creates every credential once", async () => {
    // 40 ms a request: long enough that a limit above 5 really puts more than 5 in flight at the
    // server even on a loaded machine (at 5 ms a busy client sent them too slowly to overlap).
    const w = await world(60, 6, 5, 40);
    expect(w.plan.items.filter((i) => i.action === "create")).toHaveLength(60);
    const result = await apply(w.plan, { comms: w.comms, ledger: w.ledger, secrets: w.secrets, existing: w.existing, concurrency: "adaptive" });

    expect(result.items.filter((i) => i.status === "confirmed")).toHaveLength(60);
    const accepted = w.emu.requests.filter((r) => r.method === "POST" && r.status === 202);
    expect(accepted).toHaveLength(60);
    const made = w.emu.state.commsCredentials();
    expect(made).toHaveLength(60);
    expect(new Set(result.items.map((i) => i.commsCredentialId)).size).toBe(60);

    const seen429 = w.emu.requests.filter((r) => r.status === 429).length;
    const c = result.concurrency!;
    expect(c.mode).toBe("adaptive");
    // It grew past what the server takes, was refused, and cut its limit.
    expect(c.peak).toBeGreaterThan(5);
    expect(seen429).toBeGreaterThan(0);
    expect(c.throttled).toBe(seen429);
    expect(c.decreases).toBeGreaterThanOrEqual(1);
    expect(c.final).toBeLessThan(c.peak);
  });

  it("a fixed concurrency never moves and never exceeds the server's limit when set to it", async () => {
    const w = await world(30, 3, 3);
    const result = await apply(w.plan, { comms: w.comms, ledger: w.ledger, secrets: w.secrets, existing: w.existing, concurrency: 3 });

    expect(result.items.filter((i) => i.status === "confirmed")).toHaveLength(30);
    expect(w.emu.requests.filter((r) => r.status === 429)).toHaveLength(0);
    expect(result.concurrency).toMatchObject({ mode: "fixed", start: 3, peak: 3, final: 3, throttled: 0, decreases: 0 });
    expect(result.concurrency!.peakInFlight).toBeLessThanOrEqual(3);
  });

  it("many items waiting for visibility at once raise no listener warning", async () => {
    const w = await world(40, 4, 1000);
    w.emu.setVisibilityDelayMs(50);
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on("warning", onWarning);
    try {
      const result = await apply(w.plan, { comms: w.comms, ledger: w.ledger, secrets: w.secrets, existing: w.existing, concurrency: "adaptive", signal: new AbortController().signal });
      expect(result.items.filter((i) => i.status === "confirmed")).toHaveLength(40);
      await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
    } finally {
      process.off("warning", onWarning);
    }
    expect(warnings).not.toContain("MaxListenersExceededWarning");
  });

  it("adaptive against a server without a limit grows beyond where it started", async () => {
    const w = await world(60, 6, 1000);
    const result = await apply(w.plan, { comms: w.comms, ledger: w.ledger, secrets: w.secrets, existing: w.existing, concurrency: "adaptive" });

    expect(result.items.filter((i) => i.status === "confirmed")).toHaveLength(60);
    expect(result.concurrency).toMatchObject({ mode: "adaptive", start: 4, throttled: 0, decreases: 0 });
    expect(result.concurrency!.peak).toBeGreaterThan(4);
  });
});
