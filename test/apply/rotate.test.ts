/**
 * Rotation against the emulator: a renewed secret becomes a `replace` that creates the new
 * credential, confirms it, moves the default, then deletes the old one — and a crash at any step
 * is finished by a rerun without a second new credential or a second delete.
 */
import { afterEach, describe, expect, it } from "vitest";
import { apply } from "../../src/apply/writer.js";
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
import { planRollback, rollback } from "../../src/rollback/rollback.js";
import { resolveEntrySecrets } from "../../src/secrets/index.js";
import { computeStatus } from "../../src/status/status.js";
import { FIXTURES } from "../secrets/helpers.js";

const SID1 = "CR00000000000000000000000000000001";
const OLD: MappingEntry["secrets"] = { certificate: "file:apn-prod.cert.pem", privateKey: "file:apn-prod.key.pem" };
const RENEWED: MappingEntry["secrets"] = { certificate: "file:apn-cn-prod.cert.pem", privateKey: "file:apn-cn-prod.key.pem" };
const APP = "limonade_ios";

let emu: Emulator | undefined;
let client: CommsClient | undefined;
afterEach(async () => {
  await client?.close();
  await emu?.close();
  emu = client = undefined;
});

/** A ledger that, like a process killed after `n` more appends, records nothing after them (each later append throws). */
class CrashingLedger implements Ledger {
  constructor(
    private readonly inner: MemoryLedger,
    private left: number,
  ) {}
  async append(event: LedgerEventInput): Promise<void> {
    if (this.left <= 0) throw new Error("killed");
    this.left--;
    await this.inner.append(event);
  }
  events() {
    return this.inner.events();
  }
  entries() {
    return this.inner.entries();
  }
}

async function world(opts: EmulatorOptions = {}) {
  emu = await startEmulator({ port: 0, ...opts });
  const e = emu;
  const c = (client = createCommsClient({ baseUrl: e.url, apiVersion: "v1", accountSid: e.accountSid, username: e.accountSid, password: e.authToken }));
  const ledger = new MemoryLedger();
  const planFor = async (secrets: MappingEntry["secrets"], l: Ledger = ledger, replace?: ReadonlySet<string>) => {
    const mapping: Mapping = { version: 1, credentials: [{ sid: SID1, appName: APP, index: 0, ...(secrets ? { secrets } : {}) }], path: `${FIXTURES}m.yaml` };
    const legacy = createLegacyReader({ accountSid: e.accountSid, username: e.accountSid, password: e.authToken, baseUrl: e.url });
    const snapshot = await observe({ accountSid: e.accountSid, legacy, comms: c, ledger: l, now: () => new Date() });
    const resolved = new Map<string, SecretResult>();
    for (const { entry, target } of secretsNeeded(snapshot, mapping)) {
      resolved.set(entry.sid, await resolveEntrySecrets(entry, target, { mappingDir: FIXTURES, env: {}, now: new Date(), interactive: false }));
    }
    return { plan: makePlan(snapshot, mapping, resolved, { now: new Date(), ...(replace ? { replace } : {}) }), secrets: resolved, existing: snapshot.comms };
  };
  const run = async (p: Awaited<ReturnType<typeof planFor>>, l: Ledger = ledger) =>
    apply(p.plan, { comms: c, ledger: l, secrets: p.secrets, existing: p.existing, concurrency: 4, reconcileWindowMs: 0 });
  const writes = () => e.requests.filter((r) => r.method !== "GET");
  const inApp = () => e.state.commsCredentials().filter((x) => x.appName === APP && x.credentialType === "APN");
  return { emu: e, comms: c, ledger, planFor, run, writes, inApp };
}

/** Migrates SID1 with the old certificate; returns its Comms id. */
async function migrated(w: Awaited<ReturnType<typeof world>>): Promise<string> {
  const first = await w.run(await w.planFor(OLD));
  const item = first.items.find((i) => i.legacySid === SID1)!;
  expect(item).toMatchObject({ action: "create", status: "confirmed" });
  return item.commsCredentialId!;
}

