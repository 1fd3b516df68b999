/**
 * Review of the ledger's replay, rollback's pending deletes and `ledger check`. Each test states the
 * EXPECTED behaviour; "L…" names the finding it reproduces (test/review/README.md).
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { MemoryLedger, replay } from "../../src/ledger/ledger.js";
import { checkLedger } from "../../src/ledger/repair.js";
import type { LedgerEvent } from "../../src/ledger/types.js";
import { plan } from "../../src/plan/planner.js";
import { planRollback, rollback } from "../../src/rollback/rollback.js";
import { computeStatus } from "../../src/status/status.js";
import { fakeComms, virtualClock } from "../apply/fake-comms.js";
import { ACCOUNT, entry, legacy, ledgerEntry, ledgerOf, mapping, NOW, okSecret, comms as commsCred, sid, snapshot } from "../plan/builders.js";

/** An App with two credentials cr2comms made (sid 1 → X, sid 2 → Y), each from its own apply run. */
async function appWithTwo() {
  const clock = virtualClock();
  const comms = fakeComms(clock);
  const ledger = new MemoryLedger(clock.now);
  const x = comms.add({ appName: "app_ios", credentialType: "APN" });
  const y = comms.add({ appName: "app_ios", credentialType: "APN_SANDBOX" });
  for (const [n, c, run] of [[1, x, "apply-1"], [2, y, "apply-2"]] as const) {
    await ledger.append({ event: "attempt", legacySid: sid(n), attemptId: `att-${n}`, appName: c.appName, credentialType: c.credentialType, isDefault: false, startedAt: c.createdAt, runId: run });
    await ledger.append({ event: "accepted", legacySid: sid(n), attemptId: `att-${n}`, commsCredentialId: c.id, runId: run });
    await ledger.append({ event: "confirmed", legacySid: sid(n), commsCredentialId: c.id, runId: run });
  }
  // Comms accepts a DELETE (202) and lists the credential for another ten minutes.
  comms.hooks.delete = async (id) => {
    comms.goneFrom(id, clock.ms() + 600_000);
    return { resourceId: id, resourceLocation: `x/${id}` };
  };
  const deps = { comms: comms.client, ledger, concurrency: 1, runId: "rollback-1", accountSid: ACCOUNT, now: clock.now, sleep: clock.sleep, confirmTimeoutMs: 5_000 };
  /** `rollback --report <the report holding only id>`. */
  const rollbackOf = async (id: string, runId: string) => {
    const rb = planRollback(await ledger.entries(), await comms.client.list(), { onlyIds: new Set([id]), allowAppDeletion: false });
    return { rb, result: await rollback(rb, { ...deps, runId }) };
  };
  return { clock, comms, ledger, x, y, rollbackOf };
}

