import { describe, expect, it } from "vitest";
import { apply } from "../../src/apply/writer.js";
import type { CommsCredential } from "../../src/domain.js";
import { ApiError, UnknownOutcomeError } from "../../src/errors.js";
import type { PlanItem } from "../../src/plan/types.js";
import { ACCOUNT, okSecret, sid } from "../plan/builders.js";
import { APP, item, planOf, world } from "./writer-world.js";

describe("writer: which credentials a lost create may adopt", () => {
  it("never adopts a credential that existed when the plan was observed, even when the earlier attempt's priorIds do not name it", async () => {
    const w = world();
    const startedAt = w.clock.ms() - 60_000;
    // A colleague's credential, made while the earlier (lost) attempt was in flight: inside its window.
    const colleague = w.comms.add({ appName: APP, credentialType: "APN", createdAt: startedAt + 500 });
    const lost = { attemptId: "att-1", startedAt: new Date(startedAt).toISOString(), unknownAt: new Date(startedAt + 2_000).toISOString(), priorIds: [] };
    const result = await apply(planOf(item({ reconcileFrom: lost })), w.deps([colleague], { settleMs: 0 }));

    const mine = result.items[0]!;
    expect(mine.commsCredentialId).not.toBe(colleague.id);
    expect(mine.status).toBe("confirmed");
    expect(w.comms.writes()).toEqual([`create ${APP} APN`]);
    expect(w.ledger.list.some((e) => "commsCredentialId" in e && e.commsCredentialId === colleague.id)).toBe(false);
  });

  it("never adopts a credential another ledger entry claims", async () => {
    const w = world();
    const startedAt = w.clock.ms() - 60_000;
    const other = w.comms.add({ appName: APP, credentialType: "APN", createdAt: startedAt + 500 });
    await w.ledger.append({ event: "accepted", legacySid: sid(2), attemptId: "att-0", commsCredentialId: other.id });
    const lost = { attemptId: "att-1", startedAt: new Date(startedAt).toISOString(), unknownAt: new Date(startedAt + 2_000).toISOString(), priorIds: [] };
    // `existing` left empty: only the ledger's claim protects it.
    const result = await apply(planOf(item({ reconcileFrom: lost })), w.deps([], { settleMs: 0 }));
    expect(result.items[0]!.commsCredentialId).not.toBe(other.id);
    expect(w.comms.writes()).toEqual([`create ${APP} APN`]);
  });

  it("after a lost answer, two new candidates are ambiguous: neither is adopted and nothing is re-sent", async () => {
    const w = world();
    w.comms.hooks.create = async (body) => {
      // The create was carried out, and a colleague made one of the same App and type meanwhile.
      w.comms.add({ appName: body.appName, credentialType: body.credentialType });
      w.clock.advance(10);
      w.comms.add({ appName: body.appName, credentialType: body.credentialType });
      throw new UnknownOutcomeError("socket hang up");
    };
    const result = await apply(planOf(item()), w.deps([]));
    const mine = result.items[0]!;
    expect(mine.status).toBe("failed");
    expect(mine.commsCredentialId).toBeUndefined();
    expect(mine.error).toMatch(/2 new credentials in app_ios APN could be its result/);
    expect(w.comms.writes()).toHaveLength(1);
    expect(w.events()).toEqual(["attempt", "unknown"]);
    expect((await w.ledger.entries()).get(sid(1))).toMatchObject({ state: "pending", createdIds: [] });
  });

  it("after a lost answer, the one new candidate is adopted", async () => {
    const w = world();
    let made: CommsCredential | undefined;
    w.comms.hooks.create = async (body) => {
      made = w.comms.add({ appName: body.appName, credentialType: body.credentialType });
      throw new UnknownOutcomeError("socket hang up");
    };
    const result = await apply(planOf(item()), w.deps([]));
    expect(result.items[0]).toMatchObject({ status: "confirmed", commsCredentialId: made!.id });
    // The loss is journalled first; a crash from there on leaves the attempt open, never forgotten.
    expect(w.events()).toEqual(["attempt", "unknown", "accepted", "confirmed"]);
    expect(w.ledger.list[2]).toMatchObject({ reconciled: true, commsCredentialId: made!.id });
  });

  it("an earlier lost attempt with two candidates is not guessed at: nothing adopted, nothing sent", async () => {
    const w = world();
    const startedAt = w.clock.ms() - 60_000;
    const lost = { attemptId: "att-1", startedAt: new Date(startedAt).toISOString(), unknownAt: new Date(startedAt + 2_000).toISOString(), priorIds: [] };
    // Both appeared after the plan was observed (not in `existing`), inside the attempt's window.
    w.comms.add({ appName: APP, credentialType: "APN", createdAt: startedAt + 100 });
    w.comms.add({ appName: APP, credentialType: "APN", createdAt: startedAt + 200 });
    const result = await apply(planOf(item({ reconcileFrom: lost })), w.deps([], { settleMs: 0 }));
    const mine = result.items[0]!;
    expect(mine.status).toBe("failed");
    expect(mine.commsCredentialId).toBeUndefined();
    expect(w.comms.writes()).toEqual([]);
    expect(w.ledger.list.filter((e) => e.event === "accepted" || e.event === "abandoned")).toEqual([]);
  });
});

