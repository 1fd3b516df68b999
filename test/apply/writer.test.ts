import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { apply } from "../../src/apply/writer.js";
import { createCommsClient } from "../../src/comms/index.js";
import type { CommsClient } from "../../src/comms/types.js";
import type { SecretResult } from "../../src/domain.js";
import { startEmulator, type Emulator, type EmulatorOptions } from "../../src/emulator/index.js";
import { MemoryLedger } from "../../src/ledger/ledger.js";
import { createLegacyReader } from "../../src/legacy/index.js";
import type { Mapping, MappingEntry } from "../../src/mapping/types.js";
import { observe } from "../../src/observe/observe.js";
import { REQUEST_TIMEOUT_MS } from "../../src/limits.js";
import { plan as makePlan, secretsNeeded } from "../../src/plan/index.js";
import { lastPossibleCommit } from "../../src/plan/reconcile.js";
import { resolveEntrySecrets } from "../../src/secrets/index.js";
import { ROOT } from "../e2e/harness.js";
import { virtualClock } from "./fake-comms.js";

const SECRETS = join(ROOT, "mappings", "examples", "secrets");
const SID1 = "CR00000000000000000000000000000001";
const PROD = { certificate: "file:limonade-ios-prod.cert.pem", privateKey: "file:limonade-ios-prod.key.pem" };

let emu: Emulator | undefined;
let comms: CommsClient | undefined;
afterEach(async () => {
  await comms?.close();
  await emu?.close();
  emu = comms = undefined;
});

async function world(opts: EmulatorOptions = {}) {
  emu = await startEmulator({ port: 0, ...opts });
  const e = emu;
  const c = (comms = createCommsClient({ baseUrl: e.url, apiVersion: "v1", accountSid: e.accountSid, username: e.accountSid, password: e.authToken }));
  // The writer's waits run on a virtual clock (no real sleeps); the ledger stamps events with it too.
  const clock = virtualClock(Date.now());
  const time = { now: clock.now, sleep: clock.sleep };
  const ledger = new MemoryLedger(clock.now);
  /** observe → secrets → plan, as the CLI does, for a mapping of the given entries. */
  const planFor = async (entries: Omit<MappingEntry, "index">[]) => {
    const mapping: Mapping = { version: 1, credentials: entries.map((x, index) => ({ ...x, index })), path: join(SECRETS, "m.yaml") };
    const legacy = createLegacyReader({ accountSid: e.accountSid, username: e.accountSid, password: e.authToken, baseUrl: e.url });
    const snapshot = await observe({ accountSid: e.accountSid, legacy, comms: c, ledger, now: () => new Date() });
    const secrets = new Map<string, SecretResult>();
    for (const { entry, target } of secretsNeeded(snapshot, mapping)) {
      secrets.set(entry.sid, await resolveEntrySecrets(entry, target, { mappingDir: SECRETS, env: {}, now: new Date(), interactive: false }));
    }
    return { plan: makePlan(snapshot, mapping, secrets, { now: new Date() }), secrets, existing: snapshot.comms };
  };
  const posts = () => e.requests.filter((r) => r.method === "POST").length;
  /** The emulator shows every credential from now on (instead of waiting out `visibilityDelayMs`). */
  const showAll = () => {
    for (const stored of e.state.sortedComms()) stored.visibleAt = 0;
  };
  return { emu: e, comms: c, ledger, planFor, posts, time, showAll };
}

