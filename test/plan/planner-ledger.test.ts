import { describe, expect, it } from "vitest";
import type { SecretResult } from "../../src/domain.js";
import type { Mapping } from "../../src/mapping/types.js";
import { RECONCILE_CLOCK_SKEW_MS } from "../../src/limits.js";
import { plan } from "../../src/plan/planner.js";
import { adoptionCandidates } from "../../src/plan/reconcile.js";
import type { Plan, PlanItem, Snapshot } from "../../src/plan/types.js";
import { NOW, comms, entry, legacy, ledgerEntry, ledgerOf, mapping, okSecret, secretsFor, sid, snapshot } from "./builders.js";

const S1 = sid(1);
const startedAt = "2025-06-01T10:00:00.000Z";
const inWindow = "2025-06-01T10:00:01.000Z";
const attempt = (attemptId = "att-1", appName = "app_ios") => ({ attemptId, startedAt, appName, credentialType: "APN" as const });

const run = (snap: Snapshot, m: Mapping, secrets: ReadonlyMap<string, SecretResult>): Plan => plan(snap, m, secrets, { now: NOW });
function only(p: Plan): PlanItem {
  expect(p.items).toHaveLength(1);
  return p.items[0]!;
}

describe("plan: a lost create of a sid that is not migrated this time", () => {
  it("records nothing when several credentials could be its result, and says how many", () => {
    const snap = snapshot({
      legacy: [legacy({ sid: S1 })],
      comms: [comms({ createdAt: inWindow }), comms({ createdAt: "2025-06-01T10:00:02.000Z" })],
      ledger: ledgerOf(ledgerEntry({ legacySid: S1, state: "pending", lastAttempt: attempt() })),
    });
    const item = only(run(snap, mapping(entry({ sid: S1, skip: true })), new Map()));
    expect(item.action).toBe("skip");
    expect(item.commsCredentialId).toBeUndefined();
    expect(item.reconcileFrom).toBeUndefined();
    expect(item.warnings.join(" ")).toMatch(/2 new credentials in app_ios APN could be its result/);
  });

  it("records nothing (and does not fail) when nothing could be its result", () => {
    const snap = snapshot({ legacy: [legacy({ sid: S1 })], comms: [], ledger: ledgerOf(ledgerEntry({ legacySid: S1, state: "pending", lastAttempt: attempt() })) });
    const item = only(run(snap, mapping(entry({ sid: S1, skip: true })), new Map()));
    expect(item).toMatchObject({ action: "skip" });
    expect(item.commsCredentialId).toBeUndefined();
    expect(item.warnings.join(" ")).toMatch(/no recorded outcome; check Comms/);
    expect(item.warnings.join(" ")).not.toMatch(/could be its result/);
  });

  it("an already-migrated sid keeps its own credential: a newer attempt's candidate is not given to it", () => {
    const mine = comms({ createdAt: "2025-05-01T00:00:00.000Z" });
    const other = comms({ createdAt: inWindow });
    const e = ledgerEntry({ legacySid: S1, state: "pending", commsCredentialId: mine.id, createdIds: [mine.id], lastAttempt: attempt("att-2") });
    const item = only(run(snapshot({ legacy: [legacy({ sid: S1 })], comms: [mine, other], ledger: ledgerOf(e) }), mapping(entry({ sid: S1 })), secretsFor(S1)));
    expect(item).toMatchObject({ action: "already-migrated", commsCredentialId: mine.id });
    expect(item.reconcileFrom).toBeUndefined();
  });
});

