import { describe, expect, it } from "vitest";
import { planRollback } from "../../src/rollback/rollback.js";
import { comms, ledgerEntry, sid } from "../plan/builders.js";

describe("planRollback", () => {
  it("only ever deletes ids the ledger says cr2comms created", () => {
    const mine = comms({ appName: "a" });
    const foreign = comms({ appName: "a" });
    const plan = planRollback(new Map([[sid(1), ledgerEntry({ commsCredentialId: mine.id, appName: "a" })]]), [mine, foreign], { allowAppDeletion: false });
    expect(plan.deletes.map((d) => d.commsCredentialId)).toEqual([mine.id]);
    expect(plan.refused).toEqual([]);
  });

  it("refuses, per App, to delete an App's last credentials unless allowed", () => {
    const a1 = comms({ appName: "a" });
    const b1 = comms({ appName: "b" });
    const b2 = comms({ appName: "b" });
    const entries = new Map([
      [sid(1), ledgerEntry({ legacySid: sid(1), commsCredentialId: a1.id, appName: "a" })],
      [sid(2), ledgerEntry({ legacySid: sid(2), commsCredentialId: b1.id, appName: "b" })],
    ]);
    const guarded = planRollback(entries, [a1, b1, b2], { allowAppDeletion: false });
    expect(guarded.refused.map((r) => r.appName)).toEqual(["a"]);
    expect(guarded.deletes.map((d) => d.commsCredentialId)).toEqual([b1.id]);
    const allowed = planRollback(entries, [a1, b1, b2], { allowAppDeletion: true });
    expect(allowed.deletes.map((d) => d.commsCredentialId).sort()).toEqual([a1.id, b1.id].sort());
  });

  it("does not forget a credential that was accepted but is not visible yet", () => {
    const entries = new Map([[sid(1), ledgerEntry({ commsCredentialId: "comms_credential_later", state: "unconfirmed" })]]);
    const plan = planRollback(entries, [], { allowAppDeletion: true });
    expect(plan.gone).toEqual([]);
    expect(plan.deletes).toEqual([]);
    expect(plan.warnings.join(" ")).toMatch(/not visible.*not deleted/);
  });

  it("treats a confirmed credential missing from Comms as already gone", () => {
    const plan = planRollback(new Map([[sid(1), ledgerEntry({ commsCredentialId: "comms_credential_x" })]]), [], { allowAppDeletion: false });
    expect(plan.gone.map((g) => g.commsCredentialId)).toEqual(["comms_credential_x"]);
  });

  it("also deletes an earlier credential of the sid that surfaced later (a duplicate)", () => {
    const old = comms({ appName: "a" });
    const current = comms({ appName: "a" });
    const entry = ledgerEntry({ commsCredentialId: current.id, createdIds: [old.id, current.id], appName: "a" });
    const plan = planRollback(new Map([[sid(1), entry]]), [old, current, comms({ appName: "a" })], { allowAppDeletion: false });
    expect(plan.deletes.map((d) => d.commsCredentialId).sort()).toEqual([old.id, current.id].sort());
  });

  it("--report narrows to that report's ids", () => {
    const a = comms({ appName: "x" });
    const b = comms({ appName: "x" });
    const entries = new Map([
      [sid(1), ledgerEntry({ legacySid: sid(1), commsCredentialId: a.id })],
      [sid(2), ledgerEntry({ legacySid: sid(2), commsCredentialId: b.id })],
    ]);
    const plan = planRollback(entries, [a, b], { allowAppDeletion: true, onlyIds: new Set([b.id]) });
    expect(plan.deletes.map((d) => d.commsCredentialId)).toEqual([b.id]);
  });
});
