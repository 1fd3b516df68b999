import { describe, expect, it } from "vitest";
import type { LedgerEvent } from "../../src/ledger/types.js";
import { replay } from "../../src/ledger/ledger.js";
import { computeStatus, DRIFT_KINDS } from "../../src/status/status.js";
import { comms, ledgerEntry, sid } from "../plan/builders.js";

const TS = "2025-06-01T12:00:00.000Z";

/** The events of one create that was confirmed as `id`, made with `isDefault`. */
function created(legacySid: string, id: string, isDefault: boolean): LedgerEvent[] {
  return [
    { v: 1, ts: TS, legacySid, event: "attempt", attemptId: "a1", appName: "app_ios", credentialType: "APN", isDefault, startedAt: TS },
    { v: 1, ts: TS, legacySid, event: "accepted", attemptId: "a1", commsCredentialId: id },
    { v: 1, ts: TS, legacySid, event: "confirmed", commsCredentialId: id },
  ];
}

describe("status after replaying default-set", () => {
  it("a credential cr2comms made the default with a PATCH, no longer the default, is default-changed drift", () => {
    const live = comms({ isDefault: false });
    const events: LedgerEvent[] = [...created(sid(1), live.id, false), { v: 1, ts: TS, legacySid: sid(1), event: "default-set", commsCredentialId: live.id, isDefault: true }];
    const entries = replay(events);
    expect(entries.get(sid(1))).toMatchObject({ isDefault: true, state: "confirmed" });
    const s = computeStatus(entries, [live]);
    expect(s.rows.map((r) => r.kind)).toEqual(["default-changed"]);
    expect(s.drift).toBe(true);
  });

  it("the latest default-set wins: made non-default again, it is in sync while not the default", () => {
    const live = comms({ isDefault: false });
    const events: LedgerEvent[] = [
      ...created(sid(1), live.id, true),
      { v: 1, ts: TS, legacySid: sid(1), event: "default-set", commsCredentialId: live.id, isDefault: false },
    ];
    const entries = replay(events);
    expect(entries.get(sid(1))?.isDefault).toBe(false);
    expect(computeStatus(entries, [live]).rows.map((r) => r.kind)).toEqual(["in-sync"]);
  });

  it("without a default-set, a credential created non-default is in sync whatever Comms says", () => {
    const live = comms({ isDefault: false });
    expect(computeStatus(replay(created(sid(1), live.id, false)), [live]).rows.map((r) => r.kind)).toEqual(["in-sync"]);
  });
});

describe("computeStatus: every kind", () => {
  it("failed and rolled-back rows are not drift; each row carries the entry's App, type and id", () => {
    const entries = new Map([
      [sid(2), ledgerEntry({ legacySid: sid(2), state: "deleted", appName: "app_b", credentialType: "FCM" })],
      [sid(1), ledgerEntry({ legacySid: sid(1), state: "failed", appName: "app_a", credentialType: "APN_SANDBOX" })],
    ]);
    const s = computeStatus(entries, []);
    expect(s.rows).toEqual([
      { legacySid: sid(1), appName: "app_a", credentialType: "APN_SANDBOX", kind: "failed", detail: expect.stringMatching(/failed/) },
      { legacySid: sid(2), appName: "app_b", credentialType: "FCM", kind: "rolled-back", detail: expect.stringMatching(/rollback/) },
    ]);
    expect(s.drift).toBe(false);
    expect(s.summary).toEqual({ failed: 1, "rolled-back": 1 });
  });

  it("an entry without App, type or id gets no such fields", () => {
    const s = computeStatus(new Map([[sid(1), { legacySid: sid(1), state: "pending" as const, createdIds: [], runIds: [] }]]), []);
    expect(s.rows).toEqual([{ legacySid: sid(1), kind: "pending", detail: expect.any(String) }]);
  });

  it("unconfirmed: says whether the accepted credential is visible in Comms", () => {
    const visible = comms();
    const entries = new Map([
      [sid(1), ledgerEntry({ legacySid: sid(1), state: "unconfirmed", commsCredentialId: visible.id })],
      [sid(2), ledgerEntry({ legacySid: sid(2), state: "unconfirmed", commsCredentialId: "comms_credential_invisible" })],
    ]);
    const [present, absent] = computeStatus(entries, [visible]).rows;
    expect(present).toMatchObject({ kind: "unconfirmed", commsCredentialId: visible.id });
    expect(absent).toMatchObject({ kind: "unconfirmed", commsCredentialId: "comms_credential_invisible" });
    expect(present!.detail).toMatch(/present in Comms/);
    expect(absent!.detail).toMatch(/not visible/);
  });

  it("names the missing id, and counts every kind plus the credentials it did not create", () => {
    const foreign = comms({ appName: "other" });
    const s = computeStatus(new Map([[sid(1), ledgerEntry({ legacySid: sid(1), commsCredentialId: "comms_credential_gone" })]]), [foreign]);
    expect(s.rows[0]!.detail).toMatch(/comms_credential_gone/);
    expect(s.summary).toEqual({ missing: 1, "not-created-by-cr2comms": 1 });
  });

  it("an orphan of a rolled-back sid is still reported, superseded by nothing", () => {
    const old = comms();
    const s = computeStatus(new Map([[sid(1), ledgerEntry({ legacySid: sid(1), state: "deleted", createdIds: [old.id] })]]), [old]);
    expect(s.rows.map((r) => r.kind)).toEqual(["rolled-back", "orphaned"]);
    expect(s.rows[1]!.detail).toMatch(/superseded by nothing/);
    expect(s.drift).toBe(true);
    expect(s.foreign).toEqual([]);
  });

  it("every row explains itself", () => {
    const live = comms({ isDefault: false });
    const entries = new Map([
      [sid(1), ledgerEntry({ legacySid: sid(1), commsCredentialId: live.id })],
      [sid(2), ledgerEntry({ legacySid: sid(2), commsCredentialId: live.id, isDefault: true })],
      [sid(3), ledgerEntry({ legacySid: sid(3), state: "pending" })],
    ]);
    const rows = computeStatus(entries, [live]).rows;
    expect(rows.map((r) => r.kind)).toEqual(["in-sync", "default-changed", "pending"]);
    expect(rows[0]!.detail).toMatch(/present/);
    expect(rows[1]!.detail).toMatch(/no longer/);
    expect(rows[2]!.detail).toMatch(/no recorded outcome/);
  });

  it("drift kinds are exactly those the ledger and Comms disagree on", () => {
    expect([...DRIFT_KINDS].sort()).toEqual(["default-changed", "delete-pending", "missing", "orphaned", "pending", "replacing", "unconfirmed"]);
  });
});
