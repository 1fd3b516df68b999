/**
 * The writer's paths that only a refused write, a failed default change or a stop while an item
 * waits for its (App, type) reaches: what each item says, what is journalled, what is sent.
 */
import { describe, expect, it } from "vitest";
import { apply, type WaitNotice } from "../../src/apply/writer.js";
import { ApiError, WritesStoppedError } from "../../src/errors.js";
import { MemoryLedger } from "../../src/ledger/ledger.js";
import type { PlanItem } from "../../src/plan/types.js";
import { sid } from "../plan/builders.js";
import { APP, item, planOf, world } from "./writer-world.js";

type World = ReturnType<typeof world>;

const HOST = "comms.test";
const refusedNote = `not started: no write is sent after a write to ${HOST} was refused (403) — the key lacks write permission there; no further write is sent in this account`;
const forbidden = () => new ApiError("Comms", 403, 20403, "forbidden");

function makeDefault(w: World, n: number): { id: string; it: PlanItem } {
  const c = w.comms.add({ appName: APP, credentialType: "APN" });
  return { id: c.id, it: item({ legacySid: sid(n), action: "update-default", commsCredentialId: c.id, target: { appName: APP, credentialType: "APN", isDefault: true } }) };
}

/** The sid's live default credential and a `replace` item for it. */
function rotation(w: World, oldWasDefault = true) {
  const old = w.comms.add({ appName: APP, credentialType: "APN", isDefault: oldWasDefault, createdAt: w.clock.ms() - 86_400_000 });
  const it = item({ action: "replace", commsCredentialId: old.id, liveDefault: oldWasDefault, replace: { oldId: old.id, oldWasDefault } });
  return { old, it };
}

describe("a write the client refuses to send (an earlier write was answered 403)", () => {
  it("create: the item stays planned, its attempt is closed as failed, and the run says it stopped writing", async () => {
    const w = world();
    w.comms.hooks.create = async () => {
      throw new WritesStoppedError(HOST);
    };
    const result = await apply(planOf(item()), w.deps([]));
    expect(result.items[0]).toMatchObject({ action: "create", status: "planned" });
    expect(result.items[0]!.warnings).toEqual([refusedNote]);
    expect(w.events()).toEqual(["attempt", "failed"]);
    expect(w.ledger.list[1]).toMatchObject({ event: "failed", legacySid: sid(1), attemptId: (w.ledger.list[0] as { attemptId: string }).attemptId });
    expect(w.ledger.list[1]).not.toHaveProperty("status");
    expect(result.problems).toEqual([`stopped writing: a write to ${HOST} was refused (403) — the key lacks write permission there; no further write is sent in this account; the items not sent stay planned`]);
  });

  it("update-default: the item stays planned and nothing is journalled", async () => {
    const w = world();
    const { it } = makeDefault(w, 1);
    w.comms.hooks.setDefault = async () => {
      throw new WritesStoppedError(HOST);
    };
    const result = await apply(planOf(it), w.deps(w.comms.all()));
    expect(result.items[0]).toMatchObject({ action: "update-default", status: "planned" });
    expect(result.items[0]!.warnings).toEqual([refusedNote]);
    expect(w.ledger.list).toEqual([]);
  });

  it("replace, moving the default: the new credential stays, the old one is kept and not deleted, nothing journalled as failed", async () => {
    const w = world();
    const { old, it } = rotation(w);
    w.comms.hooks.setDefault = async () => {
      throw new WritesStoppedError(HOST);
    };
    const result = await apply(planOf(it), w.deps([old]));
    const made = w.comms.all().find((c) => c.id !== old.id)!;
    expect(result.items[0]).toMatchObject({ action: "replace", status: "planned", commsCredentialId: made.id });
    expect(result.items[0]!.warnings).toEqual([
      `not sent: a write to ${HOST} was refused (403) — the key lacks write permission there; no further write is sent in this account; the new credential ${made.id} is in place and ${old.id} is not deleted yet — rerun apply to finish`,
    ]);
    expect(w.events()).toEqual(["attempt", "accepted", "confirmed"]);
    expect(w.comms.writes()).toEqual([`create ${APP} APN`, `setDefault ${made.id} true`]);
  });

  it("replace, deleting the old credential: the old one is kept and its delete is not journalled", async () => {
    const w = world();
    const { old, it } = rotation(w, false);
    w.comms.hooks.delete = async () => {
      throw new WritesStoppedError(HOST);
    };
    const result = await apply(planOf(it), w.deps([old]));
    const made = w.comms.all().find((c) => c.id !== old.id)!;
    expect(result.items[0]).toMatchObject({ action: "replace", status: "planned", commsCredentialId: made.id });
    expect(result.items[0]!.warnings).toEqual([
      `not sent: a write to ${HOST} was refused (403) — the key lacks write permission there; no further write is sent in this account; the new credential ${made.id} is in place and ${old.id} is not deleted yet — rerun apply to finish`,
    ]);
    expect(w.events()).toEqual(["attempt", "accepted", "confirmed"]);
    expect(w.comms.all().map((c) => c.id)).toContain(old.id);
  });
});

