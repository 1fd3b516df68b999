/**
 * The writer against clocks that disagree: this machine's clock far from Comms' (skew), and
 * journalled times in the future (a clock that was ahead and was set right since).
 */
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { apply, type WaitNotice } from "../../src/apply/writer.js";
import { createCommsClient } from "../../src/comms/index.js";
import type { CommsClient } from "../../src/comms/types.js";
import type { SecretResult } from "../../src/domain.js";
import { startEmulator, type Emulator, type EmulatorOptions } from "../../src/emulator/index.js";
import { MemoryLedger } from "../../src/ledger/ledger.js";
import { createLegacyReader } from "../../src/legacy/index.js";
import type { Mapping, MappingEntry } from "../../src/mapping/types.js";
import { observe } from "../../src/observe/observe.js";
import { plan as makePlan, secretsNeeded } from "../../src/plan/index.js";
import { resolveEntrySecrets } from "../../src/secrets/index.js";
import { ROOT } from "../e2e/harness.js";
import { sid } from "../plan/builders.js";
import { APP, item, planOf, world as fakeWorld } from "../apply/writer-world.js";

const SECRETS = join(ROOT, "mappings", "examples", "secrets");
const SID2 = "CR00000000000000000000000000000002";
const E2: Omit<MappingEntry, "index"> = { sid: SID2, appName: "limonade_ios", secrets: { p12: "file:limonade-ios-dev.p12", passphrase: "env:P" } };
const SID5 = "CR00000000000000000000000000000005";
const E5: Omit<MappingEntry, "index"> = { sid: SID5, appName: "limonade_ios", secrets: { certificate: "file:ios-sandbox-2.cert.pem", privateKey: "file:ios-sandbox-2.key.pem" } };
const POST = { method: "POST", path: "/PushNotifications/Credentials" };
const HOUR = 3_600_000;

let emu: Emulator | undefined;
let client: CommsClient | undefined;
afterEach(async () => {
  await client?.close();
  await emu?.close();
  emu = client = undefined;
});

/** The emulator on the real clock (its answers' Date and its createdAt); this machine's clock `aheadMs` ahead of it. */
async function world(aheadMs: number, opts: EmulatorOptions = {}) {
  emu = await startEmulator({ port: 0, ...opts });
  const e = emu;
  const now = () => new Date(Date.now() + aheadMs);
  const c = (client = createCommsClient({ baseUrl: e.url, apiVersion: "v1", accountSid: e.accountSid, username: e.accountSid, password: e.authToken, now }));
  const ledger = new MemoryLedger(now);
  const planFor = async (entries: Omit<MappingEntry, "index">[]) => {
    const mapping: Mapping = { version: 1, credentials: entries.map((x, index) => ({ ...x, index })), path: join(SECRETS, "m.yaml") };
    const legacy = createLegacyReader({ accountSid: e.accountSid, username: e.accountSid, password: e.authToken, baseUrl: e.url });
    const snapshot = await observe({ accountSid: e.accountSid, legacy, comms: c, ledger, now });
    const secrets = new Map<string, SecretResult>();
    for (const { entry, target } of secretsNeeded(snapshot, mapping)) {
      secrets.set(entry.sid, await resolveEntrySecrets(entry, target, { mappingDir: SECRETS, env: { P: "fake-demo-passphrase" }, now: now(), interactive: false }));
    }
    return { plan: makePlan(snapshot, mapping, secrets, { now: now() }), secrets, existing: snapshot.comms };
  };
  const posts = () => e.requests.filter((r) => r.method === "POST").length;
  const sandbox = () => e.state.commsCredentials().filter((x) => x.appName === "limonade_ios" && x.credentialType === "APN_SANDBOX");
  return { emu: e, comms: c, ledger, now, planFor, posts, sandbox };
}

