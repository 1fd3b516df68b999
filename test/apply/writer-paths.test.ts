/**
 * The writer's less travelled paths against the fake Comms on a virtual clock: the report's
 * shape, a ledger that fails mid-run, earlier runs' accepted or lost creates, re-sends, and the
 * holds that keep two lost creates of one App and type apart.
 */
import { describe, expect, it } from "vitest";
import { apply, type WaitNotice } from "../../src/apply/writer.js";
import type { CommsClient } from "../../src/comms/types.js";
import type { CommsCredential } from "../../src/domain.js";
import { ApiError, UnknownOutcomeError } from "../../src/errors.js";
import type { Ledger } from "../../src/ledger/types.js";
import { okSecret, sid } from "../plan/builders.js";
import { eventClock } from "./fake-comms.js";
import { APP, item, planOf, world } from "./writer-world.js";

type World = ReturnType<typeof world>;

/** The world's ledger, failing every append of `event` (disk full). */
function failingOn(w: World, event: string): Ledger {
  return {
    events: () => w.ledger.events(),
    entries: () => w.ledger.entries(),
    async append(e) {
      if (e.event === event) throw new Error("disk full");
      await w.ledger.append(e);
    },
  };
}

/** The fake client with `fetch` answered by `answer(n, id)` for the n-th call (1-based), else as usual. */
function withFetch(w: World, answer: (n: number, id: string) => Promise<CommsCredential | null> | undefined): CommsClient {
  let n = 0;
  const client = w.comms.client;
  return { ...client, fetch: (id: string) => answer(++n, id) ?? client.fetch(id), fetchLocation: (l: string) => client.fetchLocation(l) };
}

const iso = (ms: number) => new Date(ms).toISOString();

describe("writer: the result", () => {
  it("carries the mapping's display path when the plan has one, and no account actions when there were none", async () => {
    const w = world();
    const shown = await apply({ ...planOf(), mappingDisplayPath: "m/migration.yaml" }, w.deps([]));
    expect(shown.mappingDisplayPath).toBe("m/migration.yaml");
    expect(shown).not.toHaveProperty("accountActions");
    const bare = await apply(planOf(), w.deps([]));
    expect(bare).not.toHaveProperty("mappingDisplayPath");
  });

  it("with account-level problems: writes nothing, every write is planned, blocked items fail with their problems, the rest is skipped", async () => {
    const w = world();
    const p = {
      ...planOf(
        item(),
        item({ legacySid: sid(2), action: "update-default", commsCredentialId: "c2" }),
        item({ legacySid: sid(3), action: "replace", replace: { oldId: "c3", oldWasDefault: false } }),
        item({ legacySid: sid(4), action: "blocked", problems: ["p1", "p2"] }),
        item({ legacySid: sid(5), action: "blocked" }),
        item({ legacySid: sid(6), action: "skip" }),
      ),
      problems: ["too many Apps"],
      accountProblems: ["too many Apps"],
      accountActions: [{ action: "set-default-app" as const, appName: APP, via: "patch" as const }],
    };
    const result = await apply(p, w.deps([]));
    expect(result.items.map((i) => i.status)).toEqual(["planned", "planned", "planned", "failed", "failed", "skipped"]);
    expect(result.items[3]!.error).toBe("p1; p2");
    expect(result.items[4]!.error).toBe("blocked");
    expect(result.accountActions).toEqual([{ action: "set-default-app", appName: APP, via: "patch", status: "planned", warnings: [] }]);
    expect(result.problems).toEqual(["too many Apps"]);
    expect(w.comms.calls).toEqual([]);
    expect(w.ledger.list).toEqual([]);
  });

  it("a legacy credential that is gone is skipped without a request", async () => {
    const w = world();
    const result = await apply(planOf(item({ action: "legacy-gone" })), w.deps([]));
    expect(result.items[0]!.status).toBe("skipped");
    expect(w.comms.calls).toEqual([]);
  });
});

describe("writer: a ledger that fails mid-run", () => {
  it("a create Comms accepted but the ledger could not record is reported with its id, once per item, and the run stops once", async () => {
    const w = world();
    const p = planOf(item(), item({ legacySid: sid(2), target: { appName: "other_app", credentialType: "APN", isDefault: false } }));
    const result = await apply(p, w.deps([], { ledger: failingOn(w, "accepted") }));
    const made = w.comms.all();
    expect(made).toHaveLength(2);
    for (const [i, mine] of result.items.entries()) {
      expect(mine.status).toBe("failed");
      expect(made.map((c) => c.id)).toContain(mine.commsCredentialId);
      expect(mine.error).toBe(`created in Comms as ${mine.commsCredentialId}, but the ledger could not be written: disk full; rerun apply once the ledger can be written (it finds the credential and records it)`);
      expect(result.items.findIndex((x) => x.commsCredentialId === mine.commsCredentialId)).toBe(i);
    }
    expect(result.problems).toEqual(["stopped: the ledger could not be written: disk full; no new work was started after it"]);
  });

  it("the first line of an attempt that cannot be written sends nothing for it; the reason is said once", async () => {
    const w = world();
    const result = await apply(planOf(item()), w.deps([], { ledger: failingOn(w, "attempt") }));
    expect(result.items[0]).toMatchObject({ status: "planned" });
    expect(result.items[0]!.warnings).toEqual(["not started: the ledger could not be written: disk full"]);
    expect(w.comms.writes()).toEqual([]);
  });

  it("a ledger that fails on a default change's record stops the run, after the write it could not record", async () => {
    const w = world();
    const c = w.comms.add({ appName: APP, credentialType: "APN" });
    const result = await apply(planOf(item({ action: "update-default", commsCredentialId: c.id, target: { appName: APP, credentialType: "APN", isDefault: true } })), w.deps([c], { ledger: failingOn(w, "default-set") }));
    expect(result.items[0]).toMatchObject({ status: "failed", error: "the ledger could not be written: disk full" });
    expect(result.problems).toEqual(["stopped: the ledger could not be written: disk full; no new work was started after it"]);
  });
});

