/**
 * After a lost answer or a crash, one run converges: it waits (on a virtual clock here) for the
 * outcome it cannot know yet, then sends again; other creates of the same App and type go ahead.
 */
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { apply, type WaitNotice } from "../../src/apply/writer.js";
import { createCommsClient } from "../../src/comms/index.js";
import type { CommsClient } from "../../src/comms/types.js";
import type { SecretResult } from "../../src/domain.js";
import { startEmulator, type Emulator, type EmulatorOptions } from "../../src/emulator/index.js";
import { MemoryLedger } from "../../src/ledger/ledger.js";
import type { Ledger, LedgerEventInput } from "../../src/ledger/types.js";
import { createLegacyReader } from "../../src/legacy/index.js";
import type { Mapping, MappingEntry } from "../../src/mapping/types.js";
import { observe } from "../../src/observe/observe.js";
import { plan as makePlan, secretsNeeded } from "../../src/plan/index.js";
import { resolveEntrySecrets } from "../../src/secrets/index.js";
import { ROOT } from "../e2e/harness.js";

const SECRETS = join(ROOT, "mappings", "examples", "secrets");
const SID1 = "CR00000000000000000000000000000001";
const SID2 = "CR00000000000000000000000000000002";
const SID5 = "CR00000000000000000000000000000005";
const PROD: MappingEntry["secrets"] = { certificate: "file:limonade-ios-prod.cert.pem", privateKey: "file:limonade-ios-prod.key.pem" };
/** SID2 and SID5 both map to limonade_ios APN_SANDBOX: one (App, type). */
const SANDBOX_PAIR: Omit<MappingEntry, "index">[] = [
  { sid: SID2, appName: "limonade_ios", secrets: { p12: "file:limonade-ios-dev.p12", passphrase: "env:P" } },
  { sid: SID5, appName: "limonade_ios", secrets: { certificate: "file:ios-sandbox-2.cert.pem", privateKey: "file:ios-sandbox-2.key.pem" } },
];
const POST_CREDENTIAL = { method: "POST", path: "/PushNotifications/Credentials" };

let emu: Emulator | undefined;
let client: CommsClient | undefined;
afterEach(async () => {
  await client?.close();
  await emu?.close();
  emu = client = undefined;
});

/**
 * Virtual time for the writer: `sleep` moves the clock instead of waiting (plus a real tick, so the
 * emulator's own timers — visibility — can move on too).
 */
function virtualClock(realTickMs = 0) {
  let t = Date.now();
  return {
    now: () => new Date(t),
    sleep: async (ms: number) => {
      t += ms;
      await new Promise((r) => setTimeout(r, realTickMs));
    },
    advance: (ms: number) => (t += ms),
  };
}

async function world(opts: EmulatorOptions = {}, clock?: { now: () => Date }) {
  emu = await startEmulator({ port: 0, ...opts });
  const e = emu;
  const c = (client = createCommsClient({ baseUrl: e.url, apiVersion: "v1", accountSid: e.accountSid, username: e.accountSid, password: e.authToken }));
  const ledger = new MemoryLedger(clock?.now);
  const planFor = async (entries: Omit<MappingEntry, "index">[], l: Ledger = ledger) => {
    const mapping: Mapping = { version: 1, credentials: entries.map((x, index) => ({ ...x, index })), path: join(SECRETS, "m.yaml") };
    const legacy = createLegacyReader({ accountSid: e.accountSid, username: e.accountSid, password: e.authToken, baseUrl: e.url });
    const snapshot = await observe({ accountSid: e.accountSid, legacy, comms: c, ledger: l, now: () => new Date() });
    const secrets = new Map<string, SecretResult>();
    for (const { entry, target } of secretsNeeded(snapshot, mapping)) {
      secrets.set(entry.sid, await resolveEntrySecrets(entry, target, { mappingDir: SECRETS, env: { P: "fake-demo-passphrase" }, now: new Date(), interactive: false }));
    }
    return { plan: makePlan(snapshot, mapping, secrets, { now: new Date() }), secrets, existing: snapshot.comms };
  };
  const posts = () => e.requests.filter((r) => r.method === "POST").length;
  const inApp = (appName: string, type?: string) => e.state.commsCredentials().filter((x) => x.appName === appName && (!type || x.credentialType === type));
  return { emu: e, comms: c, ledger, planFor, posts, inApp };
}