describe("writer: reconciliation when the list call fails", () => {
  it("keeps listing through failures and adopts the credential once a list answers", async () => {
    const w = world();
    let made: CommsCredential | undefined;
    let failures = 0;
    w.comms.hooks.create = async (body) => {
      made = w.comms.add({ appName: body.appName, credentialType: body.credentialType });
      throw new UnknownOutcomeError("socket hang up");
    };
    w.comms.hooks.list = async () => {
      if (failures++ < 2) throw new ApiError("Comms", 503, undefined, "unavailable");
    };
    const result = await apply(planOf(item()), w.deps([]));
    expect(failures).toBe(3);
    expect(result.items[0]).toMatchObject({ status: "confirmed", commsCredentialId: made!.id });
    expect(w.comms.writes()).toHaveLength(1);
  });

  it("when every list fails until the window closes, records the outcome as unknown and re-sends nothing", async () => {
    const w = world();
    w.comms.hooks.create = async (body) => {
      w.comms.add({ appName: body.appName, credentialType: body.credentialType });
      throw new UnknownOutcomeError("socket hang up");
    };
    let lists = 0;
    w.comms.hooks.list = async () => {
      lists++;
      throw new ApiError("Comms", 503, undefined, "unavailable");
    };
    const t0 = w.clock.ms();
    const result = await apply(planOf(item()), w.deps([], { reconcileWindowMs: 3_000 }));
    expect(result.items[0]!.status).toBe("failed");
    expect(result.items[0]!.commsCredentialId).toBeUndefined();
    expect(lists).toBeGreaterThan(1);
    expect(w.clock.ms() - t0).toBeGreaterThanOrEqual(3_000); // it kept trying for the whole window
    expect(w.comms.writes()).toHaveLength(1);
    expect(w.events()).toEqual(["attempt", "unknown"]);
  });
});

describe("writer: default changes (PATCH)", () => {
  const migrated = (w: ReturnType<typeof world>) => w.comms.add({ appName: APP, credentialType: "APN", createdAt: w.clock.ms() - 86_400_000 });
  const updateDefault = (id: string) => item({ action: "update-default", commsCredentialId: id, target: { appName: APP, credentialType: "APN", isDefault: true } });

  it("a refused PATCH fails the item and is journalled with its status; no default-set is recorded", async () => {
    const w = world();
    const c = migrated(w);
    w.comms.hooks.setDefault = async () => {
      throw new ApiError("Comms", 400, 20001, "invalid request");
    };
    const result = await apply(planOf(updateDefault(c.id)), w.deps([c]));
    expect(result.items[0]).toMatchObject({ status: "failed" });
    expect(result.items[0]!.error).toMatch(/400/);
    expect(w.ledger.list).toEqual([expect.objectContaining({ event: "failed", legacySid: sid(1), status: 400 })]);
  });

  it("a PATCH whose lost answer leaves the outcome unknown fails the item without a status", async () => {
    const w = world();
    const c = migrated(w);
    w.comms.hooks.setDefault = async () => {
      throw new UnknownOutcomeError("socket hang up");
    };
    const result = await apply(planOf(updateDefault(c.id)), w.deps([c]));
    expect(result.items[0]!.status).toBe("failed");
    expect(w.ledger.list).toHaveLength(1);
    expect(w.ledger.list[0]).toMatchObject({ event: "failed" });
    expect(w.ledger.list[0]).not.toHaveProperty("status");
  });

  it("a PATCH accepted but never visible is accepted-unconfirmed, and no default-set is journalled", async () => {
    const w = world();
    const c = migrated(w);
    w.comms.hooks.setDefault = async (id) => ({ resourceId: id, resourceLocation: `x/${id}` }); // accepted, never applied
    const result = await apply(planOf(updateDefault(c.id)), w.deps([c], { confirm: { timeoutMs: 2_000, initialDelayMs: 100 } }));
    expect(result.items[0]!.status).toBe("accepted-unconfirmed");
    expect(result.items[0]!.warnings.join(" ")).toMatch(/default/);
    expect(w.ledger.list.filter((e) => e.event === "default-set")).toEqual([]);
  });

  it("a PATCH that becomes visible is journalled as default-set", async () => {
    const w = world();
    const c = migrated(w);
    const result = await apply(planOf(updateDefault(c.id)), w.deps([c]));
    expect(result.items[0]!.status).toBe("confirmed");
    expect(w.ledger.list).toEqual([expect.objectContaining({ event: "default-set", commsCredentialId: c.id, isDefault: true })]);
  });
});