describe("writer: default changes (PATCH)", () => {
  it("an update-default item without a credential id fails without a request", async () => {
    const w = world();
    const result = await apply(planOf(item({ action: "update-default" })), w.deps([]));
    expect(result.items[0]).toMatchObject({ status: "failed", error: "update-default item without a Comms credential id" });
    expect(w.comms.calls).toEqual([]);
  });

  it("a PATCH still waiting for its turn when the run is interrupted is not sent", async () => {
    const w = world();
    const c = w.comms.add({ appName: APP, credentialType: "APN" });
    const controller = new AbortController();
    w.comms.hooks.create = async (body) => {
      controller.abort(); // Ctrl-C while the create ahead of it is in flight
      const made = w.comms.add({ appName: body.appName, credentialType: body.credentialType });
      return { resourceId: made.id, resourceLocation: `x/${made.id}` };
    };
    const patch = item({ legacySid: sid(2), action: "update-default", commsCredentialId: c.id, target: { appName: APP, credentialType: "APN", isDefault: true } });
    const result = await apply(planOf(item(), patch), w.deps([c], { concurrency: 1, signal: controller.signal }));
    expect(result.items[1]).toMatchObject({ status: "planned", warnings: ["not started: the run was interrupted"] });
    expect(result.items[1]!.timings).toBeUndefined(); // it never ran
    expect(w.comms.writes()).toEqual([`create ${APP} APN`]);
  });
});

describe("writer: credentials an earlier attempt made after all (surfaced)", () => {
  it("are journalled as the sid's own before anything else, and never adopted by a lost create", async () => {
    const w = world();
    const surfaced = w.comms.add({ appName: APP, credentialType: "APN" });
    let made: CommsCredential | undefined;
    w.comms.hooks.create = async (body) => {
      made = w.comms.add({ appName: body.appName, credentialType: body.credentialType });
      throw new UnknownOutcomeError("socket hang up");
    };
    const result = await apply(planOf(item({ surfaced: [{ attemptId: "att-0", commsCredentialId: surfaced.id }] })), w.deps([]));
    expect(result.items[0]).toMatchObject({ status: "confirmed", commsCredentialId: made!.id });
    expect(w.ledger.list[0]).toMatchObject({ event: "surfaced", legacySid: sid(1), attemptId: "att-0", commsCredentialId: surfaced.id });
    expect((await w.ledger.entries()).get(sid(1))?.createdIds).toEqual([surfaced.id, made!.id]);
  });
});