describe("plan: a sid whose last create was accepted but is not listed", () => {
  it("waits for the accepted id where the earlier attempt put it, even after the mapping moved", () => {
    const e = ledgerEntry({ legacySid: S1, state: "accepted", appName: "old_app", credentialType: "APN", commsCredentialId: "comms_credential_accepted", lastAttempt: attempt("att-1", "old_app") });
    const item = only(run(snapshot({ legacy: [legacy({ sid: S1 })], ledger: ledgerOf(e) }), mapping(entry({ sid: S1, appName: "app_ios" })), secretsFor(S1)));
    expect(item).toMatchObject({ action: "create", commsCredentialId: "comms_credential_accepted", target: { appName: "old_app", credentialType: "APN" }, reconcileFrom: { attemptId: "att-1", appName: "old_app" } });
    expect(item.warnings.join(" ")).toMatch(/was migrated to old_app APN but the mapping now says app_ios APN/);
  });

  it("an accepted id without a recorded attempt is still waited for (no reconcileFrom)", () => {
    const e = ledgerEntry({ legacySid: S1, state: "unconfirmed", commsCredentialId: "comms_credential_accepted" });
    const item = only(run(snapshot({ legacy: [legacy({ sid: S1 })], ledger: ledgerOf(e) }), mapping(entry({ sid: S1 })), secretsFor(S1)));
    expect(item).toMatchObject({ action: "create", commsCredentialId: "comms_credential_accepted", target: { appName: "app_ios" } });
    expect(item.reconcileFrom).toBeUndefined();
  });

  it("a failed sid whose earlier id is gone is created afresh: nothing to wait for, nothing to reconcile", () => {
    const e = ledgerEntry({ legacySid: S1, state: "failed", commsCredentialId: "comms_credential_gone", lastAttempt: attempt() });
    const candidate = comms({ createdAt: inWindow });
    const item = only(run(snapshot({ legacy: [legacy({ sid: S1 })], comms: [candidate], ledger: ledgerOf(e) }), mapping(entry({ sid: S1 })), secretsFor(S1)));
    expect(item.action).toBe("create");
    expect(item.commsCredentialId).toBeUndefined();
    expect(item.reconcileFrom).toBeUndefined();
    expect(item.recreate).toBeUndefined();
  });
});

describe("plan: adopting a lost create's result", () => {
  it("reports it where it is, warns that the mapping moved, and that it is not the default it should be", () => {
    const found = comms({ appName: "old_app", createdAt: inWindow, isDefault: false });
    const e = ledgerEntry({ legacySid: S1, state: "pending", appName: "old_app", lastAttempt: attempt("att-1", "old_app") });
    const item = only(run(snapshot({ legacy: [legacy({ sid: S1 })], comms: [found], ledger: ledgerOf(e) }), mapping(entry({ sid: S1, appName: "app_ios", isDefault: true })), secretsFor(S1)));
    expect(item).toMatchObject({ action: "already-migrated", commsCredentialId: found.id, target: { appName: "old_app", credentialType: "APN", isDefault: true } });
    const w = item.warnings.join(" ");
    expect(w).toMatch(/was migrated to old_app APN but the mapping now says app_ios APN/);
    expect(w).toMatch(new RegExp(`${found.id} is not the default for old_app APN`));
  });

  it("does not warn about the default when it already is the default, or none was asked for", () => {
    const isDefault = comms({ createdAt: inWindow, isDefault: true });
    const e = ledgerEntry({ legacySid: S1, state: "pending", lastAttempt: attempt() });
    const asked = only(run(snapshot({ legacy: [legacy({ sid: S1 })], comms: [isDefault], ledger: ledgerOf(e) }), mapping(entry({ sid: S1, isDefault: true })), secretsFor(S1)));
    expect(asked.warnings.join(" ")).not.toMatch(/not the default/);
    const plain = comms({ createdAt: inWindow, isDefault: false });
    const notAsked = only(run(snapshot({ legacy: [legacy({ sid: S1 })], comms: [plain], ledger: ledgerOf(e) }), mapping(entry({ sid: S1 })), secretsFor(S1)));
    expect(notAsked.warnings.join(" ")).not.toMatch(/not the default|mapping now says/);
  });

  it("keeps the ledger's secret fingerprint when no secret was resolved this time", () => {
    const found = comms({ createdAt: inWindow });
    const fp = okSecret(S1, "old").fingerprint!;
    const e = ledgerEntry({ legacySid: S1, state: "pending", lastAttempt: attempt(), secret: fp });
    const item = only(run(snapshot({ legacy: [legacy({ sid: S1 })], comms: [found], ledger: ledgerOf(e) }), mapping(entry({ sid: S1 })), new Map()));
    expect(item.secret).toEqual(fp);
  });

  it("a lost create with nothing to adopt still needs a valid secret to be created", () => {
    const e = ledgerEntry({ legacySid: S1, state: "pending", lastAttempt: attempt() });
    const item = only(run(snapshot({ legacy: [legacy({ sid: S1 })], ledger: ledgerOf(e) }), mapping(entry({ sid: S1 })), new Map()));
    expect(item.action).toBe("blocked");
    expect(item.problems.join(" ")).toMatch(/no secret/);
  });
});