describe("writer: an accepted create that never becomes visible", () => {
  it("is created again once it has been missing for the settle time, and the new one is confirmed", async () => {
    const w = world();
    const ghost = "comms_credential_ghost";
    await w.ledger.append({ event: "attempt", legacySid: sid(1), attemptId: "att-1", appName: APP, credentialType: "APN", isDefault: false, startedAt: w.clock.now().toISOString() });
    await w.ledger.append({ event: "accepted", legacySid: sid(1), attemptId: "att-1", commsCredentialId: ghost });
    await w.ledger.append({ event: "unconfirmed", legacySid: sid(1), commsCredentialId: ghost, reason: "not visible" });
    w.clock.advance(60 * 60_000);
    const result = await apply(planOf(item({ commsCredentialId: ghost })), w.deps([], { settleMs: 10 * 60_000 }));
    const mine = result.items[0]!;
    expect(mine.status).toBe("confirmed");
    expect(mine.commsCredentialId).not.toBe(ghost);
    expect(mine.warnings.join(" ")).toMatch(/never became visible/);
    expect(w.comms.writes()).toEqual([`create ${APP} APN`]);
    expect((await w.ledger.entries()).get(sid(1))).toMatchObject({ state: "confirmed", commsCredentialId: mine.commsCredentialId, createdIds: [ghost, mine.commsCredentialId] });
  });

  it("is confirmed without a second create when it shows up", async () => {
    const w = world();
    const late = w.comms.add({ appName: APP, credentialType: "APN", visibleFrom: w.clock.ms() + 1_500 });
    await w.ledger.append({ event: "accepted", legacySid: sid(1), attemptId: "att-1", commsCredentialId: late.id });
    const result = await apply(planOf(item({ commsCredentialId: late.id })), w.deps([], { settleMs: 0 }));
    expect(result.items[0]).toMatchObject({ status: "confirmed", commsCredentialId: late.id });
    expect(w.comms.writes()).toEqual([]);
  });
});