describe("writer: a create an earlier run had accepted (202) but not seen", () => {
  const earlier = async (w: World, id: string) => {
    await w.ledger.append({ event: "accepted", legacySid: sid(1), attemptId: "att-1", commsCredentialId: id });
    return w.ledger.list.at(-1)!.ts;
  };

  it("waits for it until it has settled, telling when, with long pauses between looks, and confirms it without a create", async () => {
    const w = world();
    const t0 = w.clock.ms();
    const late = w.comms.add({ appName: APP, credentialType: "APN", visibleFrom: t0 + 120_000 });
    const acceptedAt = await earlier(w, late.id);
    w.clock.advance(60_000);
    const notices: WaitNotice[] = [];
    const result = await apply(planOf(item({ commsCredentialId: late.id })), w.deps([], { wait: true, settleMs: 600_000, settlePollMaxMs: 20_000, onWaiting: (n) => notices.push(n) }));
    expect(result.items[0]).toMatchObject({ status: "confirmed", attempts: 0, warnings: [`confirmed ${late.id}, accepted by an earlier run`] });
    expect(notices).toEqual([{ legacySid: sid(1), appName: APP, credentialType: "APN", until: new Date(t0 + 600_000), reason: `${late.id} was accepted at ${acceptedAt} but is not visible yet` }]);
    expect(w.comms.writes()).toEqual([]);
    expect(w.comms.calls.filter((c) => c.startsWith("fetch")).length).toBeLessThan(15);
    expect(w.ledger.list.at(-1)).toMatchObject({ event: "confirmed", commsCredentialId: late.id });
  });

  it("--no-wait: still invisible and not settled, it is left accepted-unconfirmed with the time to rerun; nothing is sent", async () => {
    const w = world();
    const t0 = w.clock.ms();
    const acceptedAt = await earlier(w, "comms_credential_ghost");
    const result = await apply(planOf(item({ commsCredentialId: "comms_credential_ghost" })), w.deps([], { wait: false, settleMs: 600_000 }));
    expect(result.items[0]).toMatchObject({ status: "accepted-unconfirmed", attempts: 0 });
    expect(result.items[0]!.warnings).toEqual([
      `comms_credential_ghost was accepted at ${acceptedAt} but is still not visible; nothing was sent (rerun apply after ${iso(t0 + 600_000)}, or without --no-wait, to confirm it or create it again)`,
    ]);
    expect(w.comms.writes()).toEqual([]);
    expect(w.ledger.list).toHaveLength(1);
  });

  it("interrupted while waiting for it: not started, nothing sent", async () => {
    const w = world();
    await earlier(w, "comms_credential_ghost");
    const controller = new AbortController();
    const result = await apply(planOf(item({ commsCredentialId: "comms_credential_ghost" })), w.deps([], { wait: true, settleMs: 600_000, signal: controller.signal, onWaiting: () => controller.abort() }));
    expect(result.items[0]).toMatchObject({ status: "planned", warnings: ["not started: interrupted while waiting for comms_credential_ghost, accepted by an earlier run"] });
    expect(w.comms.writes()).toEqual([]);
  });

  it("settled: found by the last look, it is confirmed without a create", async () => {
    const w = world();
    const c = w.comms.add({ appName: APP, credentialType: "APN" });
    await earlier(w, c.id);
    w.clock.advance(3_600_000);
    const comms = withFetch(w, (n) => (n === 1 ? Promise.resolve(null) : undefined));
    const result = await apply(planOf(item({ commsCredentialId: c.id })), w.deps([], { comms, settleMs: 600_000, confirm: { timeoutMs: 0 } }));
    expect(result.items[0]).toMatchObject({ status: "confirmed", warnings: [`confirmed ${c.id}, accepted by an earlier run`] });
    expect(w.comms.writes()).toEqual([]);
    expect(w.ledger.list.at(-1)).toMatchObject({ event: "confirmed", commsCredentialId: c.id });
  });

  it("settled, but the last look fails: nothing is sent (a failed read proves nothing)", async () => {
    const w = world();
    const acceptedAt = await earlier(w, "comms_credential_ghost");
    w.clock.advance(3_600_000);
    const comms = withFetch(w, (n) => (n === 1 ? Promise.resolve(null) : Promise.reject(new ApiError("Comms", 503, undefined, "unavailable"))));
    const result = await apply(planOf(item({ commsCredentialId: "comms_credential_ghost" })), w.deps([], { comms, settleMs: 600_000, confirm: { timeoutMs: 0 } }));
    expect(result.items[0]).toMatchObject({ status: "failed", attempts: 0 });
    expect(result.items[0]!.error).toMatch(new RegExp(`^comms_credential_ghost was accepted at ${acceptedAt} but could not be looked up in Comms \\(.*unavailable.*\\); nothing was sent — rerun apply$`));
    expect(w.comms.writes()).toEqual([]);
  });

  it("without a record of when it was accepted, it is taken as settled and created again after one look", async () => {
    const w = world();
    const result = await apply(planOf(item({ commsCredentialId: "comms_credential_ghost" })), w.deps([], { wait: true, settleMs: 600_000, confirm: { timeoutMs: 200 } }));
    expect(result.items[0]!.status).toBe("confirmed");
    expect(result.items[0]!.warnings).toEqual(["comms_credential_ghost was accepted but never became visible in Comms; creating it again"]);
    expect(w.comms.writes()).toEqual([`create ${APP} APN`]);
  });
});

