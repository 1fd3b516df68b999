import { describe, expect, it } from "vitest";
import type { SecretFingerprint } from "../../src/domain.js";
import type { LedgerEvent } from "../../src/ledger/types.js";
import { CERT_EXPIRY_WARNING_DAYS } from "../../src/limits.js";
import { computeDefaultApp, computeStatus } from "../../src/status/status.js";
import { comms, ledgerEntry, sid } from "../plan/builders.js";

const NOW = new Date("2026-01-01T00:00:00.000Z");
const DAY = 86_400_000;
const cert = (days: number): SecretFingerprint => ({ kind: "apn", contentSha256: "c", certSha256: `cert-${days}`, notAfter: new Date(NOW.getTime() + days * DAY).toISOString() });

describe("status: an interrupted replacement", () => {
  it("its create lost: the old credential, still live, is shown as being replaced, with its expiry", () => {
    const old = comms();
    const e = ledgerEntry({ legacySid: sid(1), state: "pending", commsCredentialId: old.id, secretById: { [old.id]: cert(5) }, replacing: { oldId: old.id, attemptId: "a1", oldWasDefault: true, oldState: "confirmed" } });
    const s = computeStatus(new Map([[sid(1), e]]), [old], { now: NOW });
    expect(s.rows).toHaveLength(1);
    expect(s.rows[0]).toMatchObject({ kind: "replacing", commsCredentialId: old.id, daysLeft: 5 });
    expect(s.rows[0]!.detail).toMatch(/a replacement was begun .* apply carries it on; its certificate expires in 5 day\(s\)/);
    // The old one is gone too: an open attempt, nothing live to show.
    expect(computeStatus(new Map([[sid(1), e]]), [], { now: NOW }).rows[0]).toMatchObject({ kind: "pending" });
  });
});

describe("status: rows whose legacy credential is gone keep their kind and say so", () => {
  it("an unconfirmed live credential stays unconfirmed, with the note", () => {
    const c = comms();
    const e = ledgerEntry({ legacySid: sid(1), state: "unconfirmed", commsCredentialId: c.id });
    const row = computeStatus(new Map([[sid(1), e]]), [c], { now: NOW, legacySids: new Set() }).rows[0]!;
    expect(row.kind).toBe("unconfirmed");
    expect(row.detail).toMatch(/^present in Comms but not yet confirmed in the ledger; apply records it; its legacy credential no longer exists/);
  });
});

describe("status: the expiry warning's edges", () => {
  it(`warns from ${CERT_EXPIRY_WARNING_DAYS} days left, and says a certificate expiring today has not expired`, () => {
    const at = comms();
    const beyond = comms();
    const today = comms();
    const entries = new Map([
      [sid(1), ledgerEntry({ legacySid: sid(1), commsCredentialId: at.id, secretById: { [at.id]: cert(CERT_EXPIRY_WARNING_DAYS) } })],
      [sid(2), ledgerEntry({ legacySid: sid(2), commsCredentialId: beyond.id, secretById: { [beyond.id]: cert(CERT_EXPIRY_WARNING_DAYS + 1) } })],
      [sid(3), ledgerEntry({ legacySid: sid(3), commsCredentialId: today.id, secretById: { [today.id]: cert(0) } })],
    ]);
    const s = computeStatus(entries, [at, beyond, today], { now: NOW });
    expect(s.rows[0]!.detail).toMatch(new RegExp(`expires in ${CERT_EXPIRY_WARNING_DAYS} day\\(s\\)`));
    expect(s.rows[1]!.detail).toBe("confirmed and present");
    expect(s.rows[2]!.detail).toMatch(/expires in 0 day\(s\)/);
    // Without --expiring-within, nothing is listed as expiring.
    expect(s.expiring).toEqual([]);
  });
});

