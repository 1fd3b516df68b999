import { describe, expect, it } from "vitest";
import { MemoryLedger } from "../../src/ledger/ledger.js";
import { planRollback, rollback } from "../../src/rollback/rollback.js";
import { ACCOUNT, comms, ledgerEntry, sid } from "../plan/builders.js";
import { fakeComms, virtualClock } from "../apply/fake-comms.js";

const NOT_ALLOWED = { allowAppDeletion: false };

describe("planRollback: what is deleted, what is only reported", () => {
  it("warns about an attempt with no recorded outcome, and only about that", () => {
    const live = comms();
    const entries = new Map([
      [sid(1), ledgerEntry({ legacySid: sid(1), state: "pending" })],
      [sid(2), ledgerEntry({ legacySid: sid(2), commsCredentialId: live.id })],
    ]);
    const p = planRollback(entries, [live], { allowAppDeletion: true });
    expect(p.warnings).toEqual([expect.stringMatching(new RegExp(`^${sid(1)}: an attempt has no recorded outcome`))]);
    expect(p.deletes.map((d) => d.legacySid)).toEqual([sid(2)]);
  });

  it("goes through the sids in order, whatever order the ledger holds them in", () => {
    const a = comms();
    const b = comms();
    const entries = new Map([
      [sid(2), ledgerEntry({ legacySid: sid(2), commsCredentialId: b.id })],
      [sid(1), ledgerEntry({ legacySid: sid(1), commsCredentialId: a.id })],
    ]);
    expect(planRollback(entries, [a, b], { allowAppDeletion: true }).deletes.map((d) => d.legacySid)).toEqual([sid(1), sid(2)]);
  });

  it("an earlier id of the sid that is not live is neither gone nor pending: it is simply not there", () => {
    const current = comms();
    const other = comms();
    const entries = new Map([[sid(1), ledgerEntry({ legacySid: sid(1), commsCredentialId: current.id, createdIds: ["comms_credential_old", current.id] })]]);
    const p = planRollback(entries, [current, other], NOT_ALLOWED);
    expect(p.gone).toEqual([]);
    expect(p.warnings).toEqual([]);
    expect(p.deletes.map((d) => d.commsCredentialId)).toEqual([current.id]);
  });

  it("an unconfirmed id that is not listed is a warning, not a delete and not gone", () => {
    const entries = new Map([[sid(1), ledgerEntry({ legacySid: sid(1), state: "unconfirmed", commsCredentialId: "comms_credential_x" })]]);
    const p = planRollback(entries, [], NOT_ALLOWED);
    expect(p.warnings).toEqual([expect.stringMatching(/comms_credential_x was accepted but is not visible/)]);
    expect(p.gone).toEqual([]);
    expect(p.deletes).toEqual([]);
  });

  it("a failed or rolled-back sid whose id is not listed is neither gone nor a warning", () => {
    const entries = new Map([
      [sid(1), ledgerEntry({ legacySid: sid(1), state: "failed", commsCredentialId: "comms_credential_f" })],
      [sid(2), ledgerEntry({ legacySid: sid(2), state: "deleted", createdIds: ["comms_credential_d"] })],
    ]);
    expect(planRollback(entries, [], NOT_ALLOWED)).toEqual({ deletes: [], refused: [], gone: [], warnings: [] });
  });

  it("a gone credential is reported with the App and type the ledger knows", () => {
    const entries = new Map([
      [sid(1), ledgerEntry({ legacySid: sid(1), appName: "app_android", credentialType: "FCM", commsCredentialId: "comms_credential_g1" })],
      [sid(2), { legacySid: sid(2), state: "confirmed" as const, commsCredentialId: "comms_credential_g2", createdIds: ["comms_credential_g2"], runIds: [] }],
    ]);
    expect(planRollback(entries, [], NOT_ALLOWED).gone).toEqual([
      { legacySid: sid(1), commsCredentialId: "comms_credential_g1", appName: "app_android", credentialType: "FCM" },
      { legacySid: sid(2), commsCredentialId: "comms_credential_g2", appName: "", credentialType: "APN" },
    ]);
  });
});

describe("rollback: execution details", () => {
  function world() {
    const clock = virtualClock();
    const fake = fakeComms(clock);
    const ledger = new MemoryLedger(clock.now);
    return { clock, fake, ledger, deps: { comms: fake.client, ledger, concurrency: 1, runId: "r", accountSid: ACCOUNT, now: clock.now, sleep: clock.sleep } };
  }

  it("works with a concurrency below 1 (treated as 1), times each item, and passes the request counts on", async () => {
    const w = world();
    const c = w.fake.add({ appName: "a", credentialType: "APN" });
    w.fake.client.stats.byKind = { delete: 1, fetch: 2 };
    w.fake.client.stats.retries = 3;
    w.fake.hooks.delete = async (id) => {
      w.clock.advance(250);
      w.fake.remove(id);
      return { resourceId: id, resourceLocation: `x/${id}` };
    };
    const result = await rollback({ deletes: [{ legacySid: sid(1), commsCredentialId: c.id, appName: "a", credentialType: "APN" }], refused: [], gone: [], warnings: [] }, { ...w.deps, concurrency: 0 });
    const item = result.items[0]!;
    expect(item).toMatchObject({ status: "confirmed", problems: [] });
    expect(item.timings!.ms).toBe(250);
    expect(Date.parse(item.timings!.finishedAt) - Date.parse(item.timings!.startedAt)).toBe(250);
    expect(result.requests).toEqual({ delete: 1, fetch: 2, retries: 3 });
  });

  it("with no time left to wait, a delete that is still visible is not waited for", async () => {
    const w = world();
    const c = w.fake.add({ appName: "a", credentialType: "APN" });
    w.fake.hooks.delete = async (id) => ({ resourceId: id, resourceLocation: `x/${id}` });
    const t0 = w.clock.ms();
    const result = await rollback({ deletes: [{ legacySid: sid(1), commsCredentialId: c.id, appName: "a", credentialType: "APN" }], refused: [], gone: [], warnings: [] }, { ...w.deps, confirmTimeoutMs: 0 });
    expect(result.items[0]!.status).toBe("accepted-unconfirmed");
    expect(w.clock.ms()).toBe(t0);
  });

  it("looks again with a growing delay, often at first", async () => {
    const w = world();
    const c = w.fake.add({ appName: "a", credentialType: "APN" });
    w.fake.hooks.delete = async (id) => {
      w.fake.goneFrom(id, w.clock.ms() + 1_600);
      return { resourceId: id, resourceLocation: `x/${id}` };
    };
    await rollback({ deletes: [{ legacySid: sid(1), commsCredentialId: c.id, appName: "a", credentialType: "APN" }], refused: [], gone: [], warnings: [] }, { ...w.deps, confirmTimeoutMs: 10_000 });
    // 100, 200, 400, 800 ms apart: looks at 0, 100, 300, 700, 1500, 3100.
    expect(w.fake.calls.filter((x) => x.startsWith("fetch ")).length).toBe(6);
  });

  it("a refused App's items carry exactly one problem", async () => {
    const w = world();
    const cand = { legacySid: sid(1), commsCredentialId: "comms_credential_1", appName: "a", credentialType: "FCM" as const };
    const result = await rollback({ deletes: [], refused: [{ appName: "a", candidates: [cand] }], gone: [], warnings: [] }, w.deps);
    expect(result.items[0]!.problems).toHaveLength(1);
    expect(result.items[0]).toMatchObject({ status: "skipped", legacyType: "fcm", sandbox: null });
  });
});