describe("writer: an earlier run's attempt with no recorded outcome", () => {
  const lostAt = (w: World, agoMs: number) => ({ attemptId: "att-1", startedAt: iso(w.clock.ms() - agoMs), priorIds: [] as string[] });

  it("settled long ago and nothing there: abandoned (saying how long it was missing), then created", async () => {
    const w = world();
    const result = await apply(planOf(item({ reconcileFrom: lostAt(w, 3_600_000) })), w.deps([], { settleMs: 600_000 }));
    expect(result.items[0]).toMatchObject({ status: "confirmed", attempts: 1 });
    expect(w.ledger.list[0]).toMatchObject({ event: "abandoned", attemptId: "att-1", reason: "nothing appeared in Comms within 3600 s" });
    expect(w.comms.writes()).toEqual([`create ${APP} APN`]);
  });

  it("settled, but Comms cannot be listed: fails saying so, and nothing is sent", async () => {
    const w = world();
    const lost = lostAt(w, 3_600_000);
    w.comms.hooks.list = async () => {
      throw new ApiError("Comms", 503, undefined, "unavailable");
    };
    const result = await apply(planOf(item({ reconcileFrom: lost })), w.deps([], { settleMs: 600_000 }));
    expect(result.items[0]).toMatchObject({ status: "failed", attempts: 0 });
    expect(result.items[0]!.error).toMatch(new RegExp(`^the earlier create attempt att-1 \\(${lost.startedAt}\\) has an unknown outcome; Comms could not be listed to find out \\(.*unavailable.*\\) — rerun apply; nothing was re-sent$`));
    expect(w.comms.writes()).toEqual([]);
    expect(w.ledger.list).toEqual([]);
  });

  it("a look that began before the attempt settled proves nothing: one more look decides", async () => {
    const w = world();
    const lost = lostAt(w, 900);
    let lists = 0;
    w.comms.hooks.list = async () => {
      lists++;
      w.clock.advance(500); // a slow list call: the attempt settles while it is on its way
    };
    const result = await apply(planOf(item({ reconcileFrom: lost })), w.deps([], { wait: true, settleMs: 1_000, clockSkewMs: 0 }));
    expect(result.items[0]!.status).toBe("confirmed");
    expect(lists).toBe(2);
    expect(w.events()).toEqual(["abandoned", "attempt", "accepted", "confirmed"]);
  });

  it("a lone new credential that another sid's open attempt of the same App and type could equally have made is not adopted: ambiguous, nothing sent", async () => {
    const w = world();
    const t0 = w.clock.ms();
    const startedAt = iso(t0 - 3_600_000);
    // Both sids' creates were lost at the same moment; Comms holds one new credential from then.
    await w.ledger.append({ event: "attempt", legacySid: sid(2), attemptId: "att-2", appName: APP, credentialType: "APN", isDefault: false, startedAt, priorIds: [] });
    await w.ledger.append({ event: "unknown", legacySid: sid(2), attemptId: "att-2", reason: "socket hang up" });
    const made = w.comms.add({ appName: APP, credentialType: "APN", createdAt: t0 - 3_600_000 + 500 });
    const lost = { attemptId: "att-1", startedAt, unknownAt: iso(t0 - 3_600_000 + 1_000), priorIds: [] as string[] };
    const result = await apply(planOf(item({ reconcileFrom: lost })), w.deps([], { settleMs: 600_000 }));
    expect(result.items[0]).toMatchObject({ status: "failed", attempts: 0 });
    expect(result.items[0]!.error).toMatch(new RegExp(`${made.id} could be the result of this attempt or of another create`));
    expect(w.comms.writes()).toEqual([]);
    expect(w.ledger.list.filter((e) => e.event === "accepted")).toEqual([]);
  });

  it("another sid's abandoned attempt of the same App and type holds this create back until its window has closed", async () => {
    const w = world();
    const t0 = w.clock.ms();
    await w.ledger.append({ event: "attempt", legacySid: sid(2), attemptId: "att-2", appName: APP, credentialType: "APN", isDefault: false, startedAt: iso(t0 - 2_000) });
    await w.ledger.append({ event: "unknown", legacySid: sid(2), attemptId: "att-2", reason: "socket hang up" });
    await w.ledger.append({ event: "abandoned", legacySid: sid(2), attemptId: "att-2", reason: "nothing appeared" });
    const sentAt: number[] = [];
    w.comms.hooks.create = async (body) => {
      sentAt.push(w.clock.ms());
      const made = w.comms.add({ appName: body.appName, credentialType: body.credentialType });
      return { resourceId: made.id, resourceLocation: `x/${made.id}` };
    };
    const notices: WaitNotice[] = [];
    const result = await apply(planOf(item()), w.deps([], { clockSkewMs: 1_000, onWaiting: (n) => notices.push(n) }));
    expect(result.items[0]!.status).toBe("confirmed");
    // The loss was noticed at t0; the window closes two skew allowances later.
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatchObject({ legacySid: sid(1), until: new Date(t0 + 2_000) });
    expect(notices[0]!.reason).toMatch(/another create of this App and type has an unknown outcome; this one waits until/);
    expect(sentAt).toHaveLength(1);
    expect(sentAt[0]).toBeGreaterThanOrEqual(t0 + 2_000);
  });
});