describe("writer", () => {
  it("makes a migrated credential the default again with a PATCH, confirmed by a read", async () => {
    const w = await world();
    const first = await w.planFor([{ sid: SID1, appName: "limonade_ios", secrets: PROD }]);
    const created = await apply(first.plan, { ...w.time, comms: w.comms, ledger: w.ledger, secrets: first.secrets, existing: first.existing, concurrency: 4 });
    const id = created.items.find((i) => i.legacySid === SID1)!.commsCredentialId!;
    w.emu.state.addComms({ appName: "limonade_ios", credentialType: "APN", isDefault: true }); // takes the default away

    const next = await w.planFor([{ sid: SID1, appName: "limonade_ios", isDefault: true, secrets: PROD }]);
    expect(next.plan.items.find((i) => i.legacySid === SID1)?.action).toBe("update-default");
    const result = await apply(next.plan, { ...w.time, comms: w.comms, ledger: w.ledger, secrets: next.secrets, existing: next.existing, concurrency: 4 });
    expect(result.items.find((i) => i.legacySid === SID1)).toMatchObject({ action: "update-default", status: "confirmed", commsCredentialId: id });
    expect(w.emu.requests.filter((r) => r.method === "PATCH")).toHaveLength(1);
    expect(w.emu.state.commsCredentials().find((c) => c.id === id)?.isDefault).toBe(true);
    expect(w.ledger.list.some((e) => e.event === "default-set" && e.commsCredentialId === id)).toBe(true);
  });

  it("leaves a create accepted-unconfirmed when it stays invisible, and a rerun confirms it without a second POST", async () => {
    const w = await world({ visibilityDelayMs: 600_000 });
    const first = await w.planFor([{ sid: SID1, appName: "limonade_ios", secrets: PROD }]);
    const result = await apply(first.plan, { ...w.time, comms: w.comms, ledger: w.ledger, secrets: first.secrets, existing: first.existing, concurrency: 4, confirm: { timeoutMs: 200, initialDelayMs: 50 } });
    const item = result.items.find((i) => i.legacySid === SID1)!;
    expect(item.status).toBe("accepted-unconfirmed");
    expect(w.ledger.list.map((e) => e.event)).toEqual(["attempt", "accepted", "unconfirmed"]);

    // An immediate rerun, still before visibility: waits, sends nothing, stays unconfirmed.
    const early = await w.planFor([{ sid: SID1, appName: "limonade_ios", secrets: PROD }]);
    const waited = await apply(early.plan, { ...w.time, comms: w.comms, ledger: w.ledger, secrets: early.secrets, existing: early.existing, concurrency: 4, confirm: { timeoutMs: 100, initialDelayMs: 50 } });
    expect(waited.items.find((i) => i.legacySid === SID1)?.status).toBe("accepted-unconfirmed");
    expect(w.posts()).toBe(1);

    w.showAll();
    const rerun = await w.planFor([{ sid: SID1, appName: "limonade_ios", secrets: PROD }]);
    const again = await apply(rerun.plan, { ...w.time, comms: w.comms, ledger: w.ledger, secrets: rerun.secrets, existing: rerun.existing, concurrency: 4, reconcileWindowMs: 10_000 });
    expect(again.items.find((i) => i.legacySid === SID1)).toMatchObject({ status: "confirmed", commsCredentialId: item.commsCredentialId });
    expect(w.posts()).toBe(1);
    expect(w.emu.state.commsCredentials().filter((c) => c.appName === "limonade_ios")).toHaveLength(1);
  });

  it("records the API's error when Comms refuses a create (an App filled up after planning)", async () => {
    const w = await world();
    for (let i = 0; i < 9; i++) w.emu.state.addComms({ appName: "full_app", credentialType: "FCM" });
    const { plan, secrets, existing } = await w.planFor([{ sid: SID1, appName: "full_app", secrets: PROD }]);
    expect(plan.items.find((i) => i.legacySid === SID1)?.action).toBe("create");
    w.emu.state.addComms({ appName: "full_app", credentialType: "FCM" }); // the 10th, out of band
    const result = await apply(plan, { ...w.time, comms: w.comms, ledger: w.ledger, secrets, existing, concurrency: 4 });
    const item = result.items.find((i) => i.legacySid === SID1)!;
    expect(item.status).toBe("failed");
    expect(item.error).toMatch(/400/);
    expect(w.ledger.list.at(-1)).toMatchObject({ event: "failed", status: 400 });
    expect((await w.ledger.entries()).get(SID1)?.state).toBe("failed");
  });

  it("starts nothing once interrupted, and says which items were not started", async () => {
    const w = await world();
    const { plan, secrets, existing } = await w.planFor([{ sid: SID1, appName: "limonade_ios", secrets: PROD }]);
    const controller = new AbortController();
    controller.abort();
    const result = await apply(plan, { ...w.time, comms: w.comms, ledger: w.ledger, secrets, existing, concurrency: 4, signal: controller.signal });
    expect(result.interrupted).toBe(true);
    expect(result.items.find((i) => i.legacySid === SID1)).toMatchObject({ status: "planned" });
    expect(w.posts()).toBe(0);
    expect(w.ledger.list).toEqual([]);
  });

  it("never adopts a credential that existed before the run, even of the same App and type", async () => {
    const w = await world({ faults: { script: [{ method: "POST", path: "/PushNotifications/Credentials", kind: "drop-before-commit" }] } });
    const foreign = w.emu.state.addComms({ appName: "limonade_ios", credentialType: "APN" }); // a colleague's, just now
    const first = await w.planFor([{ sid: SID1, appName: "limonade_ios", secrets: PROD }]);
    const result = await apply(first.plan, { ...w.time, comms: w.comms, ledger: w.ledger, secrets: first.secrets, existing: first.existing, concurrency: 4, reconcileWindowMs: 300 });
    const item = result.items.find((i) => i.legacySid === SID1)!;
    expect(item.status).toBe("failed");
    expect(item.error).toMatch(/outcome unknown.*nothing was re-sent/);
    expect(item.commsCredentialId).toBeUndefined();
    expect((await w.ledger.entries()).get(SID1)?.state).toBe("pending"); // left for the next run to reconcile
    expect(w.posts()).toBe(1);

    // The next run reconciles (nothing of ours is there), then creates once.
    const rerun = await w.planFor([{ sid: SID1, appName: "limonade_ios", secrets: PROD }]);
    expect(rerun.plan.items.find((i) => i.legacySid === SID1)?.action).toBe("create");
    // Straight away, nothing is re-sent: the lost create may still show up.
    const soon = await apply(rerun.plan, { ...w.time, comms: w.comms, ledger: w.ledger, secrets: rerun.secrets, existing: rerun.existing, concurrency: 4, reconcileWindowMs: 300 });
    expect(soon.items.find((i) => i.legacySid === SID1)).toMatchObject({ status: "failed" });
    expect(soon.items.find((i) => i.legacySid === SID1)?.error).toMatch(/sent again only after/);
    expect(w.posts()).toBe(1);
    // Once the attempt is older than the settle time, it is abandoned and created once.
    const later = await w.planFor([{ sid: SID1, appName: "limonade_ios", secrets: PROD }]);
    const again = await apply(later.plan, { ...w.time, comms: w.comms, ledger: w.ledger, secrets: later.secrets, existing: later.existing, concurrency: 4, reconcileWindowMs: 300, settleMs: 0 });
    const mine = again.items.find((i) => i.legacySid === SID1)!;
    expect(mine.status).toBe("confirmed");
    expect(mine.commsCredentialId).not.toBe(foreign.id);
    expect(w.emu.state.commsCredentials().filter((c) => c.appName === "limonade_ios")).toHaveLength(2);
  });

  it("a lost answer whose credential shows up only after the window is adopted by the next run, never re-sent", async () => {
    const w = await world({ visibilityDelayMs: 600_000, faults: { script: [{ method: "POST", path: "/PushNotifications/Credentials", kind: "drop-after-commit" }] } });
    const first = await w.planFor([{ sid: SID1, appName: "limonade_ios", secrets: PROD }]);
    const result = await apply(first.plan, { ...w.time, comms: w.comms, ledger: w.ledger, secrets: first.secrets, existing: first.existing, concurrency: 4, reconcileWindowMs: 200 });
    expect(result.items.find((i) => i.legacySid === SID1)?.status).toBe("failed");
    expect(w.posts()).toBe(1);
    // An immediate rerun, before the credential is visible, re-sends nothing.
    const early = await w.planFor([{ sid: SID1, appName: "limonade_ios", secrets: PROD }]);
    const waited = await apply(early.plan, { ...w.time, comms: w.comms, ledger: w.ledger, secrets: early.secrets, existing: early.existing, concurrency: 4, reconcileWindowMs: 200 });
    expect(waited.items.find((i) => i.legacySid === SID1)?.status).toBe("failed");
    expect(w.posts()).toBe(1);
    w.showAll();
    const rerun = await w.planFor([{ sid: SID1, appName: "limonade_ios", secrets: PROD }]);
    expect(rerun.plan.items.find((i) => i.legacySid === SID1)?.action).toBe("already-migrated");
    const again = await apply(rerun.plan, { ...w.time, comms: w.comms, ledger: w.ledger, secrets: rerun.secrets, existing: rerun.existing, concurrency: 4 });
    expect(again.items.find((i) => i.legacySid === SID1)?.status).toBe("confirmed");
    expect(w.posts()).toBe(1);
    expect(w.emu.state.commsCredentials().filter((c) => c.appName === "limonade_ios")).toHaveLength(1);
  });

  it("after a lost create, the other creates of the same App and type still go ahead (their 202s name their own ids)", async () => {
    const w = await world({ faults: { script: [{ method: "POST", path: "/PushNotifications/Credentials", kind: "drop-before-commit" }] } });
    const SID2 = "CR00000000000000000000000000000002";
    const dev = { p12: "file:limonade-ios-dev.p12", passphrase: "env:P" };
    const { plan, secrets: resolved, existing } = await w.planFor([
      { sid: SID1, appName: "limonade_ios", credentialType: "APN_SANDBOX", secrets: { certificate: "file:ios-sandbox-2.cert.pem", privateKey: "file:ios-sandbox-2.key.pem" } },
      { sid: SID2, appName: "limonade_ios", secrets: dev },
    ]);
    const secrets = new Map(resolved);
    secrets.set(SID2, await resolveEntrySecrets({ sid: SID2, appName: "limonade_ios", secrets: dev, index: 1 }, "APN_SANDBOX", { mappingDir: SECRETS, env: { P: "fake-demo-passphrase" }, now: new Date(), interactive: false }));
    const ready = { ...plan, items: plan.items.map((i) => (i.legacySid === SID2 ? { ...i, action: "create" as const, problems: [], target: { appName: "limonade_ios", credentialType: "APN_SANDBOX" as const, isDefault: false } } : i)) };
    // (A zero clock-skew allowance: the lost create's window closes as soon as its loss is noticed.)
    const result = await apply(ready, { ...w.time, comms: w.comms, ledger: w.ledger, secrets, existing, concurrency: 4, reconcileWindowMs: 200, clockSkewMs: 0 });
    const bySid = Object.fromEntries(result.items.map((i) => [i.legacySid, i]));
    expect(bySid[SID1]?.status).toBe("failed");
    expect(bySid[SID1]?.error).toMatch(/outcome unknown.*nothing was re-sent/);
    expect(bySid[SID2]?.status).toBe("confirmed");
    expect(w.posts()).toBe(2);
    expect((await w.ledger.entries()).get(SID1)?.state).toBe("pending");
    expect(w.emu.state.commsCredentials().filter((c) => c.appName === "limonade_ios")).toHaveLength(1);
  });

  it("journals a re-send after a 429, which widens the window a rerun searches", async () => {
    const w = await world({ faults: { retryAfterSeconds: 0, script: [{ method: "POST", path: "/PushNotifications/Credentials", kind: "429" }] } });
    const { plan, secrets, existing } = await w.planFor([{ sid: SID1, appName: "limonade_ios", secrets: PROD }]);
    await apply(plan, { ...w.time, comms: w.comms, ledger: w.ledger, secrets, existing, concurrency: 4 });
    expect(w.ledger.list.map((e) => e.event)).toEqual(["attempt", "resent", "accepted", "confirmed"]);
    // Replayed, the re-send's time is the attempt's lastSentAt: the window a rerun searches ends
    // the request timeout after it, not after the first send.
    const resent = w.ledger.list[1]!;
    const attempt = (await w.ledger.entries()).get(SID1)!.lastAttempt!;
    expect(attempt.lastSentAt).toBe(resent.ts);
    expect(lastPossibleCommit(attempt)).toBe(Date.parse(resent.ts) + REQUEST_TIMEOUT_MS);
  });

  it("a lost create of a sid that was then skipped is still recorded as cr2comms's own", async () => {
    const w = await world({ visibilityDelayMs: 600_000, faults: { script: [{ method: "POST", path: "/PushNotifications/Credentials", kind: "drop-after-commit" }] } });
    const first = await w.planFor([{ sid: SID1, appName: "limonade_ios", secrets: PROD }]);
    await apply(first.plan, { ...w.time, comms: w.comms, ledger: w.ledger, secrets: first.secrets, existing: first.existing, concurrency: 4, reconcileWindowMs: 100 });
    w.showAll();
    const later = await w.planFor([{ sid: SID1, skip: true }]);
    const item = later.plan.items.find((i) => i.legacySid === SID1)!;
    expect(item.action).toBe("skip");
    await apply(later.plan, { ...w.time, comms: w.comms, ledger: w.ledger, secrets: later.secrets, existing: later.existing, concurrency: 4 });
    const entry = (await w.ledger.entries()).get(SID1)!;
    expect(entry).toMatchObject({ state: "confirmed", commsCredentialId: item.commsCredentialId });
    expect(w.emu.state.commsCredentials().map((c) => c.id)).toContain(item.commsCredentialId);
    expect(w.posts()).toBe(1);
  });

  it("one item's failure does not stop the others", async () => {
    // Two creates of one (App, type) go one after another, so the first takes all six 503s.
    const w = await world({ faults: { script: [{ method: "POST", kind: "503", times: 6 }], retryAfterSeconds: 0 } });
    const { plan, secrets, existing } = await w.planFor([
      { sid: SID1, appName: "limonade_ios", secrets: PROD },
      { sid: "CR00000000000000000000000000000006", appName: "limonade_ios", secrets: PROD },
    ]);
    const result = await apply(plan, { ...w.time, comms: w.comms, ledger: w.ledger, secrets, existing, concurrency: 1 });
    const statuses = result.items.filter((i) => i.action === "create").map((i) => i.status).sort();
    expect(statuses).toEqual(["confirmed", "failed"]);
  });

  it("a create sleeping out a Retry-After gives its slot to the next create meanwhile", async () => {
    const w = await world({ faults: { script: [{ method: "POST", kind: "429", times: 1 }], retryAfterSeconds: 0 } });
    const ANDROID = "CR00000000000000000000000000000003";
    const { plan, secrets, existing } = await w.planFor([
      { sid: SID1, appName: "limonade_ios", secrets: PROD },
      { sid: ANDROID, appName: "limonade_android", secrets: { serviceAccount: "file:limonade-android-sa.json" } },
    ]);
    // An adaptive limit held at one slot: the 429 cannot cut it further.
    const result = await apply(plan, { ...w.time, comms: w.comms, ledger: w.ledger, secrets, existing, concurrency: "adaptive", adaptive: { start: 1, min: 1, max: 1 } });
    expect(result.items.filter((i) => i.action === "create").map((i) => i.status)).toEqual(["confirmed", "confirmed"]);
    // SID1's first create drew the 429; ANDROID's was sent while SID1 waited, with the one slot.
    const accepted = w.ledger.list.filter((e) => e.event === "accepted").map((e) => e.legacySid);
    expect(accepted).toEqual([ANDROID, SID1]);
    expect(result.concurrency).toMatchObject({ mode: "adaptive", peakInFlight: 1, throttled: 1 });
  });

  it("with a fixed concurrency a create sleeping out a Retry-After keeps its slot", async () => {
    const w = await world({ faults: { script: [{ method: "POST", kind: "429", times: 1 }], retryAfterSeconds: 0 } });
    const ANDROID = "CR00000000000000000000000000000003";
    const { plan, secrets, existing } = await w.planFor([
      { sid: SID1, appName: "limonade_ios", secrets: PROD },
      { sid: ANDROID, appName: "limonade_android", secrets: { serviceAccount: "file:limonade-android-sa.json" } },
    ]);
    const result = await apply(plan, { ...w.time, comms: w.comms, ledger: w.ledger, secrets, existing, concurrency: 1 });
    const accepted = w.ledger.list.filter((e) => e.event === "accepted").map((e) => e.legacySid);
    expect(accepted).toEqual([SID1, ANDROID]);
    expect(result.concurrency).toMatchObject({ mode: "fixed", peakInFlight: 1, throttled: 1 });
  });

  it("the (App, type) with the most creates still to send goes first", async () => {
    const at = "2020-01-01T00:00:00Z";
    const sid = (n: number) => `CR${n.toString(16).padStart(32, "0")}`;
    const legacy = (n: number, type: "apn" | "fcm", sandbox: string | null) => ({ sid: sid(n), friendly_name: null, type, sandbox, date_created: at, date_updated: at });
    const w = await world({ seed: { legacyCredentials: [legacy(1, "fcm", null), legacy(2, "apn", "True"), legacy(3, "apn", "False"), legacy(4, "apn", "False")] } });
    const { plan, secrets, existing } = await w.planFor([
      { sid: sid(1), appName: "limonade_android", secrets: { serviceAccount: "file:limonade-android-sa.json" } },
      { sid: sid(2), appName: "limonade_ios", secrets: { certificate: "file:ios-sandbox-2.cert.pem", privateKey: "file:ios-sandbox-2.key.pem" } },
      { sid: sid(3), appName: "limonade_ios", secrets: PROD },
      { sid: sid(4), appName: "limonade_ios", secrets: PROD },
    ]);
    expect(plan.items.map((i) => [i.legacySid, i.action])).toEqual([1, 2, 3, 4].map((n) => [sid(n), "create"]));
    await apply(plan, { ...w.time, comms: w.comms, ledger: w.ledger, secrets, existing, concurrency: 1 });
    // 1 takes the one slot at once; then 3 (APN: two to send) before 2 (APN_SANDBOX: one), queued
    // before it; 4, queued behind 3, last.
    const attempts = w.ledger.list.filter((e) => e.event === "attempt").map((e) => e.legacySid);
    expect(attempts).toEqual([1, 3, 2, 4].map(sid));
  });
});