describe("writer: items that write nothing to Comms", () => {
  const lost = (w: ReturnType<typeof world>) => ({ attemptId: "att-1", startedAt: new Date(w.clock.ms() - 60_000).toISOString() });

  it("a skipped sid whose lost create the plan found listed is journalled as cr2comms's (accepted + confirmed)", async () => {
    const w = world();
    const made = w.comms.add({ appName: APP, credentialType: "APN" });
    const result = await apply(planOf(item({ action: "skip", commsCredentialId: made.id, reconcileFrom: lost(w) })), w.deps([made]));
    expect(result.items[0]!.status).toBe("skipped");
    expect(w.ledger.list).toEqual([
      expect.objectContaining({ event: "accepted", attemptId: "att-1", commsCredentialId: made.id, reconciled: true }),
      expect.objectContaining({ event: "confirmed", commsCredentialId: made.id }),
    ]);
    expect(w.comms.writes()).toEqual([]);
  });

  it("a blocked sid's lost create is journalled too, and the item fails with its problems", async () => {
    const w = world();
    const made = w.comms.add({ appName: APP, credentialType: "APN" });
    const result = await apply(planOf(item({ action: "blocked", problems: ["p1", "p2"], commsCredentialId: made.id, reconcileFrom: lost(w) })), w.deps([made]));
    expect(result.items[0]).toMatchObject({ status: "failed", error: "p1; p2" });
    expect(w.events()).toEqual(["accepted", "confirmed"]);
    const bare = await apply(planOf(item({ action: "blocked" })), w.deps([]));
    expect(bare.items[0]).toMatchObject({ status: "failed", error: "blocked" });
  });

  it("a lost create's id that the plan did not see listed is not journalled (it is not confirmed)", async () => {
    const w = world();
    const result = await apply(planOf(item({ action: "unmapped", commsCredentialId: "comms_credential_unseen", reconcileFrom: lost(w) })), w.deps([]));
    expect(result.items[0]!.status).toBe("skipped");
    expect(w.ledger.list).toEqual([]);
  });

  it("a skipped sid journals nothing without an earlier attempt, even when its id is listed", async () => {
    const w = world();
    const listed = w.comms.add({ appName: APP, credentialType: "APN" });
    const result = await apply(planOf(item({ action: "skip", commsCredentialId: listed.id })), w.deps([listed]));
    expect(result.items[0]!.status).toBe("skipped");
    expect(w.ledger.list).toEqual([]);
  });

  it("a lost create's id that is not among the listed credentials is not journalled, whatever else is listed", async () => {
    const w = world();
    const other = w.comms.add({ appName: APP, credentialType: "APN" });
    const result = await apply(planOf(item({ action: "skip", commsCredentialId: "comms_credential_unseen", reconcileFrom: lost(w) })), w.deps([other]));
    expect(result.items[0]!.status).toBe("skipped");
    expect(w.ledger.list).toEqual([]);
  });

  it("an already-migrated sid adopted from a lost create is journalled accepted + confirmed; one already confirmed adds nothing", async () => {
    const w = world();
    const made = w.comms.add({ appName: APP, credentialType: "APN" });
    const adopted = await apply(planOf(item({ action: "already-migrated", commsCredentialId: made.id, reconcileFrom: lost(w) })), w.deps([made]));
    expect(adopted.items[0]).toMatchObject({ status: "confirmed", attempts: 0 });
    expect(w.events()).toEqual(["accepted", "confirmed"]);
    const again = await apply(planOf(item({ action: "already-migrated", commsCredentialId: made.id })), w.deps([made]));
    expect(again.items[0]!.status).toBe("confirmed");
    expect(w.events()).toEqual(["accepted", "confirmed"]);
  });

  it("an already-migrated item without an id fails rather than guessing", async () => {
    const w = world();
    const result = await apply(planOf(item({ action: "already-migrated" })), w.deps([]));
    expect(result.items[0]!.status).toBe("failed");
    expect(w.ledger.list).toEqual([]);
  });
});

describe("writer: a lost create of an earlier run that went to another App", () => {
  it("is looked for where it went (not in today's target) and adopted there", async () => {
    const w = world();
    const startedAt = w.clock.ms() - 60_000;
    const there = w.comms.add({ appName: "old_app", credentialType: "APN", createdAt: startedAt + 500 });
    w.comms.add({ appName: APP, credentialType: "APN", createdAt: startedAt + 500 }); // a colleague's, in today's target
    const reconcileFrom = { attemptId: "att-1", startedAt: new Date(startedAt).toISOString(), unknownAt: new Date(startedAt + 2_000).toISOString(), appName: "old_app", credentialType: "APN" as const, priorIds: [] };
    const result = await apply(planOf(item({ reconcileFrom })), w.deps([], { settleMs: 0 }));
    expect(result.items[0]).toMatchObject({ status: "confirmed", commsCredentialId: there.id, target: { appName: "old_app", credentialType: "APN" } });
    expect(w.comms.writes()).toEqual([]);
  });
});