describe("one run converges after a lost answer", () => {
  it("a create whose answer was lost and that never happened is waited for, then sent once more", async () => {
    const clock = virtualClock();
    const w = await world({ faults: { script: [{ ...POST_CREDENTIAL, kind: "drop-before-commit" }] } }, clock);
    const waits: WaitNotice[] = [];
    const p = await w.planFor([{ sid: SID1, appName: "limonade_ios", secrets: PROD }]);
    const result = await apply(p.plan, { comms: w.comms, ledger: w.ledger, secrets: p.secrets, existing: p.existing, concurrency: 4, wait: true, settleMs: 600_000, now: clock.now, sleep: clock.sleep, onWaiting: (n) => waits.push(n) });
    const item = result.items.find((i) => i.legacySid === SID1)!;
    expect(item.status).toBe("confirmed");
    expect(item.attempts).toBe(2);
    expect(item.warnings.join(" ")).toMatch(/answer was lost and nothing appeared in Comms within 600 s; sent again/);
    expect(w.posts()).toBe(2);
    expect(w.inApp("limonade_ios")).toHaveLength(1);
    expect(w.ledger.list.map((e) => e.event)).toEqual(["attempt", "unknown", "abandoned", "attempt", "accepted", "confirmed"]);
    expect(waits).toHaveLength(1);
    expect(waits[0]).toMatchObject({ legacySid: SID1, appName: "limonade_ios", credentialType: "APN" });
    // It waited the settle time (on the virtual clock) before sending again.
    const abandoned = w.ledger.list.find((e) => e.event === "abandoned")!;
    const attempt = w.ledger.list.find((e) => e.event === "attempt")!;
    expect(Date.parse(abandoned.ts) - Date.parse(attempt.ts)).toBeGreaterThanOrEqual(600_000);
  });

  it("a create carried out whose answer was lost is adopted at the first look, without waiting or a second POST", async () => {
    const w = await world({ faults: { script: [{ ...POST_CREDENTIAL, kind: "drop-after-commit" }] } });
    const clock = virtualClock();
    const waits: WaitNotice[] = [];
    const p = await w.planFor([{ sid: SID1, appName: "limonade_ios", secrets: PROD }]);
    const result = await apply(p.plan, { comms: w.comms, ledger: w.ledger, secrets: p.secrets, existing: p.existing, concurrency: 4, wait: true, now: clock.now, sleep: clock.sleep, onWaiting: (n) => waits.push(n) });
    expect(result.items.find((i) => i.legacySid === SID1)).toMatchObject({ status: "confirmed", commsCredentialId: w.inApp("limonade_ios")[0]!.id });
    expect(w.posts()).toBe(1);
    expect(waits).toEqual([]);
    expect(w.ledger.list.map((e) => e.event)).toEqual(["attempt", "unknown", "accepted", "confirmed"]);
  });

  it("after a crash, a rerun waits for the open attempt while the other creates of that App and type go ahead", async () => {
    const w = await world({ faults: { script: [{ ...POST_CREDENTIAL, kind: "drop-before-commit" }] } });
    // A crashed run: SID2's attempt journalled, its POST never carried out; SID5 never started.
    const crashed = await w.planFor(SANDBOX_PAIR);
    const only2 = { ...crashed.plan, items: crashed.plan.items.filter((i) => i.legacySid === SID2) };
    await apply(only2, { comms: w.comms, ledger: w.ledger, secrets: crashed.secrets, existing: crashed.existing, concurrency: 4, reconcileWindowMs: 0 });
    expect((await w.ledger.entries()).get(SID2)?.state).toBe("pending");
    expect(w.posts()).toBe(1);

    const clock = virtualClock();
    const rerun = await w.planFor(SANDBOX_PAIR);
    expect(rerun.plan.items.filter((i) => i.action === "create").map((i) => i.legacySid).sort()).toEqual([SID2, SID5]);
    const order: string[] = [];
    const result = await apply(rerun.plan, {
      comms: w.comms,
      ledger: w.ledger,
      secrets: rerun.secrets,
      existing: rerun.existing,
      concurrency: 4,
      wait: true,
      settleMs: 600_000,
      now: clock.now,
      sleep: clock.sleep,
      onItem: (i) => order.push(i.legacySid),
    });
    expect(result.items.map((i) => i.status)).toEqual(expect.arrayContaining(["confirmed", "confirmed"]));
    expect(result.items.filter((i) => i.status === "confirmed")).toHaveLength(2);
    expect(order.filter((s) => s === SID2 || s === SID5)).toEqual([SID5, SID2]); // SID5 was not held back by SID2's wait
    expect(w.inApp("limonade_ios", "APN_SANDBOX")).toHaveLength(2);
    expect(w.posts()).toBe(3);
    const events2 = (await w.ledger.events()).filter((e) => e.legacySid === SID2).map((e) => e.event);
    expect(events2).toEqual(["attempt", "unknown", "abandoned", "attempt", "accepted", "confirmed"]);
  });

  it("a lost create's credential that appears during the wait is adopted, never sent twice", async () => {
    const w = await world({ faults: { script: [{ ...POST_CREDENTIAL, kind: "drop-before-commit" }] } });
    const p = await w.planFor([{ sid: SID1, appName: "limonade_ios", secrets: PROD }]);
    await apply(p.plan, { comms: w.comms, ledger: w.ledger, secrets: p.secrets, existing: p.existing, concurrency: 4, reconcileWindowMs: 0 });
    const clock = virtualClock();
    const rerun = await w.planFor([{ sid: SID1, appName: "limonade_ios", secrets: PROD }]);
    let surfaced: string | undefined;
    const result = await apply(rerun.plan, {
      comms: w.comms,
      ledger: w.ledger,
      secrets: rerun.secrets,
      existing: rerun.existing,
      concurrency: 4,
      wait: true,
      now: clock.now,
      sleep: clock.sleep,
      // What the lost POST made becomes visible while the rerun waits.
      onWaiting: () => {
        const made = w.emu.state.createComms({ appName: "limonade_ios", credentialType: "APN" });
        if (!("limit" in made)) surfaced = made.id;
      },
    });
    expect(surfaced).toBeDefined();
    expect(result.items.find((i) => i.legacySid === SID1)).toMatchObject({ status: "confirmed", commsCredentialId: surfaced });
    expect(w.posts()).toBe(1);
    expect(w.inApp("limonade_ios")).toHaveLength(1);
  });

  it("two lost creates in one App and type never take each other's credential: the second waits until the first's window has closed", async () => {
    const w = await world({
      visibilityDelayMs: 150,
      faults: { script: [{ ...POST_CREDENTIAL, kind: "drop-after-commit", times: 2 }] },
    });
    const waits: WaitNotice[] = [];
    const p = await w.planFor(SANDBOX_PAIR);
    // Real time here (the emulator stamps createdAt with it); a zero skew allowance keeps the wait short.
    const result = await apply(p.plan, { comms: w.comms, ledger: w.ledger, secrets: p.secrets, existing: p.existing, concurrency: 4, wait: true, settleMs: 5_000, clockSkewMs: 0, onWaiting: (n) => waits.push(n) });
    const mine = result.items.filter((i) => i.legacySid === SID2 || i.legacySid === SID5);
    expect(mine.map((i) => i.status)).toEqual(["confirmed", "confirmed"]);
    expect(w.posts()).toBe(2);
    const [a, b] = mine;
    expect(a!.commsCredentialId).not.toBe(b!.commsCredentialId);
    // Each sid holds the certificate it sent: the emulator keeps what each create carried.
    const content = (id: string) => (w.emu.state.comms.get(id)?.content ?? {}).certificate;
    expect(content(a!.commsCredentialId!)).not.toBe(content(b!.commsCredentialId!));
    expect(w.ledger.list.filter((e) => e.event === "unknown")).toHaveLength(2);
  });

  it("an open attempt the plan already adopted holds nothing back: the other creates of its kind do not wait", async () => {
    const w = await world({ visibilityDelayMs: 300, faults: { script: [{ ...POST_CREDENTIAL, kind: "drop-after-commit" }] } });
    // SID5's create was carried out but its answer lost (and not visible yet): it stays open.
    const crashed = await w.planFor(SANDBOX_PAIR);
    const only5 = { ...crashed.plan, items: crashed.plan.items.filter((i) => i.legacySid === SID5) };
    await apply(only5, { comms: w.comms, ledger: w.ledger, secrets: crashed.secrets, existing: crashed.existing, concurrency: 4, reconcileWindowMs: 0 });
    expect((await w.ledger.entries()).get(SID5)?.state).toBe("pending");
    await new Promise((r) => setTimeout(r, 350)); // what it made is visible now
    const rerun = await w.planFor(SANDBOX_PAIR);
    expect(rerun.plan.items.find((i) => i.legacySid === SID5)?.action).toBe("already-migrated");
    // SID2 comes first in the plan: its create must not wait for SID5's window, which the plan settled.
    const waits: WaitNotice[] = [];
    const result = await apply(rerun.plan, { comms: w.comms, ledger: w.ledger, secrets: rerun.secrets, existing: rerun.existing, concurrency: 4, wait: true, onWaiting: (n) => waits.push(n) });
    expect(result.items.filter((i) => i.legacySid === SID2 || i.legacySid === SID5).map((i) => i.status)).toEqual(["confirmed", "confirmed"]);
    expect(waits).toEqual([]);
    expect(w.posts()).toBe(2);
  });

  it("--no-wait: a fresh open attempt fails with the time to rerun, and the other creates of that kind still go ahead", async () => {
    const w = await world({ faults: { script: [{ ...POST_CREDENTIAL, kind: "drop-before-commit" }] } });
    const crashed = await w.planFor(SANDBOX_PAIR);
    const only2 = { ...crashed.plan, items: crashed.plan.items.filter((i) => i.legacySid === SID2) };
    await apply(only2, { comms: w.comms, ledger: w.ledger, secrets: crashed.secrets, existing: crashed.existing, concurrency: 4, reconcileWindowMs: 0 });
    const rerun = await w.planFor(SANDBOX_PAIR);
    const result = await apply(rerun.plan, { comms: w.comms, ledger: w.ledger, secrets: rerun.secrets, existing: rerun.existing, concurrency: 4, wait: false, clockSkewMs: 0 });
    const bySid = Object.fromEntries(result.items.map((i) => [i.legacySid, i]));
    expect(bySid[SID2]).toMatchObject({ status: "failed" });
    expect(bySid[SID2]?.error).toMatch(/sent again only after .*rerun apply then \(or without --no-wait\)/);
    expect(bySid[SID5]).toMatchObject({ status: "confirmed" });
    expect(w.posts()).toBe(2);
  });

  it("Ctrl-C during the wait stops it: nothing is re-sent and the attempt stays open", async () => {
    const w = await world({ faults: { script: [{ ...POST_CREDENTIAL, kind: "drop-before-commit" }] } });
    const p = await w.planFor([{ sid: SID1, appName: "limonade_ios", secrets: PROD }]);
    await apply(p.plan, { comms: w.comms, ledger: w.ledger, secrets: p.secrets, existing: p.existing, concurrency: 4, reconcileWindowMs: 0 });
    const controller = new AbortController();
    const rerun = await w.planFor([{ sid: SID1, appName: "limonade_ios", secrets: PROD }]);
    const clock = virtualClock();
    const result = await apply(rerun.plan, { comms: w.comms, ledger: w.ledger, secrets: rerun.secrets, existing: rerun.existing, concurrency: 4, wait: true, now: clock.now, sleep: clock.sleep, signal: controller.signal, onWaiting: () => controller.abort() });
    expect(result.interrupted).toBe(true);
    expect(result.items.find((i) => i.legacySid === SID1)).toMatchObject({ status: "planned" });
    expect(w.posts()).toBe(1);
    expect((await w.ledger.entries()).get(SID1)?.state).toBe("pending");
  });
});