describe("L1: a delete Comms accepted counts as gone for the last-credential guard", () => {
  it("L1: two rollbacks of two reports, each holding one of an App's two credentials: the second is refused while the first delete is pending", async () => {
    const w = await appWithTwo();
    const first = await w.rollbackOf(w.x.id, "rollback-1");
    expect(first.rb.deletes.map((d) => d.commsCredentialId)).toEqual([w.x.id]);
    expect(first.result.items[0]!.status).toBe("accepted-unconfirmed");
    const second = await w.rollbackOf(w.y.id, "rollback-2");
    // Expected: X is on its way out, so Y is the App's last credential: refused without --allow-app-deletion.
    expect(second.rb.deletes).toEqual([]);
    expect(second.rb.refused.map((r) => [r.appName, r.candidates.map((c) => c.commsCredentialId)])).toEqual([["app_ios", [w.y.id]]]);
    expect(w.comms.writes()).toEqual([`delete ${w.x.id}`]);
  });

  it("L1: the accepted delete is journalled as pending when the 202 arrives, and `deleted` only once it is seen gone", async () => {
    const w = await appWithTwo();
    await w.rollbackOf(w.x.id, "rollback-1");
    const after = w.ledger.list.slice(6).map((e) => [e.event, "commsCredentialId" in e ? e.commsCredentialId : ""]);
    expect(after).toEqual([["delete-accepted", w.x.id]]);
    expect((await w.ledger.entries()).get(sid(1))!.pendingDeletes).toEqual([w.x.id]);
    // Gone now: the next rollback confirms it (journals `deleted`) without sending another DELETE.
    w.clock.advance(600_000);
    const again = await w.rollbackOf(w.x.id, "rollback-3");
    expect(w.comms.writes()).toEqual([`delete ${w.x.id}`]);
    expect(again.result.items.map((i) => [i.commsCredentialId, i.action, i.status])).toEqual([[w.x.id, "delete", "confirmed"]]);
    const tail = w.ledger.list.at(-1)!;
    expect([tail.event, "commsCredentialId" in tail ? tail.commsCredentialId : ""]).toEqual(["deleted", w.x.id]);
    const entry1 = (await w.ledger.entries()).get(sid(1))!;
    expect([entry1.state, entry1.pendingDeletes ?? []]).toEqual(["deleted", []]);
  });

  it("L1: a later rollback re-sends a pending delete whose credential is still listed", async () => {
    const w = await appWithTwo();
    await w.rollbackOf(w.x.id, "rollback-1");
    w.comms.hooks.delete = async (id) => (w.comms.remove(id), { resourceId: id, resourceLocation: `x/${id}` });
    const again = await w.rollbackOf(w.x.id, "rollback-2");
    expect(again.rb.deletes.map((d) => d.commsCredentialId)).toEqual([w.x.id]);
    expect(again.result.items[0]!.status).toBe("confirmed");
    expect(w.comms.writes()).toEqual([`delete ${w.x.id}`, `delete ${w.x.id}`]);
  });

  it("L1: status shows the credential as 'delete-pending', not in sync and not orphaned, and says to rerun rollback", async () => {
    const w = await appWithTwo();
    await w.rollbackOf(w.x.id, "rollback-1");
    const st = computeStatus(await w.ledger.entries(), w.comms.all(), { now: NOW });
    const row = st.rows.filter((r) => r.commsCredentialId === w.x.id);
    expect(row.map((r) => r.kind)).toEqual(["delete-pending"]);
    expect(row[0]!.detail).toMatch(/rerun rollback to confirm/);
    expect(st.drift).toBe(true);
  });

  it("L1: a ledger holding the new event passes `ledger check` and reads back", async () => {
    const w = await appWithTwo();
    await w.rollbackOf(w.x.id, "rollback-1");
    const path = join(mkdtempSync(join(tmpdir(), "ledger-review-")), "ledger.jsonl");
    expect(w.ledger.list.map((e) => e.event)).toContain("delete-accepted");
    writeFileSync(path, w.ledger.list.map((e) => JSON.stringify({ ...e, accountSid: ACCOUNT })).join("\n") + "\n");
    const check = await checkLedger(path, { accountSid: ACCOUNT, now: w.clock.now() });
    expect([check.ok, check.problems]).toEqual([true, []]);
    expect(replay(w.ledger.list).get(sid(1))!.pendingDeletes).toEqual([w.x.id]);
  });
});

/** sid 1 migrated as X (run 1), then rotated to Y (run 2, X deleted); the accepted line of run 1 is then appended again. */
function rotatedThenDuplicated(): { events: LedgerEvent[]; x: string; y: string } {
  const x = "comms_credential_x00001";
  const y = "comms_credential_y00002";
  const e = (ts: string, over: object): LedgerEvent => ({ v: 1, ts, legacySid: sid(1), accountSid: ACCOUNT, ...over }) as LedgerEvent;
  const accepted = e("2025-05-01T00:00:01.000Z", { event: "accepted", attemptId: "att-1", commsCredentialId: x, runId: "run-1" });
  const events = [
    e("2025-05-01T00:00:00.000Z", { event: "attempt", attemptId: "att-1", appName: "app_ios", credentialType: "APN", isDefault: true, startedAt: "2025-05-01T00:00:00.000Z", runId: "run-1" }),
    accepted,
    e("2025-05-01T00:00:02.000Z", { event: "confirmed", commsCredentialId: x, runId: "run-1" }),
    e("2025-05-20T00:00:00.000Z", { event: "attempt", attemptId: "att-2", appName: "app_ios", credentialType: "APN", isDefault: true, startedAt: "2025-05-20T00:00:00.000Z", replaces: x, replacesDefault: true, runId: "run-2" }),
    e("2025-05-20T00:00:01.000Z", { event: "accepted", attemptId: "att-2", commsCredentialId: y, runId: "run-2" }),
    e("2025-05-20T00:00:02.000Z", { event: "confirmed", commsCredentialId: y, runId: "run-2" }),
    e("2025-05-20T00:00:03.000Z", { event: "default-set", commsCredentialId: y, isDefault: true, runId: "run-2" }),
    e("2025-05-20T00:00:04.000Z", { event: "deleted", commsCredentialId: x, reason: `replaced by ${y}`, runId: "run-2" }),
    accepted,
  ];
  return { events, x, y };
}