describe("writer: this run's create whose answer is lost", () => {
  const lostCreate = (w: World, make: (n: number) => boolean = () => false) => {
    let n = 0;
    w.comms.hooks.create = async (body) => {
      if (make(++n)) w.comms.add({ appName: body.appName, credentialType: body.credentialType });
      throw new UnknownOutcomeError("socket hang up");
    };
    return () => n;
  };

  it("lost twice, with nothing in Comms: sent once more only, then left for a rerun", async () => {
    const w = world();
    const sends = lostCreate(w);
    const notices: WaitNotice[] = [];
    const result = await apply(planOf(item()), w.deps([], { wait: true, settleMs: 1_000, onWaiting: (n) => notices.push(n) }));
    expect(sends()).toBe(2);
    // One wait (for the loss to settle); its own lost attempt never holds the re-send back.
    expect(notices.map((n) => n.reason)).toEqual(["create outcome unknown (socket hang up)"]);
    expect(result.items[0]).toMatchObject({ status: "failed", attempts: 2 });
    expect(result.items[0]!.error).toBe("create outcome unknown (socket hang up) for the second time in this run; nothing more was sent — rerun apply to reconcile it");
    expect(result.items[0]!.warnings).toEqual(["the create's answer was lost and nothing appeared in Comms within 1 s; sent again"]);
    expect(w.events()).toEqual(["attempt", "unknown", "abandoned", "attempt", "unknown"]);
  });

  it("lost twice, the re-send's result appearing by the last look: adopted", async () => {
    const w = world();
    lostCreate(w);
    let lists = 0;
    let creates = 0;
    w.comms.hooks.list = async () => {
      // After the re-send: its first look (still holding the lock) sees nothing, the next one finds it.
      if (w.comms.calls.filter((c) => c.startsWith("create")).length === 2 && ++lists === 2) {
        creates++;
        w.comms.add({ appName: APP, credentialType: "APN" });
      }
    };
    const result = await apply(planOf(item()), w.deps([], { wait: true, settleMs: 1_000 }));
    expect(creates).toBe(1);
    expect(result.items[0]).toMatchObject({ status: "confirmed", attempts: 2, commsCredentialId: w.comms.all()[0]!.id });
    expect(result.items[0]!.warnings.at(-1)).toBe(`the create's answer was lost; found ${w.comms.all()[0]!.id} in Comms and adopted it`);
    expect(w.comms.writes()).toHaveLength(2);
  });

  it("interrupted while waiting for it to settle: fails, nothing re-sent", async () => {
    const w = world();
    lostCreate(w);
    const controller = new AbortController();
    const result = await apply(planOf(item()), w.deps([], { wait: true, settleMs: 600_000, signal: controller.signal, onWaiting: () => controller.abort() }));
    expect(result.items[0]).toMatchObject({ status: "failed", attempts: 1 });
    expect(result.items[0]!.error).toBe("create outcome unknown (socket hang up); interrupted while waiting for it — rerun apply; nothing was re-sent");
    expect(w.comms.writes()).toHaveLength(1);
  });

  it("re-sent by the client after a 429: the settle time counts from the last send, which is journalled", async () => {
    const w = world();
    const sentAt: number[] = [];
    w.comms.hooks.create = async (_body, opts) => {
      sentAt.push(w.clock.ms());
      await opts?.onSend?.(1);
      w.clock.advance(5_000); // Retry-After
      await opts?.onSend?.(2);
      if (sentAt.length === 1) throw new UnknownOutcomeError("socket hang up");
      const made = w.comms.add({ appName: APP, credentialType: "APN" });
      return { resourceId: made.id, resourceLocation: `x/${made.id}` };
    };
    const result = await apply(planOf(item()), w.deps([], { wait: true, settleMs: 10_000 }));
    expect(result.items[0]).toMatchObject({ status: "confirmed", attempts: 2 });
    expect(sentAt[1]! - sentAt[0]!).toBeGreaterThanOrEqual(15_000);
    expect(w.events().slice(0, 4)).toEqual(["attempt", "resent", "unknown", "abandoned"]);
  });

  it("once a lost create is ambiguous, the other creates of its App and type are not attempted in this run", async () => {
    const w = world();
    lostCreate(w, (n) => {
      if (n === 1) w.comms.add({ appName: APP, credentialType: "APN" }); // a colleague's, at the same moment
      return n === 1;
    });
    const result = await apply(planOf(item(), item({ legacySid: sid(2) })), w.deps([]));
    expect(result.items[0]).toMatchObject({ status: "failed" });
    const ids = w.comms.all().map((c) => c.id);
    expect(result.items[0]!.error).toMatch(new RegExp(`\\(${ids.join(", ")}\\); Comms cannot tell which holds this certificate — delete the ones that are not yours in Comms, then rerun apply$`));
    expect(result.items[1]).toMatchObject({ status: "planned" });
    expect(result.items[1]!.warnings).toEqual([expect.stringMatching(/^not attempted: create outcome unknown \(socket hang up\) and .*2 new credentials.*; rerun apply once it is resolved$/)]);
    expect(w.comms.writes()).toHaveLength(1);
  });
});