describe("writer: interruption", () => {
  it("a default change not yet started when the run is interrupted is not sent", async () => {
    const w = world();
    const c = w.comms.add({ appName: APP, credentialType: "APN" });
    const controller = new AbortController();
    controller.abort();
    const result = await apply(planOf(item({ action: "update-default", commsCredentialId: c.id, target: { appName: APP, credentialType: "APN", isDefault: true } })), w.deps([c], { signal: controller.signal }));
    expect(result.items[0]!.status).toBe("planned");
    expect(result.interrupted).toBe(true);
    expect(w.comms.writes()).toEqual([]);
  });
});

describe("writer: the result it reports", () => {
  it("copies the plan's facts, counts requests, reports each item once through onItem, and times only items that ran", async () => {
    const w = world();
    w.comms.client.stats.byKind = { create: 1 };
    w.comms.client.stats.retries = 2;
    const seen: string[] = [];
    const p = { ...planOf(item(), item({ legacySid: sid(2), action: "skip" })), problems: ["plan problem"], warnings: ["plan warning"] };
    const result = await apply(p, w.deps([], { runId: "run-x", concurrency: 0, onItem: (i) => seen.push(`${i.legacySid} ${i.status}`) }));
    expect(result).toMatchObject({ kind: "apply", runId: "run-x", accountSid: ACCOUNT, mappingPath: "/m/migration.yaml", problems: ["plan problem"], warnings: ["plan warning"], interrupted: false, requests: { create: 1, retries: 2 } });
    expect(seen.sort()).toEqual([`${sid(1)} confirmed`, `${sid(2)} skipped`]);
    expect(result.items[0]!.timings).toBeDefined();
    expect(Date.parse(result.items[0]!.timings!.finishedAt) - Date.parse(result.items[0]!.timings!.startedAt)).toBe(result.items[0]!.timings!.ms);
    expect(result.items[1]!.timings).toBeUndefined();
    expect(w.ledger.list.every((e) => e.runId === "run-x")).toBe(true);
  });

  it("gives each run its own id when none is given", async () => {
    const w = world();
    const a = await apply(planOf(), w.deps([]));
    const b = await apply(planOf(), w.deps([]));
    expect(a.runId).toMatch(/^[0-9a-f-]{36}$/);
    expect(a.runId).not.toBe(b.runId);
  });

  it("a ledger that cannot be written stops the run: the item is reported not started (nothing was sent), the run says why", async () => {
    const w = world();
    const broken = { ...w.ledger, entries: () => w.ledger.entries(), events: () => w.ledger.events(), append: async () => { throw new Error("disk full"); } };
    const result = await apply(planOf(item()), w.deps([], { ledger: broken }));
    expect(result.items[0]).toMatchObject({ status: "planned" });
    expect(result.items[0]!.warnings.join(" ")).toMatch(/not started: the ledger could not be written: disk full/);
    expect(result.problems.join(" ")).toMatch(/stopped: the ledger could not be written: disk full/);
    expect(w.comms.writes()).toEqual([]);
  });

  it("a create without a target or a validated secret fails without a request", async () => {
    const w = world();
    const noTarget: PlanItem = { ...item() };
    delete noTarget.target;
    const result = await apply(planOf(noTarget, item({ legacySid: sid(3) })), w.deps([]));
    expect(result.items.map((i) => i.status)).toEqual(["failed", "failed"]);
    expect(result.items[1]!.error).toMatch(/no validated secret/);
    expect(w.comms.writes()).toEqual([]);
  });

  it("the create sent is what the plan says, with the secret's content", async () => {
    const w = world();
    let body: unknown;
    w.comms.hooks.create = async (b) => {
      body = b;
      const c = w.comms.add({ appName: b.appName, credentialType: b.credentialType });
      return { resourceId: c.id, resourceLocation: `x/${c.id}` };
    };
    await apply(planOf(item({ target: { appName: APP, credentialType: "APN_SANDBOX", isDefault: true } })), w.deps([]));
    expect(body).toMatchObject({ credentialType: "APN_SANDBOX", appName: APP, isDefault: true, content: { certificate: expect.any(String), privateKey: expect.any(String) } });
    expect(w.ledger.list[0]).toMatchObject({ event: "attempt", appName: APP, credentialType: "APN_SANDBOX", isDefault: true, secret: okSecret(sid(1)).fingerprint, priorIds: [] });
  });
});
