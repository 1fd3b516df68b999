/**
 * A rotation (`replace`) step by step against the fake Comms: the new credential first, the default
 * moved next, the old one deleted last — and where each failure or interruption leaves the sid.
 */
import { describe, expect, it } from "vitest";
import { apply } from "../../src/apply/writer.js";
import type { CommsCredential } from "../../src/domain.js";
import { ApiError } from "../../src/errors.js";
import type { Ledger } from "../../src/ledger/types.js";
import type { PlanItem, ReplaceStep } from "../../src/plan/types.js";
import { sid } from "../plan/builders.js";
import { APP, item, planOf, world } from "./writer-world.js";

type World = ReturnType<typeof world>;

/** The world's ledger, aborting `controller` right after the first `event` is journalled. */
function tripwire(w: World, controller: AbortController, event: string): Ledger {
  return {
    events: () => w.ledger.events(),
    entries: () => w.ledger.entries(),
    async append(e) {
      await w.ledger.append(e);
      if (e.event === event) controller.abort();
    },
  };
}

/** The sid's live credential (the App's default unless told otherwise) and a `replace` item for it. */
function rotation(w: World, step: Partial<ReplaceStep> = {}, over: Partial<PlanItem> = {}) {
  const old = w.comms.add({ appName: APP, credentialType: "APN", isDefault: step.oldWasDefault ?? true, createdAt: w.clock.ms() - 86_400_000 });
  const it = item({ action: "replace", commsCredentialId: old.id, liveDefault: step.oldWasDefault ?? true, replace: { oldId: old.id, oldWasDefault: true, ...step }, ...over });
  return { old, it };
}

const newOne = (w: World, old: CommsCredential) => w.comms.all().find((c) => c.id !== old.id && c.appName === APP);

describe("replace: the order of its steps", () => {
  it("creates the new credential (not as the default), makes it the default, then deletes the old one, journalling each step", async () => {
    const w = world();
    const { old, it: rot } = rotation(w);
    const result = await apply(planOf(rot), w.deps([old]));
    const made = newOne(w, old)!;
    expect(result.items[0]).toMatchObject({ action: "replace", status: "confirmed", commsCredentialId: made.id, attempts: 1 });
    expect(result.items[0]!.warnings).toEqual([`replaced ${old.id}`]);
    expect(w.comms.writes()).toEqual([`create ${APP} APN`, `setDefault ${made.id} true`, `delete ${old.id}`]);
    expect(w.events()).toEqual(["attempt", "accepted", "confirmed", "default-set", "deleted"]);
    expect(w.ledger.list[0]).toMatchObject({ event: "attempt", isDefault: false, replaces: old.id, replacesDefault: true });
    expect(w.ledger.list.at(-1)).toMatchObject({ event: "deleted", commsCredentialId: old.id, reason: `replaced by ${made.id}` });
    expect(w.comms.all().map((c) => c.id)).toEqual([made.id]);
  });

  it("an old credential that was not the default is replaced without a default change", async () => {
    const w = world();
    const { old, it: rot } = rotation(w, { oldWasDefault: false });
    const result = await apply(planOf(rot), w.deps([old]));
    expect(result.items[0]!.status).toBe("confirmed");
    expect(w.comms.writes()).toEqual([`create ${APP} APN`, `delete ${old.id}`]);
    expect(w.events()).toEqual(["attempt", "accepted", "confirmed", "deleted"]);
  });

  it("a mapping that asks for the default makes the new credential the default even when the old one was not", async () => {
    const w = world();
    const { old, it: rot } = rotation(w, { oldWasDefault: false }, { target: { appName: APP, credentialType: "APN", isDefault: true } });
    await apply(planOf(rot), w.deps([old]));
    const made = newOne(w, old)!;
    expect(w.comms.writes()).toEqual([`create ${APP} APN`, `setDefault ${made.id} true`, `delete ${old.id}`]);
  });

  it("an old credential already gone from Comms is not deleted again; the step is journalled and said", async () => {
    const w = world();
    const { old, it: rot } = rotation(w);
    w.comms.remove(old.id);
    const result = await apply(planOf(rot), w.deps([]));
    expect(result.items[0]!.status).toBe("confirmed");
    expect(result.items[0]!.warnings).toEqual([`replaced ${old.id} (it was already gone from Comms)`]);
    expect(w.comms.writes().some((c) => c.startsWith("delete"))).toBe(false);
    expect(w.events().at(-1)).toBe("deleted");
  });

  it("a delete answered 404 (deleted meanwhile) counts as done", async () => {
    const w = world();
    const { old, it: rot } = rotation(w);
    w.comms.hooks.delete = async () => {
      throw new ApiError("Comms", 404, 20404, "not found");
    };
    const result = await apply(planOf(rot), w.deps([old]));
    expect(result.items[0]!.status).toBe("confirmed");
    expect(result.items[0]!.warnings).toEqual([`replaced ${old.id} (it was already gone from Comms)`]);
    expect(w.events().at(-1)).toBe("deleted");
  });

  it("a replace item without the credential it replaces fails without a request", async () => {
    const w = world();
    const result = await apply(planOf(item({ action: "replace" })), w.deps([]));
    expect(result.items[0]).toMatchObject({ status: "failed", error: "replace item without the credential it replaces" });
    expect(w.comms.writes()).toEqual([]);
    expect(w.ledger.list).toEqual([]);
  });
});