describe("update-default: a default change that fails", () => {
  it("a change answered with an error fails the item and is journalled with its status; no default-set", async () => {
    const w = world();
    const { it } = makeDefault(w, 1);
    w.comms.hooks.setDefault = async () => {
      throw new ApiError("Comms", 500, undefined, "internal error");
    };
    const result = await apply(planOf(it), w.deps(w.comms.all()));
    expect(result.items[0]).toMatchObject({ action: "update-default", status: "failed", error: "Comms API error 500: internal error" });
    expect(w.ledger.list).toEqual([expect.objectContaining({ event: "failed", legacySid: sid(1), error: "Comms API error 500: internal error", status: 500 })]);
    expect(result.problems).toEqual([]);
  });

  it("a thrown value that is not an Error fails the item with its text, journalled without a status", async () => {
    const w = world();
    const { it } = makeDefault(w, 1);
    w.comms.hooks.setDefault = () => Promise.reject("connection pool closed");
    const result = await apply(planOf(it), w.deps(w.comms.all()));
    expect(result.items[0]).toMatchObject({ action: "update-default", status: "failed", error: "connection pool closed" });
    expect(w.ledger.list).toEqual([expect.objectContaining({ event: "failed", legacySid: sid(1), error: "connection pool closed" })]);
    expect(w.ledger.list[0]).not.toHaveProperty("status");
  });

  it("a 403 fails the item (journalled, status 403); the next default change of that App and type is not sent and stays planned", async () => {
    const w = world();
    const a = makeDefault(w, 1);
    const b = makeDefault(w, 2);
    w.comms.hooks.setDefault = async () => {
      throw forbidden();
    };
    const result = await apply(planOf(a.it, b.it), w.deps(w.comms.all()));
    expect(result.items[0]).toMatchObject({ status: "failed", error: "Comms API error 403 (code 20403): forbidden" });
    expect(result.items[1]).toMatchObject({ status: "planned" });
    expect(result.items[1]!.warnings).toEqual(["not started: no write is sent after Comms API error 403 (code 20403): forbidden"]);
    expect(w.comms.writes()).toEqual([`setDefault ${a.id} true`]);
    expect(w.ledger.list).toEqual([expect.objectContaining({ event: "failed", legacySid: sid(1), status: 403 })]);
    expect(result.problems).toEqual(["stopped writing: Comms API error 403 (code 20403): forbidden; the items not sent stay planned"]);
  });

  it("interrupted while waiting for its App and type: not sent, planned, nothing journalled for it", async () => {
    const w = world();
    const a = makeDefault(w, 1);
    const b = makeDefault(w, 2);
    const controller = new AbortController();
    w.comms.hooks.setDefault = async (id) => {
      controller.abort();
      w.comms.update(id, { isDefault: true });
      return { resourceId: id, resourceLocation: `https://${HOST}/v1/PushNotifications/Credentials/${id}` };
    };
    const result = await apply(planOf(a.it, b.it), w.deps(w.comms.all(), { signal: controller.signal }));
    expect(result.items[1]).toMatchObject({ legacySid: sid(2), status: "planned", warnings: ["not started: the run was interrupted"] });
    expect(w.comms.writes()).toEqual([`setDefault ${a.id} true`]);
    expect(w.ledger.list.filter((e) => e.legacySid === sid(2))).toEqual([]);
    expect(result.interrupted).toBe(true);
  });
});

