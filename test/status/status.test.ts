import { describe, expect, it } from "vitest";
import { computeStatus } from "../../src/status/status.js";
import { comms, ledgerEntry, sid } from "../plan/builders.js";

describe("computeStatus", () => {
  it("in sync when every confirmed credential is live", () => {
    const c = comms();
    const s = computeStatus(new Map([[sid(1), ledgerEntry({ commsCredentialId: c.id })]]), [c]);
    expect(s.drift).toBe(false);
    expect(s.rows.map((r) => r.kind)).toEqual(["in-sync"]);
    expect(s.foreign).toEqual([]);
  });

  it("flags missing, default-changed, unconfirmed and pending as drift, and lists foreign credentials", () => {
    const live = comms({ isDefault: false });
    const foreign = comms({ appName: "other" });
    const entries = new Map([
      [sid(1), ledgerEntry({ legacySid: sid(1), commsCredentialId: "comms_credential_gone" })],
      [sid(2), ledgerEntry({ legacySid: sid(2), commsCredentialId: live.id, isDefault: true })],
      [sid(3), ledgerEntry({ legacySid: sid(3), commsCredentialId: "comms_credential_invisible", state: "accepted" })],
      [sid(4), ledgerEntry({ legacySid: sid(4), state: "pending" })],
    ]);
    const s = computeStatus(entries, [live, foreign]);
    expect(s.rows.map((r) => r.kind)).toEqual(["missing", "default-changed", "unconfirmed", "pending"]);
    expect(s.drift).toBe(true);
    expect(s.foreign.map((c) => c.id)).toEqual([foreign.id]);
  });

  it("flags an earlier credential of the same sid that is live again as orphaned drift (a duplicate)", () => {
    const old = comms();
    const current = comms();
    const entry = ledgerEntry({ commsCredentialId: current.id, createdIds: [old.id, current.id] });
    const s = computeStatus(new Map([[sid(1), entry]]), [old, current]);
    expect(s.rows.map((r) => [r.kind, r.commsCredentialId])).toEqual([
      ["in-sync", current.id],
      ["orphaned", old.id],
    ]);
    expect(s.drift).toBe(true);
    expect(s.foreign).toEqual([]);
  });
});