describe("writer: what a lost create may take, and what it holds back", () => {
  it("never adopts what another create of this run was accepted for", async () => {
    const w = world();
    let n = 0;
    w.comms.hooks.create = async (body) => {
      if (++n === 2) throw new UnknownOutcomeError("socket hang up"); // the second one never happened
      const made = w.comms.add({ appName: body.appName, credentialType: body.credentialType });
      return { resourceId: made.id, resourceLocation: `x/${made.id}` };
    };
    const result = await apply(planOf(item(), item({ legacySid: sid(2) })), w.deps([]));
    const [first, second] = result.items;
    expect(first).toMatchObject({ status: "confirmed" });
    expect(second!.status).toBe("failed");
    expect(second!.commsCredentialId).toBeUndefined();
    expect(w.ledger.list.filter((e) => e.event === "accepted").map((e) => e.legacySid)).toEqual([sid(1)]);
  });

  it("a lost create adopted at once holds nothing back: the next create of its kind goes straight ahead", async () => {
    const w = world();
    let n = 0;
    w.comms.hooks.create = async (body) => {
      const made = w.comms.add({ appName: body.appName, credentialType: body.credentialType });
      if (++n === 1) throw new UnknownOutcomeError("socket hang up");
      return { resourceId: made.id, resourceLocation: `x/${made.id}` };
    };
    const notices: WaitNotice[] = [];
    const result = await apply(planOf(item(), item({ legacySid: sid(2) })), w.deps([], { onWaiting: (x) => notices.push(x) }));
    expect(result.items.map((i) => i.status)).toEqual(["confirmed", "confirmed"]);
    expect(new Set(result.items.map((i) => i.commsCredentialId)).size).toBe(2);
    expect(notices).toEqual([]);
  });

  it("an earlier attempt the plan found the result of (a skipped sid) holds nothing back", async () => {
    const w = world();
    const t0 = w.clock.ms();
    await w.ledger.append({ event: "attempt", legacySid: sid(2), attemptId: "att-2", appName: APP, credentialType: "APN", isDefault: false, startedAt: iso(t0 - 1_000) });
    await w.ledger.append({ event: "unknown", legacySid: sid(2), attemptId: "att-2", reason: "socket hang up" });
    const theirs = w.comms.add({ appName: APP, credentialType: "APN", createdAt: t0 - 900 });
    const skipped = item({ legacySid: sid(2), action: "skip", commsCredentialId: theirs.id, reconcileFrom: { attemptId: "att-2", startedAt: iso(t0 - 1_000) } });
    const notices: WaitNotice[] = [];
    const result = await apply(planOf(skipped, item()), w.deps([theirs], { clockSkewMs: 1_000, onWaiting: (x) => notices.push(x) }));
    expect(result.items.map((i) => i.status)).toEqual(["skipped", "confirmed"]);
    expect(notices).toEqual([]);
  });

  it("an earlier attempt's one candidate is adopted as its result, saying which attempt made it", async () => {
    const w = world();
    const startedAt = w.clock.ms() - 60_000;
    const made = w.comms.add({ appName: APP, credentialType: "APN", createdAt: startedAt + 500 });
    const reconcileFrom = { attemptId: "att-1", startedAt: iso(startedAt), unknownAt: iso(startedAt + 2_000), priorIds: [] };
    const result = await apply(planOf(item({ reconcileFrom })), w.deps([], { settleMs: 0 }));
    expect(result.items[0]).toMatchObject({ status: "confirmed", commsCredentialId: made.id, attempts: 0, warnings: [`${made.id} found in Comms was adopted as the result of the earlier attempt att-1`] });
    expect(w.comms.writes()).toEqual([]);
  });

  it("while waiting for a lost create to settle, Comms is listed after 100 ms, then less and less often", async () => {
    const w = world();
    w.comms.hooks.create = async () => {
      throw new UnknownOutcomeError("socket hang up");
    };
    const at: number[] = [];
    const t0 = w.clock.ms();
    w.comms.hooks.list = async () => void at.push(w.clock.ms() - t0);
    await apply(planOf(item()), w.deps([], { wait: true, settleMs: 10_000, settlePollMaxMs: 2_000 }));
    // The first look holds the create's lock; then 100, 200, 400, … up to 2 s apart until settled (10 s), then the re-send's.
    expect(at.slice(0, 11)).toEqual([0, 0, 100, 300, 700, 1_500, 3_100, 5_100, 7_100, 9_100, 10_000]);
  });

  it("records the ids of the App and type's existing credentials with each attempt (never its result)", async () => {
    const w = world();
    const same = w.comms.add({ appName: APP, credentialType: "APN" });
    const otherType = w.comms.add({ appName: APP, credentialType: "FCM" });
    const otherApp = w.comms.add({ appName: "other_app", credentialType: "APN" });
    await apply(planOf(item()), w.deps([same, otherType, otherApp]));
    expect(w.ledger.list[0]).toMatchObject({ event: "attempt", priorIds: [same.id] });
  });
});

describe("writer: already migrated", () => {
  it("journals only what the ledger does not say yet", async () => {
    const w = world();
    const made = w.comms.add({ appName: APP, credentialType: "APN" });
    const other = w.comms.add({ appName: APP, credentialType: "APN" });
    const lost = { attemptId: "att-1", startedAt: iso(w.clock.ms() - 60_000) };
    // The ledger has the 202 already (not yet confirmed): only the confirmation is added.
    await w.ledger.append({ event: "accepted", legacySid: sid(1), attemptId: "att-1", commsCredentialId: made.id });
    await apply(planOf(item({ action: "already-migrated", commsCredentialId: made.id, reconcileFrom: lost })), w.deps([made, other]));
    expect(w.events()).toEqual(["accepted", "confirmed"]);
    // Confirmed, but for another id than the plan found: the plan's id is confirmed.
    await apply(planOf(item({ action: "already-migrated", commsCredentialId: other.id })), w.deps([made, other]));
    expect(w.ledger.list.at(-1)).toMatchObject({ event: "confirmed", commsCredentialId: other.id });
    expect(w.events()).toEqual(["accepted", "confirmed", "confirmed"]);
  });
});