describe("replace: writes stopped by another item's 403 after the new credential is confirmed", () => {
  /** A 403 on another App's default change, answered before the replacement's create returns. */
  function refusedElsewhere(w: World) {
    const other = w.comms.add({ appName: "app_android", credentialType: "FCM" });
    const patch = item({ legacySid: sid(2), action: "update-default", commsCredentialId: other.id, target: { appName: "app_android", credentialType: "FCM", isDefault: true } });
    let refused = () => {};
    const answered = new Promise<void>((resolve) => (refused = resolve));
    w.comms.hooks.setDefault = async () => {
      refused();
      throw forbidden();
    };
    w.comms.hooks.create = async (body) => {
      await answered;
      const c = w.comms.add({ appName: body.appName, credentialType: body.credentialType, isDefault: body.isDefault ?? false });
      return { resourceId: c.id, resourceLocation: `https://${HOST}/v1/PushNotifications/Credentials/${c.id}` };
    };
    return { other, patch };
  }

  it("the default is not moved and the old credential is kept", async () => {
    const w = world();
    const { old, it } = rotation(w);
    const { other, patch } = refusedElsewhere(w);
    const result = await apply(planOf(it, patch), w.deps([old, other]));
    const made = w.comms.all().find((c) => c.appName === APP && c.id !== old.id)!;
    expect(result.items[0]).toMatchObject({ action: "replace", status: "planned", commsCredentialId: made.id });
    expect(result.items[0]!.warnings).toEqual([
      `not moving the default: no write is sent after Comms API error 403 (code 20403): forbidden; the new credential ${made.id} is in place and ${old.id} is not deleted yet — rerun apply to finish`,
    ]);
    expect(w.comms.writes()).toEqual([`setDefault ${other.id} true`, `create ${APP} APN`]);
    expect(w.ledger.list.filter((e) => e.legacySid === sid(1)).map((e) => e.event)).toEqual(["attempt", "accepted", "confirmed"]);
  });

  it("an old credential that was not the default is not deleted", async () => {
    const w = world();
    const { old, it } = rotation(w, false);
    const { other, patch } = refusedElsewhere(w);
    const result = await apply(planOf(it, patch), w.deps([old, other]));
    const made = w.comms.all().find((c) => c.appName === APP && c.id !== old.id)!;
    expect(result.items[0]).toMatchObject({ action: "replace", status: "planned", commsCredentialId: made.id });
    expect(result.items[0]!.warnings).toEqual([
      `not deleting the old credential: no write is sent after Comms API error 403 (code 20403): forbidden; the new credential ${made.id} is in place and ${old.id} is not deleted yet — rerun apply to finish`,
    ]);
    expect(w.comms.writes()).toEqual([`setDefault ${other.id} true`, `create ${APP} APN`]);
    expect(w.comms.all().map((c) => c.id)).toContain(old.id);
  });
});

describe("create: held back by another sid's lost create journalled in the future", () => {
  it("after its own earlier attempt's wait was cut short, the second cut wait adds no second note; both waits end, then it is created once", async () => {
    const w = world();
    const t0 = w.clock.ms();
    const future = Date.parse("2027-06-01T00:00:00.000Z");
    const ledger = new MemoryLedger(() => new Date(future));
    await ledger.append({ event: "attempt", legacySid: sid(2), attemptId: "att-2", appName: APP, credentialType: "APN", isDefault: false, startedAt: new Date(future).toISOString() });
    await ledger.append({ event: "unknown", legacySid: sid(2), attemptId: "att-2", reason: "socket hang up" });
    const reconcileFrom = { attemptId: "att-1", startedAt: new Date(future).toISOString(), priorIds: [] as string[] };
    const notices: WaitNotice[] = [];
    const result = await apply(planOf(item({ reconcileFrom })), w.deps([], { ledger, wait: true, settleMs: 10_000, onWaiting: (n) => notices.push(n) }));
    expect(result.items[0]).toMatchObject({ status: "confirmed", attempts: 1 });
    const notes = result.items[0]!.warnings.filter((x) => x.startsWith("the ledger names "));
    expect(notes).toEqual([`the ledger names ${new Date(future + 10_000).toISOString()}, which is in the future (this machine's clock was probably ahead when it was written): waited at most 10 s from now instead`]);
    // Its own attempt's wait, then the rival's: each at most the settle time from when it began.
    expect(notices.map((n) => n.until.getTime() - t0)).toEqual([10_000, 20_000]);
    expect(w.comms.writes()).toEqual([`create ${APP} APN`]);
    expect(ledger.list.filter((e) => e.legacySid === sid(1)).map((e) => e.event)).toEqual(["abandoned", "attempt", "accepted", "confirmed"]);
  });
});
