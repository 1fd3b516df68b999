/**
 * A legacy credential deleted in Conversations in the middle of its rotation: the replacement that
 * was already created is finished (confirmed, default carried over, old deleted), never left
 * half-done with a status that promises what apply never does.
 */
import { describe, expect, it } from "vitest";
import { apply } from "../../src/apply/writer.js";
import { plan } from "../../src/plan/planner.js";
import { hasChanges } from "../../src/plan/types.js";
import { computeStatus } from "../../src/status/status.js";
import { APP, world } from "../apply/writer-world.js";
import { NOW, mapping, sid, snapshot } from "../plan/builders.js";

const S1 = sid(1);

/** The ledger of a rotation that got as far as confirming the new credential (the old one is still the default). */
async function midRotation(w: ReturnType<typeof world>) {
  const old = w.comms.add({ appName: APP, credentialType: "APN", isDefault: true });
  const made = w.comms.add({ appName: APP, credentialType: "APN", isDefault: false });
  const base = { legacySid: S1, appName: APP, credentialType: "APN" as const, startedAt: new Date(w.clock.ms()).toISOString() };
  await w.ledger.append({ event: "attempt", ...base, attemptId: "att-0", isDefault: true });
  await w.ledger.append({ event: "accepted", legacySid: S1, attemptId: "att-0", commsCredentialId: old.id });
  await w.ledger.append({ event: "confirmed", legacySid: S1, commsCredentialId: old.id });
  await w.ledger.append({ event: "attempt", ...base, attemptId: "att-1", isDefault: false, replaces: old.id, replacesDefault: true });
  await w.ledger.append({ event: "accepted", legacySid: S1, attemptId: "att-1", commsCredentialId: made.id });
  await w.ledger.append({ event: "confirmed", legacySid: S1, commsCredentialId: made.id });
  return { old, made, entries: await w.ledger.entries(), setup: w.ledger.list.length };
}

describe("a rotation whose legacy credential was deleted midway", () => {
  it("K3: apply finishes it: the new credential becomes the default, then the old one is deleted", async () => {
    const w = world();
    const { old, made, entries, setup } = await midRotation(w);
    const live = w.comms.all();
    const p = plan(snapshot({ legacy: [], comms: live, ledger: entries }), mapping(), new Map(), { now: NOW });
    const item = p.items.find((i) => i.legacySid === S1)!;
    expect(item.action).toBe("replace");
    expect(hasChanges(p)).toBe(true);
    expect(item.warnings.join(" ")).toMatch(/legacy credential no longer exists/);
    const r = await apply(p, w.deps(live));
    expect(r.items[0]).toMatchObject({ legacySid: S1, status: "confirmed", commsCredentialId: made.id });
    expect(w.comms.writes()).toEqual([`setDefault ${made.id} true`, `delete ${old.id}`]);
    expect(w.comms.all().map((c) => [c.id, c.isDefault])).toEqual([[made.id, true]]);
    expect(w.events().slice(setup)).toEqual(["default-set", "deleted"]);
  });

  it("K3: status's promise for it is true: after that apply, status shows no replacement left", async () => {
    const w = world();
    const { entries } = await midRotation(w);
    const before = computeStatus(entries, w.comms.all(), { now: NOW, legacySids: new Set() });
    expect(before.rows.some((row) => row.kind === "replacing" && /apply finishes the replacement/.test(row.detail))).toBe(true);
    const p = plan(snapshot({ legacy: [], comms: w.comms.all(), ledger: entries }), mapping(), new Map(), { now: NOW });
    await apply(p, w.deps(w.comms.all()));
    const after = computeStatus(await w.ledger.entries(), w.comms.all(), { now: NOW, legacySids: new Set() });
    expect(after.rows.filter((row) => row.kind === "replacing")).toEqual([]);
  });
});