describe("status: the default App cr2comms set", () => {
  it("only app-default-set events say which App cr2comms made the default", () => {
    const events: LedgerEvent[] = [
      { v: 1, ts: "2026-01-01T00:00:00Z", event: "app-default-set", appName: "web", patched: true },
      { v: 1, ts: "2026-01-01T00:00:01Z", event: "app-default-requested", appName: "ios" },
    ];
    const app = (name: string, isDefault = false) => ({ name, isDefault, createdAt: "", updatedAt: "" });
    expect(computeDefaultApp(events, [app("web", true), app("ios")])).toEqual({ live: "web", setByCr2comms: "web", drift: false, detail: "web (made the default by cr2comms)" });
  });
});

describe("status: a rollback delete Comms accepted (pending)", () => {
  it("the sid's credential, still listed or gone, is delete-pending (drift), naming the rerun; a superseded one too, not orphaned", () => {
    const x = comms();
    const older = comms();
    const listed = ledgerEntry({ legacySid: sid(1), commsCredentialId: x.id, createdIds: [older.id, x.id], pendingDeletes: [older.id, x.id] });
    const st = computeStatus(new Map([[sid(1), listed]]), [x, older], { now: NOW });
    expect(st.rows.map((r) => [r.kind, r.commsCredentialId, r.detail])).toEqual([
      ["delete-pending", x.id, "rollback's delete was accepted (202) but Comms still lists it; rerun rollback to confirm it (it checks again, and deletes it again if it is still there)"],
      ["delete-pending", older.id, "rollback's delete was accepted (202) but Comms still lists it; rerun rollback to confirm it (it checks again, and deletes it again if it is still there)"],
    ]);
    expect(st.drift).toBe(true);
    const gone = computeStatus(new Map([[sid(1), listed]]), [], { now: NOW });
    expect(gone.rows.map((r) => [r.kind, r.detail])).toEqual([
      ["delete-pending", "rollback's delete was accepted (202) and Comms no longer lists it; rerun rollback to confirm it (it records it as deleted)"],
      ["delete-pending", "rollback's delete was accepted (202) and Comms no longer lists it; rerun rollback to confirm it (it records it as deleted)"],
    ]);
  });
});

describe("status: ids the ledger knows for a sid besides its own", () => {
  it("one a finished replacement deleted that Comms still lists is delete-pending (drift), not orphaned", () => {
    const current = comms();
    const old = comms();
    const e = ledgerEntry({ legacySid: sid(1), commsCredentialId: current.id, createdIds: [old.id, current.id], replacedIds: [old.id] });
    const st = computeStatus(new Map([[sid(1), e]]), [current, old], { now: NOW });
    expect(st.rows.map((r) => [r.kind, r.commsCredentialId])).toEqual([
      ["in-sync", current.id],
      ["delete-pending", old.id],
    ]);
    expect(st.rows[1]!.detail).toMatch(new RegExp(`^replaced by ${current.id}; Comms accepted its delete \\(202\\) but still lists it`));
    expect(st.drift).toBe(true);
    // Once it is no longer listed, nothing is said of it.
    expect(computeStatus(new Map([[sid(1), e]]), [current], { now: NOW }).rows.map((r) => r.kind)).toEqual(["in-sync"]);
  });

  it("one no longer listed says nothing; one being replaced says so; any other live one is orphaned", () => {
    const current = comms();
    const old = comms();
    const dup = comms();
    const e = ledgerEntry({
      legacySid: sid(1),
      commsCredentialId: current.id,
      createdIds: ["comms_credential_long_gone", old.id, dup.id, current.id],
      replacing: { oldId: old.id, attemptId: "a2", oldWasDefault: false, oldState: "confirmed", newId: current.id },
    });
    const st = computeStatus(new Map([[sid(1), e]]), [current, old, dup], { now: NOW });
    expect(st.rows.map((r) => [r.kind, r.commsCredentialId])).toEqual([
      ["in-sync", current.id],
      ["replacing", old.id],
      ["orphaned", dup.id],
    ]);
  });
});