describe("replace: carrying on after an earlier run", () => {
  it("a new credential an earlier run made (and that is the default already) is not made again: only the old one is deleted", async () => {
    const w = world();
    const { old, it: rot } = rotation(w);
    const made = w.comms.add({ appName: APP, credentialType: "APN", isDefault: true });
    await w.ledger.append({ event: "attempt", legacySid: sid(1), attemptId: "att-1", appName: APP, credentialType: "APN", isDefault: false, startedAt: w.clock.now().toISOString(), replaces: old.id, replacesDefault: true });
    await w.ledger.append({ event: "accepted", legacySid: sid(1), attemptId: "att-1", commsCredentialId: made.id });
    await w.ledger.append({ event: "confirmed", legacySid: sid(1), commsCredentialId: made.id });
    const before = w.ledger.list.length;
    const result = await apply(planOf({ ...rot, commsCredentialId: made.id, replace: { ...rot.replace!, newId: made.id, newVisible: true } }), w.deps([old, made]));
    expect(result.items[0]).toMatchObject({ status: "confirmed", commsCredentialId: made.id, attempts: 0 });
    expect(w.comms.writes()).toEqual([`delete ${old.id}`]);
    expect(w.ledger.list.slice(before).map((e) => e.event)).toEqual(["deleted"]);
  });

  it("an accepted (not yet confirmed) new credential is confirmed in the journal, made the default, then the old one goes", async () => {
    const w = world();
    const { old, it: rot } = rotation(w);
    const made = w.comms.add({ appName: APP, credentialType: "APN" });
    await w.ledger.append({ event: "attempt", legacySid: sid(1), attemptId: "att-1", appName: APP, credentialType: "APN", isDefault: false, startedAt: w.clock.now().toISOString(), replaces: old.id, replacesDefault: true });
    await w.ledger.append({ event: "accepted", legacySid: sid(1), attemptId: "att-1", commsCredentialId: made.id });
    const before = w.ledger.list.length;
    const result = await apply(planOf({ ...rot, commsCredentialId: made.id, liveDefault: false, replace: { ...rot.replace!, newId: made.id, newVisible: true } }), w.deps([old, made]));
    expect(result.items[0]!.status).toBe("confirmed");
    expect(w.comms.writes()).toEqual([`setDefault ${made.id} true`, `delete ${old.id}`]);
    expect(w.ledger.list.slice(before).map((e) => e.event)).toEqual(["confirmed", "default-set", "deleted"]);
  });

  it("what the replacement's lost create made, found by the plan, is journalled as that attempt's result", async () => {
    const w = world();
    const { old, it: rot } = rotation(w);
    const made = w.comms.add({ appName: APP, credentialType: "APN" });
    const startedAt = w.clock.now().toISOString();
    await w.ledger.append({ event: "attempt", legacySid: sid(1), attemptId: "att-1", appName: APP, credentialType: "APN", isDefault: false, startedAt, replaces: old.id, replacesDefault: true });
    await w.ledger.append({ event: "unknown", legacySid: sid(1), attemptId: "att-1", reason: "socket hang up" });
    const before = w.ledger.list.length;
    const adopted = { ...rot, commsCredentialId: made.id, liveDefault: false, reconcileFrom: { attemptId: "att-1", startedAt }, replace: { ...rot.replace!, newId: made.id, newVisible: true } };
    const result = await apply(planOf(adopted), w.deps([old, made]));
    expect(result.items[0]!.status).toBe("confirmed");
    expect(w.ledger.list.slice(before).map((e) => e.event)).toEqual(["accepted", "confirmed", "default-set", "deleted"]);
    expect(w.ledger.list[before]).toMatchObject({ attemptId: "att-1", commsCredentialId: made.id, reconciled: true });
    expect(w.comms.writes().some((c) => c.startsWith("create"))).toBe(false);
  });

  it("a new credential accepted earlier but not listed is waited for as a create, never made twice", async () => {
    const w = world();
    const { old, it: rot } = rotation(w, { oldWasDefault: false });
    const late = w.comms.add({ appName: APP, credentialType: "APN", visibleFrom: w.clock.ms() + 1_000 });
    await w.ledger.append({ event: "accepted", legacySid: sid(1), attemptId: "att-1", commsCredentialId: late.id });
    const result = await apply(planOf({ ...rot, commsCredentialId: late.id, replace: { ...rot.replace!, oldWasDefault: false, newId: late.id, newVisible: false } }), w.deps([old], { settleMs: 0 }));
    expect(result.items[0]).toMatchObject({ status: "confirmed", commsCredentialId: late.id });
    expect(w.comms.writes()).toEqual([`delete ${old.id}`]);
  });
});