describe("plan: mapping entries that cannot be followed", () => {
  it("a sid listed twice is blocked even when one entry says skip", () => {
    const item = only(run(snapshot({ legacy: [legacy({ sid: S1 })] }), mapping(entry({ sid: S1, skip: true }), entry({ sid: S1 })), secretsFor(S1)));
    expect(item.action).toBe("blocked");
  });

  it("a sid of an unknown type listed twice is blocked for being listed twice", () => {
    const item = only(run(snapshot({ legacy: [legacy({ sid: S1, type: "voip" })] }), mapping(entry({ sid: S1 }), entry({ sid: S1 })), secretsFor(S1)));
    expect(item.action).toBe("blocked");
    expect(item.problems.join(" ")).toMatch(/listed 2 times/);
  });

  it("a skipped, blocked or unmapped sid never asks for a secret, whatever the secrets map holds", () => {
    const bad: SecretResult = { problems: ["bad secret"], warnings: ["secret warning"] };
    const secrets = new Map([[S1, bad], [sid(2), bad], [sid(3), bad]]);
    const p = run(
      snapshot({ legacy: [legacy({ sid: S1 }), legacy({ sid: sid(2), type: "voip" }), legacy({ sid: sid(3) })] }),
      mapping(entry({ sid: S1, skip: true }), entry({ sid: sid(2) })),
      secrets,
    );
    expect(p.items.map((i) => i.action)).toEqual(["skip", "blocked", "unmapped"]);
    for (const i of p.items) expect(i.warnings).not.toContain("secret warning");
    expect(p.items[0]!.problems).toEqual([]);
  });

  it("an unmapped sid gets one warning saying so; one of an unknown type only the unknown-type warning", () => {
    const p = run(snapshot({ legacy: [legacy({ sid: S1 }), legacy({ sid: sid(2), type: "voip" })] }), mapping(), new Map());
    expect(p.items[0]!.warnings).toEqual([expect.stringMatching(/not in the mapping/)]);
    expect(p.items[1]!.warnings).toEqual([expect.stringMatching(/is not one cr2comms knows/)]);
  });
});