describe("writer: creates that are accepted but not seen", () => {
  it("not visible before the confirmation timeout: accepted-unconfirmed, journalled with why", async () => {
    const w = world();
    w.comms.hooks.create = async (body) => {
      const made = w.comms.add({ appName: body.appName, credentialType: body.credentialType, visibleFrom: w.clock.ms() + 3_600_000 });
      return { resourceId: made.id, resourceLocation: `x/${made.id}` };
    };
    const result = await apply(planOf(item()), w.deps([]));
    expect(result.items[0]).toMatchObject({ status: "accepted-unconfirmed", attempts: 1, warnings: ["accepted (202) but not visible before the confirmation timeout; a rerun confirms it"] });
    expect(w.ledger.list.at(-1)).toMatchObject({ event: "unconfirmed", reason: "not visible before the confirmation timeout" });
  });

  it("interrupted before it was visible: accepted-unconfirmed, saying so", async () => {
    const w = world();
    const controller = new AbortController();
    w.comms.hooks.create = async (body) => {
      const made = w.comms.add({ appName: body.appName, credentialType: body.credentialType, visibleFrom: w.clock.ms() + 3_600_000 });
      controller.abort();
      return { resourceId: made.id, resourceLocation: `x/${made.id}` };
    };
    const result = await apply(planOf(item()), w.deps([], { signal: controller.signal }));
    expect(result.items[0]!.warnings).toEqual(["accepted (202) but the run was interrupted before it was visible; a rerun confirms it"]);
    expect(w.ledger.list.at(-1)).toMatchObject({ event: "unconfirmed", reason: "the run was interrupted before it was visible" });
  });
});

describe("writer: the default App step in a run", () => {
  it("reads the App back with the run's confirmation timing, and leaves a change that never shows unconfirmed", async () => {
    const w = world();
    const first = w.comms.add({ appName: "first_app", credentialType: "APN" }); // the fake lists the first App as the default
    const mine = w.comms.add({ appName: APP, credentialType: "APN" });
    const p = { ...planOf(item({ action: "already-migrated", commsCredentialId: mine.id })), accountActions: [{ action: "set-default-app" as const, appName: APP, from: "first_app", via: "patch" as const }] };
    const t0 = w.clock.ms();
    const result = await apply(p, w.deps([first, mine], { confirm: { timeoutMs: 1_000, initialDelayMs: 100, maxDelayMs: 400 } }));
    expect(result.accountActions).toEqual([expect.objectContaining({ appName: APP, status: "accepted-unconfirmed", patched: true })]);
    expect(w.comms.calls.filter((c) => c === "listApps")).toHaveLength(5); // at 0, 100, 300, 700 and 1100 ms
    expect(w.clock.ms() - t0).toBe(1_100);
  });
});

describe("writer: the run-wide concurrency limit", () => {
  /** The fake client, telling the writer the status of every answer (as the real one does); `answer` scripts them. */
  const watched = (w: World, answer: (call: string) => number[]) => {
    let listener: ((status: number) => void) | undefined;
    let unwatched = 0;
    const client = w.comms.client;
    const told = <T>(call: string, fn: () => Promise<T>) => async () => {
      for (const s of answer(call)) listener?.(s);
      return fn();
    };
    const comms: CommsClient = {
      ...client,
      create: (b, o) => told("create", () => client.create(b, o))(),
      fetch: (id) => told("fetch", () => client.fetch(id))(),
      fetchLocation: (l) => told("fetch", () => client.fetchLocation(l))(),
      watchAnswers(l) {
        listener = l;
        return () => void (unwatched++, (listener = undefined));
      },
    };
    return { comms, unwatched: () => unwatched };
  };

  it("every answer the run gets steers the adaptive limit (a 429 cuts it), and the run stops listening at its end", async () => {
    const w = world();
    const { comms, unwatched } = watched(w, (call) => (call === "create" ? [429, 202] : [200]));
    const lines: string[] = [];
    const logger = { info: (_: unknown, msg: string) => lines.push(msg), warn: () => {}, debug: () => {}, error: () => {} } as never;
    const result = await apply(planOf(item()), w.deps([], { comms, concurrency: "adaptive", logger }));
    expect(result.items[0]!.status).toBe("confirmed");
    expect(result.concurrency).toMatchObject({ mode: "adaptive", start: 4, final: 2, throttled: 1, decreases: 1 });
    expect(unwatched()).toBe(1);
    expect(lines).toContain("concurrency: adaptive, started at 4, reached 4, ended at 2; 1 429 answer(s) seen");
  });

  it("a fixed limit is reported and logged as fixed, and still counts the 429s", async () => {
    const w = world();
    const { comms } = watched(w, (call) => (call === "create" ? [429, 202] : [200]));
    const lines: string[] = [];
    const logger = { info: (_: unknown, msg: string) => lines.push(msg), warn: () => {}, debug: () => {}, error: () => {} } as never;
    const result = await apply(planOf(item()), w.deps([], { comms, concurrency: 3, logger }));
    expect(result.concurrency).toMatchObject({ mode: "fixed", start: 3, final: 3, throttled: 1, decreases: 0 });
    expect(lines).toContain("concurrency: fixed at 3; 1 429 answer(s) seen");
  });
});