describe("replace: resuming, and where the new credential is not confirmed", () => {
  it("a new credential accepted earlier that is still not visible keeps the old one: nothing is deleted or sent", async () => {
    const w = world();
    const { old, it: rot } = rotation(w, { oldWasDefault: false });
    await w.ledger.append({ event: "accepted", legacySid: sid(1), attemptId: "att-1", commsCredentialId: "comms_credential_ghost" });
    const result = await apply(planOf({ ...rot, commsCredentialId: "comms_credential_ghost", replace: { ...rot.replace!, oldWasDefault: false, newId: "comms_credential_ghost", newVisible: false } }), w.deps([old]));
    expect(result.items[0]).toMatchObject({ action: "replace", status: "accepted-unconfirmed" });
    expect(w.comms.writes()).toEqual([]);
    expect(w.comms.all().map((c) => c.id)).toEqual([old.id]);
  });

  it("a new credential the plan found for a sid the ledger has no entry for is journalled as confirmed (no adoption of an attempt it never saw), then the old one goes", async () => {
    const w = world();
    const { old, it: rot } = rotation(w, { oldWasDefault: false });
    const made = w.comms.add({ appName: APP, credentialType: "APN" });
    const item = { ...rot, commsCredentialId: made.id, liveDefault: false, reconcileFrom: { attemptId: "att-1", startedAt: w.clock.now().toISOString() }, replace: { ...rot.replace!, oldWasDefault: false, newId: made.id, newVisible: true } };
    const result = await apply(planOf(item), w.deps([old, made]));
    expect(result.items[0]).toMatchObject({ status: "confirmed", commsCredentialId: made.id });
    expect(w.ledger.list.map((e) => [e.event, "commsCredentialId" in e ? e.commsCredentialId : undefined])).toEqual([
      ["confirmed", made.id],
      ["deleted", old.id],
    ]);
  });

  it("a new credential while the ledger still names the old one as the sid's confirmed credential: the new one is journalled as confirmed", async () => {
    const w = world();
    const { old, it: rot } = rotation(w, { oldWasDefault: false });
    await w.ledger.append({ event: "attempt", legacySid: sid(1), attemptId: "att-0", appName: APP, credentialType: "APN", isDefault: false, startedAt: w.clock.now().toISOString() });
    await w.ledger.append({ event: "accepted", legacySid: sid(1), attemptId: "att-0", commsCredentialId: old.id });
    await w.ledger.append({ event: "confirmed", legacySid: sid(1), commsCredentialId: old.id });
    const made = w.comms.add({ appName: APP, credentialType: "APN" });
    const before = w.ledger.list.length;
    const result = await apply(planOf({ ...rot, commsCredentialId: made.id, liveDefault: false, replace: { ...rot.replace!, oldWasDefault: false, newId: made.id, newVisible: true } }), w.deps([old, made]));
    expect(result.items[0]!.status).toBe("confirmed");
    expect(w.ledger.list.slice(before)).toMatchObject([{ event: "confirmed", commsCredentialId: made.id }, { event: "deleted", commsCredentialId: old.id }]);
  });
});