describe("L2: a duplicated old ledger line does not undo what came after it", () => {
  it("L2: replay keeps the replacement as the sid's credential; the superseded id stays known", () => {
    const { events, x, y } = rotatedThenDuplicated();
    const e = replay(events).get(sid(1))!;
    expect([e.state, e.commsCredentialId]).toEqual(["confirmed", y]);
    expect(e.createdIds).toEqual([x, y]);
  });

  it("L2: the next plan does not create a second credential beside the live replacement", () => {
    const { events, y } = rotatedThenDuplicated();
    const live = commsCred({ id: y, isDefault: true });
    const snap = snapshot({ legacy: [legacy({ sid: sid(1) })], comms: [live], ledger: replay(events) });
    const item = plan(snap, mapping(entry({ sid: sid(1), isDefault: true })), new Map([[sid(1), okSecret(sid(1))]]), { now: NOW }).items[0]!;
    expect([item.action, item.commsCredentialId]).toEqual(["already-migrated", y]);
  });

  it("L2: the planner looks at every live id the ledger knows for a sid: a live superseded id is not gone", () => {
    const x = "comms_credential_x00001";
    const y = "comms_credential_y00002";
    // The ledger's latest id (X) is not listed; Y, which it also made for this sid, is.
    const ledger = ledgerOf(ledgerEntry({ legacySid: sid(1), commsCredentialId: x, state: "accepted", createdIds: [y, x] }));
    const snap = snapshot({ legacy: [legacy({ sid: sid(1) })], comms: [commsCred({ id: y })], ledger });
    const item = plan(snap, mapping(entry({ sid: sid(1) })), new Map([[sid(1), okSecret(sid(1))]]), { now: NOW }).items[0]!;
    expect([item.action, item.commsCredentialId]).toEqual(["already-migrated", y]);
  });

  it("L2: `ledger check` flags the stale line, naming it and why", async () => {
    const { events } = rotatedThenDuplicated();
    const path = join(mkdtempSync(join(tmpdir(), "ledger-review-")), "ledger.jsonl");
    writeFileSync(path, events.map((e) => JSON.stringify(e)).join("\n") + "\n");
    const check = await checkLedger(path, { accountSid: ACCOUNT, now: NOW });
    expect(check.ok).toBe(false);
    expect(check.problems.map((p) => [p.kind, p.line])).toEqual([["stale", 9]]);
    expect(check.problems[0]!.message).toMatch(/^line 9: .*run run-1.*after run run-2/);
  });
});

describe("L3: events from the future", () => {
  it("L3: `ledger check` flags an event stamped ahead of now by more than the clock-skew allowance", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "ledger-review-")), "ledger.jsonl");
    const e = (ts: string, n: number) => JSON.stringify({ v: 1, ts, event: "confirmed", legacySid: sid(n), commsCredentialId: `comms_credential_${n}`, accountSid: ACCOUNT, runId: "run-1" });
    // 10 s ahead is within the allowance (clocks differ a little); an hour ahead is not.
    writeFileSync(path, `${e("2025-06-01T12:00:10.000Z", 1)}\n${e("2025-06-01T13:00:00.000Z", 2)}\n`);
    const check = await checkLedger(path, { accountSid: ACCOUNT, now: NOW });
    expect(check.ok).toBe(false);
    expect(check.problems.map((p) => [p.kind, p.line])).toEqual([["future", 2]]);
    expect(check.problems[0]!.message).toMatch(/^line 2: .*2025-06-01T13:00:00.000Z.*ahead/);
  });
});