describe("writer: ordering and batching", () => {
  const secretsFor = (n: number) => new Map(Array.from({ length: n }, (_, i) => [sid(i + 1), okSecret(sid(i + 1))] as const));
  const creates = (n: number, app = (_: number) => APP) => Array.from({ length: n }, (_, i) => item({ legacySid: sid(i + 1), target: { appName: app(i), credentialType: "APN", isDefault: false } }));

  it("creates of one App and type are sent one at a time; creates into different Apps go out together", async () => {
    const w = world();
    const inFlight = new Map<string, number>();
    const most = new Map<string, number>();
    w.comms.hooks.create = async (body) => {
      const n = (inFlight.get(body.appName) ?? 0) + 1;
      inFlight.set(body.appName, n);
      most.set(body.appName, Math.max(most.get(body.appName) ?? 0, n));
      await w.clock.sleep(10);
      inFlight.set(body.appName, n - 1);
      const made = w.comms.add({ appName: body.appName, credentialType: body.credentialType });
      return { resourceId: made.id, resourceLocation: `x/${made.id}` };
    };
    let total = 0;
    const counting = { ...w.comms.client, create: async (...a: Parameters<typeof w.comms.client.create>) => {
      total++;
      const all = [...inFlight.values()].reduce((x, y) => x + y, 0);
      most.set("*", Math.max(most.get("*") ?? 0, all + 1));
      return w.comms.client.create(...a);
    } };
    const result = await apply(planOf(...creates(6, (i) => (i < 3 ? APP : "other_app"))), w.deps([], { comms: counting, secrets: secretsFor(6) }));
    expect(result.items.every((i) => i.status === "confirmed")).toBe(true);
    expect(total).toBe(6);
    expect(most.get(APP)).toBe(1);
    expect(most.get("other_app")).toBe(1);
    expect(most.get("*")).toBe(2);
  });

  it("the writes announced for an App are confirmed together with one list call", async () => {
    const clock = eventClock();
    const w = world(clock);
    w.comms.hooks.create = async (body) => {
      await clock.sleep(50); // each create takes a while: the first is due for a look before the last is sent
      const made = w.comms.add({ appName: body.appName, credentialType: body.credentialType });
      return { resourceId: made.id, resourceLocation: `x/${made.id}` };
    };
    const result = await clock.run(apply(planOf(...creates(5)), w.deps([], { secrets: secretsFor(5) })));
    expect(result.items.every((i) => i.status === "confirmed")).toBe(true);
    const reads = w.comms.calls.filter((c) => !c.startsWith("create"));
    expect(reads).toEqual([`list ${APP}`]);
  });

  it("a write that fails before it is confirmed does not hold back the confirmation of the others", async () => {
    const clock = eventClock();
    const w = world(clock);
    let n = 0;
    w.comms.hooks.create = async (body) => {
      await clock.sleep(50);
      if (++n === 1) throw new ApiError("Comms", 400, 20001, "bad certificate");
      const made = w.comms.add({ appName: body.appName, credentialType: body.credentialType });
      return { resourceId: made.id, resourceLocation: `x/${made.id}` };
    };
    const t0 = w.clock.ms();
    const result = await clock.run(apply(planOf(...creates(2)), w.deps([], { secrets: secretsFor(2), confirm: { timeoutMs: 60_000, holdMaxMs: 30_000 } })));
    expect(result.items.map((i) => i.status)).toEqual(["failed", "confirmed"]);
    expect(w.clock.ms() - t0).toBeLessThan(30_000);
  });

  it("another sid's attempt left pending in the ledger holds a create of its App and type back; a settled one does not", async () => {
    const t = (w: World) => w.clock.ms();
    for (const settled of [false, true]) {
      const w = world();
      await w.ledger.append({ event: "attempt", legacySid: sid(2), attemptId: "att-2", appName: APP, credentialType: "APN", isDefault: false, startedAt: iso(t(w) - 1_000) });
      await w.ledger.append({ event: "unknown", legacySid: sid(2), attemptId: "att-2", reason: "socket hang up" });
      if (settled) await w.ledger.append({ event: "accepted", legacySid: sid(2), attemptId: "att-2", commsCredentialId: "comms_credential_theirs" });
      const notices: WaitNotice[] = [];
      const result = await apply(planOf(item()), w.deps([], { clockSkewMs: 1_000, onWaiting: (n) => notices.push(n) }));
      expect(result.items[0]!.status).toBe("confirmed");
      expect(notices).toHaveLength(settled ? 0 : 1);
    }
  });
});