describe("writer: this machine's clock far from Comms'", () => {
  it("K1: a lost create is found on Comms' clock when the local clock is an hour ahead; nothing is re-sent, and the run warns of the skew", async () => {
    const w = await world(HOUR, { faults: { script: [{ ...POST, kind: "drop-after-commit" }] } });
    const p = await w.planFor([E2]);
    const r = await apply(p.plan, { comms: w.comms, ledger: w.ledger, secrets: p.secrets, existing: p.existing, concurrency: 4, now: w.now, wait: true, settleMs: 1_500, settlePollMaxMs: 200, confirm: { timeoutMs: 2_000 } });
    const item = r.items.find((i) => i.legacySid === SID2)!;
    const info = `${item.status} ${item.error ?? ""} ${item.warnings.join(" | ")}`;
    expect(w.posts(), info).toBe(1);
    expect(w.sandbox(), info).toHaveLength(1);
    expect(item.status, info).toBe("confirmed");
    expect(item.commsCredentialId).toBe(w.sandbox()[0]!.id);
    expect(r.warnings.join("\n")).toMatch(/clock is 36\d\d s ahead of Comms'.*--clock-skew-seconds/);
  }, 30_000);

  it("K1: after a run that left the lost create open, a rerun on the skewed clock adopts it instead of creating a second one", async () => {
    // Not visible at the first run's only look: the attempt stays open.
    const w = await world(HOUR, { visibilityDelayMs: 800, faults: { script: [{ ...POST, kind: "drop-after-commit" }] } });
    const p1 = await w.planFor([E2]);
    const r1 = await apply(p1.plan, { comms: w.comms, ledger: w.ledger, secrets: p1.secrets, existing: p1.existing, concurrency: 4, now: w.now, wait: false, reconcileWindowMs: 0 });
    expect(r1.items.find((i) => i.legacySid === SID2)?.status).toBe("failed");
    await new Promise((r) => setTimeout(r, 1_000));
    const p2 = await w.planFor([E2]);
    const r2 = await apply(p2.plan, { comms: w.comms, ledger: w.ledger, secrets: p2.secrets, existing: p2.existing, concurrency: 4, now: w.now, wait: true, settleMs: 1_500, settlePollMaxMs: 200, confirm: { timeoutMs: 2_000 } });
    const item = r2.items.find((i) => i.legacySid === SID2)!;
    const info = `${item.status} ${item.error ?? ""} ${item.warnings.join(" | ")}`;
    expect(w.posts(), info).toBe(1);
    expect(w.sandbox(), info).toHaveLength(1);
    expect((await w.ledger.entries()).get(SID2)?.commsCredentialId).toBe(w.sandbox()[0]!.id);
  }, 30_000);

  it("K1: an attempt made after an answer showed Comms' clock journals its start on that clock too", async () => {
    const w = await world(HOUR);
    const p = await w.planFor([E2, E5]);
    // One (App, type): the second create is sent after the first one's 202 (whose Date shows Comms' clock).
    const r = await apply(p.plan, { comms: w.comms, ledger: w.ledger, secrets: p.secrets, existing: p.existing, concurrency: 4, now: w.now, confirm: { timeoutMs: 5_000 } });
    expect(r.items.filter((i) => i.status === "confirmed")).toHaveLength(2);
    const attempts = w.ledger.list.flatMap((e) => (e.event === "attempt" ? [e] : []));
    const later = attempts[1]!;
    expect(later.serverStartedAt).toBeDefined();
    const offset = Date.parse(later.serverStartedAt!) - Date.parse(later.startedAt);
    expect(Math.abs(offset + HOUR)).toBeLessThan(5_000);
    // A ledger replayed later hands it on to reconciliation.
    expect((await w.ledger.entries()).get(later.legacySid)?.lastAttempt?.serverStartedAt).toBe(later.serverStartedAt);
  });
});

describe("writer: journalled times in the future never hold the run until then", () => {
  const FUTURE = Date.parse("2027-06-01T00:00:00.000Z");
  const iso = (ms: number) => new Date(ms).toISOString();

  it("K2: an earlier attempt started in the future is waited for at most the settle time from now, then abandoned and created, saying why", async () => {
    const w = fakeWorld();
    const t0 = w.clock.ms();
    const notices: WaitNotice[] = [];
    const reconcileFrom = { attemptId: "att-1", startedAt: iso(FUTURE), priorIds: [] as string[] };
    const r = await apply(planOf(item({ reconcileFrom })), w.deps([], { wait: true, settleMs: 10_000, onWaiting: (n) => notices.push(n) }));
    expect(notices.map((n) => n.until.getTime())).toEqual([t0 + 10_000]);
    expect(r.items[0]).toMatchObject({ status: "confirmed", attempts: 1 });
    expect(r.items[0]!.warnings.join("\n")).toMatch(/the ledger names 2027-06-01T00:00:10\.000Z, which is in the future .* waited at most 10 s from now/);
    expect(w.clock.ms() - t0).toBeLessThan(60_000);
    expect(w.events()).toEqual(["abandoned", "attempt", "accepted", "confirmed"]);
  });

  it("K2: an earlier run's 202 journalled in the future is waited for at most the settle time from now", async () => {
    const w = fakeWorld();
    const t0 = w.clock.ms();
    const future = new MemoryLedger(() => new Date(FUTURE));
    await future.append({ event: "attempt", legacySid: sid(1), attemptId: "att-1", appName: APP, credentialType: "APN", isDefault: false, startedAt: iso(FUTURE) });
    await future.append({ event: "accepted", legacySid: sid(1), attemptId: "att-1", commsCredentialId: "comms_credential_ghost" });
    const notices: WaitNotice[] = [];
    const r = await apply(planOf(item({ commsCredentialId: "comms_credential_ghost" })), w.deps([], { ledger: future, wait: true, settleMs: 10_000, onWaiting: (n) => notices.push(n) }));
    expect(notices.map((n) => n.until.getTime())).toEqual([t0 + 10_000]);
    expect(r.items[0]!.status).toBe("confirmed");
    expect(r.items[0]!.warnings.join("\n")).toMatch(/in the future .* waited at most 10 s from now/);
    expect(w.clock.ms() - t0).toBeLessThan(60_000);
  });

  it("K2: another sid's lost create journalled in the future holds this create back at most the settle time from now", async () => {
    const w = fakeWorld();
    const t0 = w.clock.ms();
    const future = new MemoryLedger(() => new Date(FUTURE));
    await future.append({ event: "attempt", legacySid: sid(2), attemptId: "att-2", appName: APP, credentialType: "APN", isDefault: false, startedAt: iso(FUTURE) });
    await future.append({ event: "unknown", legacySid: sid(2), attemptId: "att-2", reason: "socket hang up" });
    const notices: WaitNotice[] = [];
    const r = await apply(planOf(item()), w.deps([], { ledger: future, settleMs: 10_000, onWaiting: (n) => notices.push(n) }));
    expect(notices.map((n) => n.until.getTime())).toEqual([t0 + 10_000]);
    expect(r.items[0]!.status).toBe("confirmed");
    expect(r.items[0]!.warnings.join("\n")).toMatch(/in the future .* waited at most 10 s from now/);
    expect(w.clock.ms() - t0).toBeLessThan(60_000);
  });
});