describe("rotation: a renewed secret is replaced without ever emptying the App", () => {
  it("plans a replace (old → new fingerprint), creates, moves the default, deletes the old one; a rerun writes nothing", async () => {
    const w = await world();
    const oldId = await migrated(w);
    expect(w.inApp()).toMatchObject([{ id: oldId, isDefault: true }]);

    const p = await w.planFor(RENEWED);
    const item = p.plan.items.find((i) => i.legacySid === SID1)!;
    expect(item.action).toBe("replace");
    expect(item.replace).toMatchObject({ oldId, oldWasDefault: true });
    expect(item.replace!.oldSecret!.certSha256).not.toBe(item.secret!.certSha256);
    expect(item.secret!.notAfter).toBeDefined();
    expect(item.warnings.join(" ")).toMatch(/secret was renewed \(certificate [0-9a-f]{16}… .* → certificate [0-9a-f]{16}…/);

    const before = w.writes().length;
    const result = await w.run(p);
    const done = result.items.find((i) => i.legacySid === SID1)!;
    expect(done).toMatchObject({ action: "replace", status: "confirmed", attempts: 1 });
    const newId = done.commsCredentialId!;
    expect(newId).not.toBe(oldId);
    expect(w.inApp()).toMatchObject([{ id: newId, isDefault: true }]);
    // Create, make default, delete — in that order, so the App always held a credential of the type.
    expect(w.writes().slice(before).map((r) => `${r.method} ${r.path.includes(oldId) ? "old" : r.path.includes(newId) ? "new" : "collection"}`)).toEqual([
      "POST collection",
      "PATCH new",
      "DELETE old",
    ]);
    const events = w.ledger.list.slice(3);
    expect(events.map((e) => e.event)).toEqual(["attempt", "accepted", "confirmed", "default-set", "deleted"]);
    expect(events[0]).toMatchObject({ replaces: oldId, replacesDefault: true, isDefault: false });
    expect(events[4]).toMatchObject({ commsCredentialId: oldId, reason: `replaced by ${newId}` });
    const entry = (await w.ledger.entries()).get(SID1)!;
    expect(entry).toMatchObject({ state: "confirmed", commsCredentialId: newId, isDefault: true, replacedIds: [oldId] });
    expect(entry.replacing).toBeUndefined();
    expect(entry.secret!.certSha256).toBe(item.secret!.certSha256);

    const again = await w.planFor(RENEWED);
    expect(again.plan.items.find((i) => i.legacySid === SID1)!.action).toBe("already-migrated");
    const writesBefore = w.writes().length;
    const eventsBefore = w.ledger.list.length;
    await w.run(again);
    expect(w.writes().length).toBe(writesBefore);
    expect(w.ledger.list.length).toBe(eventsBefore);
    expect(computeStatus(await w.ledger.entries(), await w.comms.list(), { now: new Date() }).drift).toBe(false);
  });

  it("a re-exported copy of the same certificate is not a renewal; --replace forces one", async () => {
    const w = await world();
    const oldId = await migrated(w);
    // Same certificate and key, another encoding of the key (PKCS#8): same certificate digest.
    const copy = { certificate: "file:apn-prod.cert.pem", privateKey: "file:apn-prod.key-pkcs8.pem" };
    const p = await w.planFor(copy);
    const item = p.plan.items.find((i) => i.legacySid === SID1)!;
    expect(item.action).toBe("already-migrated");
    expect(item.warnings.join(" ")).not.toMatch(/renewed|rotation/);

    const forced = await w.planFor(copy, w.ledger, new Set([SID1]));
    const f = forced.plan.items.find((i) => i.legacySid === SID1)!;
    expect(f).toMatchObject({ action: "replace", replace: { oldId, forced: true } });
    const result = await w.run(forced);
    expect(result.items.find((i) => i.legacySid === SID1)!.status).toBe("confirmed");
    expect(w.inApp().map((c) => c.id)).not.toContain(oldId);
    expect(w.inApp()).toHaveLength(1);
  });

  it("is blocked, with the advice, when the App is full; nothing is written", async () => {
    const w = await world();
    const oldId = await migrated(w);
    for (let i = 0; i < 9; i++) w.emu.state.addComms({ appName: APP, credentialType: "FCM" });
    const p = await w.planFor(RENEWED);
    const item = p.plan.items.find((i) => i.legacySid === SID1)!;
    expect(item.action).toBe("blocked");
    expect(item.problems.join(" ")).toMatch(/holds 10 credentials, the Comms limit of 10 per App: a replacement creates the new credential before it deletes .*needs one free slot/);
    expect(p.plan.accountProblems).toEqual([]);
    const before = w.writes().length;
    await w.run(p);
    expect(w.writes().length).toBe(before);
    expect(w.inApp().map((c) => c.id)).toEqual([oldId]);
  });

  it("a lost answer to the new credential's create is reconciled (adopted), never re-sent; then the old one goes", async () => {
    const w = await world();
    const oldId = await migrated(w);
    w.emu.setFaults({ script: [{ method: "POST", path: /\/PushNotifications\/Credentials$/, kind: "drop-after-commit" }] });
    const start = w.emu.requests.length;
    const result = await w.run(await w.planFor(RENEWED));
    const item = result.items.find((i) => i.legacySid === SID1)!;
    expect(item).toMatchObject({ action: "replace", status: "confirmed", attempts: 1 });
    expect(item.warnings.join(" ")).toMatch(/answer was lost; found .* adopted it/);
    expect(w.emu.requests.slice(start).filter((r) => r.method === "POST" && /Credentials$/.test(r.path))).toHaveLength(1);
    expect(w.inApp()).toMatchObject([{ id: item.commsCredentialId, isDefault: true }]);
    expect(w.inApp()[0]!.id).not.toBe(oldId);
  });

  it("a create that fails outright leaves the old credential in place and the sid as it was", async () => {
    const w = await world();
    const oldId = await migrated(w);
    w.emu.setFaults({ script: [{ method: "POST", path: /\/PushNotifications\/Credentials$/, kind: "500-after-commit", times: 0 }] });
    // A full App is the emulator's own refusal: fill it behind the planner's back.
    const p = await w.planFor(RENEWED);
    for (let i = 0; i < 9; i++) w.emu.state.addComms({ appName: APP, credentialType: "FCM" });
    const result = await w.run(p);
    const item = result.items.find((i) => i.legacySid === SID1)!;
    expect(item.status).toBe("failed");
    expect(item.warnings.join(" ")).toMatch(new RegExp(`${oldId} is kept until the new credential is in place`));
    expect(w.inApp().map((c) => c.id)).toEqual([oldId]);
    const entry = (await w.ledger.entries()).get(SID1)!;
    expect(entry).toMatchObject({ state: "confirmed", commsCredentialId: oldId });
    expect(entry.replacing).toBeUndefined();
  });
});

describe("rotation: a crash at any step is finished by a rerun", () => {
  // Appends a replacement makes: attempt, accepted, confirmed, default-set, deleted.
  for (let n = 0; n <= 4; n++) {
    it(`killed after ${n} of its ledger appends: the rerun leaves exactly the new credential, created once, the old one deleted once`, async () => {
      const w = await world();
      const oldId = await migrated(w);
      const start = w.emu.requests.length;

      const crashed = await w.run(await w.planFor(RENEWED), new CrashingLedger(w.ledger, n));
      expect(crashed.items.find((i) => i.legacySid === SID1)!.status).not.toBe("confirmed");
      // The App was never emptied.
      expect(w.inApp().length).toBeGreaterThanOrEqual(1);

      const rerunPlan = await w.planFor(RENEWED);
      expect(rerunPlan.plan.items.find((i) => i.legacySid === SID1)!.action).toBe("replace");
      const rerun = await w.run(rerunPlan);
      const item = rerun.items.find((i) => i.legacySid === SID1)!;
      expect(item).toMatchObject({ action: "replace", status: "confirmed" });

      const live = w.inApp();
      expect(live).toHaveLength(1);
      expect(live[0]).toMatchObject({ id: item.commsCredentialId, isDefault: true });
      const sent = w.emu.requests.slice(start);
      const creates = sent.filter((r) => r.method === "POST" && /\/PushNotifications\/Credentials$/.test(r.path));
      const deletes = sent.filter((r) => r.method === "DELETE");
      // n = 0: the attempt was never journalled, so nothing was sent before the crash.
      expect(creates).toHaveLength(1);
      expect(deletes).toHaveLength(1);
      expect(deletes[0]!.path).toContain(oldId);

      const entry = (await w.ledger.entries()).get(SID1)!;
      expect(entry).toMatchObject({ state: "confirmed", commsCredentialId: item.commsCredentialId, replacedIds: [oldId] });

      // And once more: nothing left to do.
      const third = await w.planFor(RENEWED);
      expect(third.plan.items.find((i) => i.legacySid === SID1)!.action).toBe("already-migrated");
      const writes = w.writes().length;
      await w.run(third);
      expect(w.writes().length).toBe(writes);
    });
  }
});

describe("rollback understands replaced credentials", () => {
  it("deletes only the replacement (the old one is gone), refusing to empty the App without --allow-app-deletion", async () => {
    const w = await world();
    const oldId = await migrated(w);
    const replaced = await w.run(await w.planFor(RENEWED));
    const newId = replaced.items.find((i) => i.legacySid === SID1)!.commsCredentialId!;

    const refused = planRollback(await w.ledger.entries(), await w.comms.list(), { allowAppDeletion: false });
    expect(refused.refused.flatMap((r) => r.candidates.map((c) => c.commsCredentialId))).toEqual(
      w.emu.state.commsCredentials().filter((c) => c.appName === APP).length === 1 ? [newId] : [],
    );
    const plan = planRollback(await w.ledger.entries(), await w.comms.list(), { allowAppDeletion: true });
    expect(plan.deletes.map((d) => d.commsCredentialId)).toEqual([newId]);
    expect(plan.gone).toEqual([]);
    expect(plan.deletes.map((d) => d.commsCredentialId)).not.toContain(oldId);
    const result = await rollback(plan, { comms: w.comms, ledger: w.ledger, concurrency: 2, runId: "rb", accountSid: w.emu.accountSid, confirmTimeoutMs: 5_000 });
    expect(result.items.map((i) => [i.commsCredentialId, i.status])).toEqual([[newId, "confirmed"]]);
    expect((await w.ledger.entries()).get(SID1)!.state).toBe("deleted");
    expect(w.inApp()).toEqual([]);
  });

  it("mid-replacement (both live), rollback deletes both credentials cr2comms made", async () => {
    const w = await world();
    const oldId = await migrated(w);
    // Killed after attempt, accepted, confirmed: the new one exists, the old one is not deleted yet.
    await w.run(await w.planFor(RENEWED), new CrashingLedger(w.ledger, 3));
    const entries = await w.ledger.entries();
    const newId = entries.get(SID1)!.commsCredentialId!;
    const status = computeStatus(entries, await w.comms.list(), { now: new Date() });
    expect(status.rows.map((r) => [r.kind, r.commsCredentialId])).toEqual([
      ["in-sync", newId],
      ["replacing", oldId],
    ]);
    expect(status.drift).toBe(true);
    const plan = planRollback(entries, await w.comms.list(), { allowAppDeletion: true });
    expect(plan.deletes.map((d) => d.commsCredentialId).sort()).toEqual([oldId, newId].sort());
  });
});