describe("the writer refuses what cannot be done safely", () => {
  it("writes nothing at all when the plan has account-level problems", async () => {
    const w = await world();
    const p = await w.planFor([{ sid: SID1, appName: "limonade_ios", secrets: PROD }]);
    const blocked = { ...p.plan, problems: ["the mapping needs 11 Apps"], accountProblems: ["the mapping needs 11 Apps"] };
    const result = await apply(blocked, { comms: w.comms, ledger: w.ledger, secrets: p.secrets, existing: p.existing, concurrency: 4 });
    expect(result.problems).toContain("the mapping needs 11 Apps");
    expect(result.items.find((i) => i.legacySid === SID1)).toMatchObject({ action: "create", status: "planned" });
    expect(w.emu.writeCount()).toBe(0);
    expect(w.ledger.list).toEqual([]);
  });

  it("a ledger append that fails stops new work; the failure is reported, never swallowed", async () => {
    const w = await world();
    const p = await w.planFor([
      { sid: SID1, appName: "limonade_ios", secrets: PROD },
      ...SANDBOX_PAIR.map((e) => ({ ...e, appName: "limonade_other" })),
    ]);
    const inner = new MemoryLedger();
    let appends = 0;
    const broken: Ledger = {
      events: () => inner.events(),
      entries: () => inner.entries(),
      async append(e: LedgerEventInput) {
        if (++appends === 2) throw new Error("ledger reports/ledger.jsonl: ENOSPC (no space left on device)");
        await inner.append(e);
      },
    };
    const result = await apply(p.plan, { comms: w.comms, ledger: broken, secrets: p.secrets, existing: p.existing, concurrency: 1 });
    const statuses = result.items.filter((i) => i.action === "create").map((i) => i.status);
    expect(statuses).toContain("failed");
    expect(result.items.find((i) => i.status === "failed")?.error).toMatch(/ENOSPC/);
    expect(result.problems.join(" ")).toMatch(/stopped: .*ENOSPC.*no new work was started/);
    // Only the first create reached Comms; the ones queued behind it never started.
    expect(w.posts()).toBe(1);
    expect(statuses.filter((s) => s === "planned")).toHaveLength(2);
  });
});