describe("plan: warnings about a migrated credential", () => {
  it("says when the live credential is the default although the mapping says isDefault: false, and not otherwise", () => {
    const live = comms({ isDefault: true });
    // The same secret recorded and resolved: no rotation to talk about.
    const e = ledgerEntry({ legacySid: S1, commsCredentialId: live.id, secret: okSecret(S1).fingerprint! });
    const snap = snapshot({ legacy: [legacy({ sid: S1 })], comms: [live], ledger: ledgerOf(e) });
    expect(only(run(snap, mapping(entry({ sid: S1, isDefault: false })), secretsFor(S1))).warnings).toEqual([
      expect.stringMatching(new RegExp(`${live.id} is the default .* although the mapping says isDefault: false`)),
    ]);
    // Comms made it the default by itself (first of its type) and the mapping says nothing: no warning.
    expect(only(run(snap, mapping(entry({ sid: S1 })), secretsFor(S1))).warnings).toEqual([]);
    expect(only(run(snap, mapping(entry({ sid: S1, isDefault: true })), secretsFor(S1))).warnings).toEqual([]);
  });

  it("says when only the type moved, and falls back to the live credential's App and type when the ledger has none", () => {
    const live = comms({ credentialType: "APN" });
    const moved = ledgerEntry({ legacySid: S1, commsCredentialId: live.id, credentialType: "APN", secret: okSecret(S1).fingerprint! });
    const sandbox = legacy({ sid: S1, sandbox: true, sandboxRaw: "True" });
    const w = only(run(snapshot({ legacy: [sandbox], comms: [live], ledger: ledgerOf(moved) }), mapping(entry({ sid: S1 })), secretsFor(S1))).warnings;
    expect(w.join(" ")).toMatch(/was migrated to app_ios APN but the mapping now says app_ios APN_SANDBOX/);
    const bare = { legacySid: S1, state: "confirmed" as const, commsCredentialId: live.id, createdIds: [live.id], runIds: [] };
    // Without a recorded fingerprint the only thing to say is that rotation can't be checked.
    expect(only(run(snapshot({ legacy: [legacy({ sid: S1 })], comms: [live], ledger: ledgerOf(bare) }), mapping(entry({ sid: S1 })), secretsFor(S1))).warnings).toEqual([
      expect.stringMatching(/rotation can't be detected for it/),
    ]);
  });

  it("says rotation can't be checked when no usable fingerprint was recorded, and nothing when the same secret is mapped", () => {
    const live = comms();
    const withSecret = (tag: string | undefined) =>
      snapshot({ legacy: [legacy({ sid: S1 })], comms: [live], ledger: ledgerOf(ledgerEntry({ legacySid: S1, commsCredentialId: live.id, ...(tag ? { secret: okSecret(S1, tag).fingerprint! } : {}) })) });
    expect(only(run(withSecret("v1"), mapping(entry({ sid: S1 })), secretsFor(S1))).warnings).toEqual([]);
    expect(only(run(withSecret(undefined), mapping(entry({ sid: S1 })), secretsFor(S1))).warnings).toEqual([expect.stringMatching(/no fingerprint was recorded/)]);
    // (A renewed secret is a `replace`: test/plan/rotation.test.ts.)
  });
});

describe("plan: defaults, secrets and foreign credentials", () => {
  it("two defaults for one App and type block each other, each naming the other (not itself)", () => {
    const p = run(snapshot({ legacy: [legacy({ sid: S1 }), legacy({ sid: sid(2) })] }), mapping(entry({ sid: S1, isDefault: true }), entry({ sid: sid(2), isDefault: true })), secretsFor(S1, sid(2)));
    expect(p.items.map((i) => i.action)).toEqual(["blocked", "blocked"]);
    // Entries are numbered as a person counts them, from 1.
    expect(p.items[0]!.problems.join(" ")).toMatch(new RegExp(`also ${sid(2)} \\(entry #2\\)$`));
    expect(p.items[1]!.problems.join(" ")).toMatch(new RegExp(`also ${S1} \\(entry #1\\)$`));
  });

  it("an item already blocked does not make another default conflict", () => {
    const a = comms({ createdAt: inWindow });
    const b = comms({ createdAt: "2025-06-01T10:00:02.000Z" });
    const p = run(
      snapshot({ legacy: [legacy({ sid: S1 }), legacy({ sid: sid(2) })], comms: [a, b], ledger: ledgerOf(ledgerEntry({ legacySid: S1, state: "pending", lastAttempt: attempt() })) }),
      mapping(entry({ sid: S1, isDefault: true }), entry({ sid: sid(2), isDefault: true })),
      secretsFor(S1, sid(2)),
    );
    expect(p.items.map((i) => i.action)).toEqual(["blocked", "create"]);
  });

  it("a secret result with neither problems nor a secret blocks the create", () => {
    const p = run(snapshot({ legacy: [legacy({ sid: S1 })] }), mapping(entry({ sid: S1 })), new Map([[S1, { problems: [], warnings: [] }]]));
    expect(only(p).action).toBe("blocked");
    expect(only(p).problems).toEqual([expect.stringMatching(/did not validate/)]);
  });

  it("warns a create about foreign credentials of its App and type only, not about adopted or other-type ones", () => {
    const foreign = comms({ createdAt: "2025-01-01T00:00:00.000Z" });
    const otherType = comms({ credentialType: "FCM", createdAt: "2025-01-01T00:00:00.000Z" });
    const adopted = comms({ createdAt: inWindow });
    const snap = snapshot({
      legacy: [legacy({ sid: S1 }), legacy({ sid: sid(2) }), legacy({ sid: sid(3) })],
      comms: [foreign, otherType, adopted],
      ledger: ledgerOf(ledgerEntry({ legacySid: sid(2), state: "pending", lastAttempt: attempt() })),
    });
    const p = run(snap, mapping(entry({ sid: S1 }), entry({ sid: sid(2) }), entry({ sid: sid(3), skip: true })), secretsFor(S1, sid(2)));
    expect(p.items.map((i) => i.action)).toEqual(["create", "already-migrated", "skip"]);
    expect(p.items[0]!.warnings).toEqual([expect.stringMatching(/already has 1 APN credential\(s\) not created by cr2comms/)]);
    expect(p.items[1]!.warnings.join(" ")).not.toMatch(/not created by cr2comms/);
    expect(p.items[2]!.warnings).toEqual([]);
  });
});

describe("adoptionCandidates: the window's edges belong to it", () => {
  it("a credential created exactly at the window's start or end is a candidate; one millisecond outside is not", () => {
    const start = Date.parse(startedAt) - RECONCILE_CLOCK_SKEW_MS;
    const unknownAt = "2025-06-01T10:00:05.000Z";
    const end = Date.parse(unknownAt) + RECONCILE_CLOCK_SKEW_MS;
    const at = (ms: number) => comms({ createdAt: new Date(ms).toISOString() });
    const edges = [at(start), at(end)];
    const outside = [at(start - 1), at(end + 1)];
    const found = adoptionCandidates({ ...attempt(), unknownAt }, [...outside, ...edges], new Set());
    expect(found.map((c) => c.id)).toEqual(edges.map((c) => c.id));
  });
});

describe("planner: every live credential the ledger knows for a sid", () => {
  it("a live credential whose rollback delete is pending is kept (nothing is created beside it), with a warning naming the rerun", () => {
    const x = comms();
    const snap = snapshot({ legacy: [legacy({ sid: S1 })], comms: [x], ledger: ledgerOf(ledgerEntry({ legacySid: S1, commsCredentialId: x.id, pendingDeletes: [x.id] })) });
    const item = only(run(snap, mapping(entry({ sid: S1 })), secretsFor(S1)));
    expect([item.action, item.commsCredentialId]).toEqual(["already-migrated", x.id]);
    expect(item.warnings).toContain(`a rollback's delete of ${x.id} was accepted (202) but Comms still lists it; rerun rollback to confirm it (nothing is created beside it meanwhile)`);
  });

  it("after a rollback of the sid's credential, a live one it made earlier is kept rather than a new one created", () => {
    const earlier = comms();
    const snap = snapshot({ legacy: [legacy({ sid: S1 })], comms: [earlier], ledger: ledgerOf(ledgerEntry({ legacySid: S1, state: "deleted", createdIds: [earlier.id, "comms_credential_rolled_back"] })) });
    const item = only(run(snap, mapping(entry({ sid: S1 })), secretsFor(S1)));
    expect([item.action, item.commsCredentialId]).toEqual(["already-migrated", earlier.id]);
    expect(item.warnings).toContain(`the ledger's latest credential for it is not in Comms, but ${earlier.id}, which cr2comms also created for it, is: ${earlier.id} is kept as its credential (nothing is created beside it)`);
  });

  it("an attempt with no recorded outcome is reconciled first, even when an earlier credential of the sid is live", () => {
    const earlier = comms();
    const ledger = ledgerOf(ledgerEntry({ legacySid: S1, state: "pending", createdIds: [earlier.id], lastAttempt: attempt() }));
    const item = only(run(snapshot({ legacy: [legacy({ sid: S1 })], comms: [earlier], ledger }), mapping(entry({ sid: S1 })), secretsFor(S1)));
    expect([item.action, item.reconcileFrom?.attemptId]).toEqual(["create", "att-1"]);
  });
});

describe("planner: a credential whose rollback delete took effect", () => {
  it("is created again, and the warning says a rollback deleted it", () => {
    const x = "comms_credential_rolled_back";
    const ledger = ledgerOf(ledgerEntry({ legacySid: S1, commsCredentialId: x, pendingDeletes: [x] }));
    const item = only(run(snapshot({ legacy: [legacy({ sid: S1 })], comms: [], ledger }), mapping(entry({ sid: S1 })), secretsFor(S1)));
    expect([item.action, item.recreate]).toEqual(["create", true]);
    expect(item.warnings).toContain(`was migrated as ${x}, which a rollback deleted (its delete was accepted and it is no longer listed); it will be created again`);
  });
});