describe("replace: failures and interruptions keep the old credential", () => {
  it("interrupted before its create started: planned, the old credential kept, nothing sent for it", async () => {
    const w = world();
    const { old, it: rot } = rotation(w);
    const controller = new AbortController();
    // Another create of the same App and type goes first; the run is interrupted right after its 202.
    const first = item({ legacySid: sid(2) });
    const result = await apply(planOf(first, rot), w.deps([old], { concurrency: 1, signal: controller.signal, ledger: tripwire(w, controller, "accepted") }));
    const mine = result.items[1]!;
    expect(mine).toMatchObject({ action: "replace", status: "planned" });
    expect(mine.warnings).toContain(`not replaced yet: ${old.id} is kept until the new credential is in place`);
    expect(w.comms.writes()).toEqual([`create ${APP} APN`]);
    expect(w.ledger.list.filter((e) => e.legacySid === sid(1))).toEqual([]);
  });

  it("a new credential that fails outright leaves the old one, with the advice to rerun", async () => {
    const w = world();
    const { old, it: rot } = rotation(w);
    w.comms.hooks.create = async () => {
      throw new ApiError("Comms", 400, 20001, "bad certificate");
    };
    const result = await apply(planOf(rot), w.deps([old]));
    expect(result.items[0]).toMatchObject({ action: "replace", status: "failed" });
    expect(result.items[0]!.warnings).toContain(`${old.id} is kept until the new credential is in place; rerun apply to finish the replacement`);
    expect(w.comms.writes()).toEqual([`create ${APP} APN`]);
  });

  it("interrupted once the new credential is confirmed: the default is not moved and the old one not deleted", async () => {
    const w = world();
    const { old, it: rot } = rotation(w);
    const controller = new AbortController();
    const result = await apply(planOf(rot), w.deps([old], { signal: controller.signal, ledger: tripwire(w, controller, "confirmed") }));
    const made = newOne(w, old)!;
    expect(result.items[0]).toMatchObject({ status: "planned", commsCredentialId: made.id });
    expect(result.items[0]!.warnings).toEqual([`interrupted before the default was moved; the new credential ${made.id} is in place and ${old.id} is not deleted yet — rerun apply to finish`]);
    expect(w.comms.writes()).toEqual([`create ${APP} APN`]);
  });

  it("interrupted once the default moved: the old credential is not deleted", async () => {
    const w = world();
    const { old, it: rot } = rotation(w);
    const controller = new AbortController();
    const result = await apply(planOf(rot), w.deps([old], { signal: controller.signal, ledger: tripwire(w, controller, "default-set") }));
    const made = newOne(w, old)!;
    expect(result.items[0]).toMatchObject({ status: "planned", commsCredentialId: made.id });
    expect(result.items[0]!.warnings).toEqual([`interrupted before the old credential was deleted; the new credential ${made.id} is in place and ${old.id} is not deleted yet — rerun apply to finish`]);
    expect(w.comms.writes()).toEqual([`create ${APP} APN`, `setDefault ${made.id} true`]);
  });

  it("a refused default change fails the item, is journalled with its status, and deletes nothing", async () => {
    const w = world();
    const { old, it: rot } = rotation(w);
    w.comms.hooks.setDefault = async () => {
      throw new ApiError("Comms", 400, 20001, "invalid request");
    };
    const result = await apply(planOf(rot), w.deps([old]));
    const made = newOne(w, old)!;
    expect(result.items[0]).toMatchObject({ status: "failed", commsCredentialId: made.id });
    expect(result.items[0]!.error).toMatch(new RegExp(`^making ${made.id} the default failed: .*invalid request.*; ${old.id} is kept until the new credential is in place — rerun apply$`));
    expect(w.ledger.list.at(-1)).toMatchObject({ event: "failed", legacySid: sid(1), status: 400 });
    expect(w.comms.writes().some((c) => c.startsWith("delete"))).toBe(false);
  });

  it("a default change accepted but never visible is accepted-unconfirmed, and deletes nothing", async () => {
    const w = world();
    const { old, it: rot } = rotation(w);
    w.comms.hooks.setDefault = async (id) => ({ resourceId: id, resourceLocation: `x/${id}` });
    const result = await apply(planOf(rot), w.deps([old]));
    const made = newOne(w, old)!;
    expect(result.items[0]!.status).toBe("accepted-unconfirmed");
    expect(result.items[0]!.warnings).toEqual([`making ${made.id} the default was accepted but is not visible yet; ${old.id} is kept until the new credential is in place — rerun apply`]);
    expect(w.events()).toEqual(["attempt", "accepted", "confirmed"]);
    expect(w.comms.writes().some((c) => c.startsWith("delete"))).toBe(false);
  });

  it("a delete that fails leaves both, fails the item naming both ids, and is journalled with its status", async () => {
    const w = world();
    const { old, it: rot } = rotation(w);
    w.comms.hooks.delete = async () => {
      throw new ApiError("Comms", 500, undefined, "internal error");
    };
    const result = await apply(planOf(rot), w.deps([old]));
    const made = newOne(w, old)!;
    expect(result.items[0]).toMatchObject({ status: "failed", commsCredentialId: made.id });
    expect(result.items[0]!.error).toMatch(new RegExp(`^the new credential ${made.id} is in place, but deleting ${old.id} failed: .*internal error.* — rerun apply to delete it$`));
    expect(w.ledger.list.at(-1)).toMatchObject({ event: "failed", status: 500 });
    expect(w.events()).not.toContain("deleted");
  });

  it("an interrupted run starts no replacement at all", async () => {
    const w = world();
    const { old, it: rot } = rotation(w);
    const controller = new AbortController();
    controller.abort();
    const result = await apply(planOf(rot), w.deps([old], { signal: controller.signal }));
    expect(result.items[0]!.status).toBe("planned");
    expect(w.comms.writes()).toEqual([]);
  });
});
