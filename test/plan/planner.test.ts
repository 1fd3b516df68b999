import { describe, expect, it } from "vitest";
import type { SecretResult } from "../../src/domain.js";
import { fingerprintObservation } from "../../src/plan/planfile.js";
import { plan, secretsNeeded } from "../../src/plan/planner.js";
import type { Mapping } from "../../src/mapping/types.js";
import { isBlocked, type Plan, type PlanItem, type Snapshot } from "../../src/plan/types.js";
import { NOW, comms, entry, legacy, ledgerEntry, ledgerOf, mapping, okSecret, secretsFor, sid, snapshot } from "./builders.js";

const S1 = sid(1);
const S2 = sid(2);
const S3 = sid(3);

function only(p: Plan): PlanItem {
  expect(p.items).toHaveLength(1);
  return p.items[0]!;
}

function run(snap: Snapshot, m: Mapping, secrets: ReadonlyMap<string, SecretResult>): Plan {
  return plan(snap, m, secrets, { now: NOW });
}

describe("plan: one item per legacy credential", () => {
  it("keeps snapshot order and gives every credential exactly one item", () => {
    const snap = snapshot({
      legacy: [
        legacy({ sid: S3, type: "gcm" }),
        legacy({ sid: S1 }),
        legacy({ sid: sid(4), type: "fcm" }),
        legacy({ sid: S2 }),
        legacy({ sid: sid(5), type: "apns2" }),
      ],
    });
    const m = mapping(entry({ sid: S1 }), entry({ sid: S2, skip: true }));
    const p = run(snap, m, secretsFor(S1));
    expect(p.items.map((i) => [i.legacySid, i.action])).toEqual([
      [S3, "drop"],
      [S1, "create"],
      [sid(4), "unmapped"],
      [S2, "skip"],
      [sid(5), "unmapped"],
    ]);
    expect(p.problems).toEqual([]);
    expect(p.generatedAt).toBe(NOW.toISOString());
    expect(p.mappingPath).toBe("/m/migration.yaml");
    expect(p.observedFingerprint).toBe(fingerprintObservation(snap, m, secretsFor(S1)));
  });

  it("copies the legacy facts into each item", () => {
    const item = only(run(snapshot({ legacy: [legacy({ sid: S1, friendlyName: "prod", sandbox: true })] }), mapping(), new Map()));
    expect(item).toMatchObject({ legacySid: S1, friendlyName: "prod", legacyType: "apn", sandbox: true, action: "unmapped" });
    expect(item.warnings.join(" ")).toMatch(/not in the mapping; it is not migrated/);
  });
});

describe("plan: actions without a ledger", () => {
  it("drops gcm with a warning, even when the mapping lists it", () => {
    const p = run(snapshot({ legacy: [legacy({ sid: S1, type: "gcm" })] }), mapping(entry({ sid: S1 })), new Map());
    const item = only(p);
    expect(item.action).toBe("drop");
    expect(item.warnings.join(" ")).toMatch(/gcm credential: GCM was shut down/);
    expect(item.problems).toEqual([]);
    expect(isBlocked(p)).toBe(false);
  });

  it("leaves an unknown legacy type unmapped, and blocks it when mapped", () => {
    const unmapped = only(run(snapshot({ legacy: [legacy({ sid: S1, type: "apns2" })] }), mapping(), new Map()));
    expect(unmapped.action).toBe("unmapped");
    expect(unmapped.warnings.join(" ")).toMatch(/apns2/);

    const mapped = only(run(snapshot({ legacy: [legacy({ sid: S1, type: "apns2" })] }), mapping(entry({ sid: S1 })), new Map()));
    expect(mapped.action).toBe("blocked");
    expect(mapped.problems.join(" ")).toMatch(/apns2/);
  });

  it("skips a skip: true entry without asking for a secret", () => {
    const item = only(run(snapshot({ legacy: [legacy({ sid: S1 })] }), mapping(entry({ sid: S1, skip: true })), new Map()));
    expect(item.action).toBe("skip");
    expect(item.problems).toEqual([]);
  });

  it("blocks on mapper problems", () => {
    const item = only(run(snapshot({ legacy: [legacy({ sid: S1 })] }), mapping(entry({ sid: S1, credentialType: "FCM" })), secretsFor(S1)));
    expect(item.action).toBe("blocked");
    expect(item.problems.join(" ")).toMatch(/not valid for a legacy apn/);
  });

  it("creates with the mapped target, the secret fingerprint and the secret's warnings", () => {
    const secret: SecretResult = { ...okSecret(S1), warnings: ["certificate expires in 12 days"] };
    const item = only(
      run(snapshot({ legacy: [legacy({ sid: S1, sandbox: true })] }), mapping(entry({ sid: S1, isDefault: true })), new Map([[S1, secret]])),
    );
    expect(item).toMatchObject({
      action: "create",
      target: { appName: "app_ios", credentialType: "APN_SANDBOX", isDefault: true },
      secret: { contentSha256: `sha-${S1}-v1` },
    });
    expect(item.warnings).toContain("certificate expires in 12 days");
    expect(item.recreate).toBeUndefined();
    expect(item.reconcileFrom).toBeUndefined();
    expect(item.commsCredentialId).toBeUndefined();
  });

  it("blocks a create whose secret has problems, keeping the known fingerprint", () => {
    const fingerprint = { kind: "apn" as const, contentSha256: "abc", subject: "CN=expired" };
    const bad: SecretResult = { fingerprint, warnings: ["w"], problems: ["certificate expired on 2024-01-01"] };
    const item = only(run(snapshot({ legacy: [legacy({ sid: S1 })] }), mapping(entry({ sid: S1 })), new Map([[S1, bad]])));
    expect(item.action).toBe("blocked");
    expect(item.problems).toEqual(["certificate expired on 2024-01-01"]);
    expect(item.secret).toEqual(fingerprint);
    expect(item.warnings).toContain("w");
  });

  it("blocks a create with no secret result", () => {
    const item = only(run(snapshot({ legacy: [legacy({ sid: S1 })] }), mapping(entry({ sid: S1 })), new Map()));
    expect(item.action).toBe("blocked");
    expect(item.problems.join(" ")).toMatch(/no secret resolved/);
  });
});

describe("plan: ledger and live Comms", () => {
  const live = comms({ appName: "app_ios", credentialType: "APN" });

  it.each(["confirmed", "accepted", "unconfirmed"] as const)("is already-migrated when the ledger is %s and the id is listed", (state) => {
    const snap = snapshot({ legacy: [legacy({ sid: S1 })], comms: [live], ledger: ledgerOf(ledgerEntry({ legacySid: S1, state, commsCredentialId: live.id })) });
    const item = only(run(snap, mapping(entry({ sid: S1 })), new Map()));
    expect(item.action).toBe("already-migrated");
    expect(item.commsCredentialId).toBe(live.id);
    expect(item.problems).toEqual([]);
  });

  it("plans update-default when the entry wants the default and the live credential is not", () => {
    const snap = snapshot({ legacy: [legacy({ sid: S1 })], comms: [live], ledger: ledgerOf(ledgerEntry({ legacySid: S1, commsCredentialId: live.id })) });
    const item = only(run(snap, mapping(entry({ sid: S1, isDefault: true })), new Map()));
    expect(item.action).toBe("update-default");
    expect(item.commsCredentialId).toBe(live.id);
    expect(item.target).toEqual({ appName: "app_ios", credentialType: "APN", isDefault: true });

    const already = comms({ isDefault: true });
    const snap2 = snapshot({ legacy: [legacy({ sid: S1 })], comms: [already], ledger: ledgerOf(ledgerEntry({ legacySid: S1, commsCredentialId: already.id })) });
    expect(only(run(snap2, mapping(entry({ sid: S1, isDefault: true })), new Map())).action).toBe("already-migrated");
  });

  it("keeps a credential the mapping now puts elsewhere, with a warning", () => {
    const snap = snapshot({ legacy: [legacy({ sid: S1 })], comms: [live], ledger: ledgerOf(ledgerEntry({ legacySid: S1, commsCredentialId: live.id })) });
    const item = only(run(snap, mapping(entry({ sid: S1, appName: "other_app" })), new Map()));
    expect(item.action).toBe("already-migrated");
    expect(item.target?.appName).toBe("app_ios");
    expect(item.warnings.join(" ")).toMatch(/mapping now says other_app APN.*rollback, then apply/);
  });

  it("does not take a differing content digest alone for a renewal (rotation is judged by the certificate; see rotation.test.ts)", () => {
    const recorded = okSecret(S1, "old").fingerprint!;
    const snap = snapshot({
      legacy: [legacy({ sid: S1 })],
      comms: [live],
      ledger: ledgerOf(ledgerEntry({ legacySid: S1, commsCredentialId: live.id, secret: recorded })),
    });
    const m = mapping(entry({ sid: S1 }));
    const reencoded = only(run(snap, m, new Map([[S1, okSecret(S1, "new")]])));
    expect(reencoded.action).toBe("already-migrated");
    expect(reencoded.warnings.join(" ")).toMatch(/rotation can't be detected.*apply --replace/);
    // With no secret resolved, the ledger's fingerprint is reported.
    expect(only(run(snap, m, new Map())).secret).toEqual(recorded);
  });

  it("recreates a confirmed credential that is gone from Comms", () => {
    const snap = snapshot({ legacy: [legacy({ sid: S1 })], ledger: ledgerOf(ledgerEntry({ legacySid: S1, commsCredentialId: "comms_credential_gone" })) });
    const item = only(run(snap, mapping(entry({ sid: S1 })), secretsFor(S1)));
    expect(item.action).toBe("create");
    expect(item.recreate).toBe(true);
    expect(item.warnings).toContain(`was migrated as comms_credential_gone but no longer exists in Comms; it will be recreated`);
  });

  it.each(["accepted", "unconfirmed"] as const)("waits for an %s credential that is not listed yet instead of creating another", (state) => {
    const attempt = { attemptId: "att-1", startedAt: "2025-05-31T00:00:00.000Z", appName: "app_ios", credentialType: "APN" as const };
    const snap = snapshot({
      legacy: [legacy({ sid: S1 })],
      ledger: ledgerOf(ledgerEntry({ legacySid: S1, state, commsCredentialId: "comms_credential_late", lastAttempt: attempt })),
    });
    const item = only(run(snap, mapping(entry({ sid: S1 })), secretsFor(S1)));
    expect(item.action).toBe("create");
    expect(item.commsCredentialId).toBe("comms_credential_late");
    expect(item.reconcileFrom).toEqual({ attemptId: "att-1", startedAt: attempt.startedAt, appName: attempt.appName, credentialType: attempt.credentialType });
    expect(item.recreate).toBeUndefined();
  });

  it.each(["failed", "deleted"] as const)("creates again when the ledger is %s", (state) => {
    const snap = snapshot({ legacy: [legacy({ sid: S1 })], comms: [live], ledger: ledgerOf(ledgerEntry({ legacySid: S1, state })) });
    const item = only(run(snap, mapping(entry({ sid: S1 })), secretsFor(S1)));
    expect(item.action).toBe("create");
    expect(item.reconcileFrom).toBeUndefined();
    expect(item.recreate).toBeUndefined();
  });
});

describe("plan: pending attempts (no recorded outcome)", () => {
  const startedAt = "2025-06-01T10:00:00.000Z";
  const pending = (legacySid: string, attemptId: string) =>
    ledgerEntry({ legacySid, state: "pending", lastAttempt: { attemptId, startedAt, appName: "app_ios", credentialType: "APN" } });

  it("adopts the one credential that can be the attempt's result", () => {
    const claimed = comms({ createdAt: "2025-06-01T10:00:01.000Z" });
    const wrongType = comms({ credentialType: "APN_SANDBOX", createdAt: "2025-06-01T10:00:02.000Z" });
    const tooOld = comms({ createdAt: "2025-06-01T09:59:29.000Z" }); // 31 s before: someone else's
    const prior = comms({ createdAt: "2025-06-01T09:59:50.000Z" }); // existed when the attempt's run observed
    const tooLate = comms({ createdAt: "2025-06-01T10:01:01.000Z" }); // after request timeout + skew
    const mine = comms({ createdAt: "2025-06-01T09:59:55.000Z" }); // within the clock-skew allowance
    const attempt1 = pending(S1, "att-1");
    attempt1.lastAttempt!.priorIds = [prior.id];
    const snap = snapshot({
      legacy: [legacy({ sid: S1 }), legacy({ sid: S2 })],
      comms: [claimed, wrongType, tooOld, prior, tooLate, mine],
      ledger: ledgerOf(attempt1, ledgerEntry({ legacySid: S2, commsCredentialId: claimed.id })),
    });
    const item = run(snap, mapping(entry({ sid: S1 }), entry({ sid: S2 })), secretsFor(S1, S2)).items[0]!;
    expect(item.action).toBe("already-migrated");
    expect(item.commsCredentialId).toBe(mine.id);
    expect(item.reconcileFrom).toMatchObject({ attemptId: "att-1", startedAt, appName: "app_ios", credentialType: "APN", priorIds: [prior.id] });
    expect(item.warnings.join(" ")).toMatch(new RegExp(`${mine.id} found in Comms was adopted`));
  });

  it("blocks instead of guessing when several credentials could be the attempt's result", () => {
    const a = comms({ createdAt: "2025-06-01T10:00:01.000Z" });
    const b = comms({ createdAt: "2025-06-01T10:00:20.000Z" });
    const snap = snapshot({ legacy: [legacy({ sid: S1 })], comms: [a, b], ledger: ledgerOf(pending(S1, "att-1")) });
    const item = only(run(snap, mapping(entry({ sid: S1 })), secretsFor(S1)));
    expect(item.action).toBe("blocked");
    expect(item.problems.join(" ")).toContain(a.id);
    expect(item.problems.join(" ")).toContain(b.id);
  });

  it("an attempt whose loss was noticed cannot have created anything afterwards", () => {
    const late = comms({ createdAt: "2025-06-01T10:00:45.000Z" });
    const attempt = pending(S1, "att-1");
    attempt.lastAttempt!.unknownAt = "2025-06-01T10:00:05.000Z"; // + 30 s skew = 10:00:35
    const snap = snapshot({ legacy: [legacy({ sid: S1 })], comms: [late], ledger: ledgerOf(attempt) });
    const item = only(run(snap, mapping(entry({ sid: S1 })), secretsFor(S1)));
    expect(item.action).toBe("create");
    expect(item.reconcileFrom).toMatchObject({ attemptId: "att-1", unknownAt: "2025-06-01T10:00:05.000Z" });
  });

  it("a sid whose own earlier credential is live is not created again, even with a newer attempt pending", () => {
    const mine = comms({ createdAt: "2025-05-01T00:00:00.000Z" });
    const entry1 = pending(S1, "att-2");
    entry1.commsCredentialId = mine.id;
    entry1.createdIds = [mine.id];
    const snap = snapshot({ legacy: [legacy({ sid: S1 })], comms: [mine], ledger: ledgerOf(entry1) });
    const item = only(run(snap, mapping(entry({ sid: S1 })), secretsFor(S1)));
    expect(item).toMatchObject({ action: "already-migrated", commsCredentialId: mine.id });
  });

  it("records what a lost create made even when the sid is no longer migrated", () => {
    const made = comms({ createdAt: "2025-06-01T10:00:01.000Z" });
    const snap = snapshot({ legacy: [legacy({ sid: S1 })], comms: [made], ledger: ledgerOf(pending(S1, "att-1")) });
    const item = only(run(snap, mapping(entry({ sid: S1, skip: true })), secretsFor(S1)));
    expect(item).toMatchObject({ action: "skip", commsCredentialId: made.id, reconcileFrom: { attemptId: "att-1" } });
    expect(item.warnings.join(" ")).toMatch(/recorded in the ledger/);
  });

  it("never lets two pending attempts adopt the same credential", () => {
    const only1 = comms({ createdAt: "2025-06-01T10:00:01.000Z" });
    const snap = snapshot({ legacy: [legacy({ sid: S1 }), legacy({ sid: S2 })], comms: [only1], ledger: ledgerOf(pending(S1, "a"), pending(S2, "b")) });
    const [a, b] = run(snap, mapping(entry({ sid: S1 }), entry({ sid: S2 })), secretsFor(S1, S2)).items;
    // A lone new credential inside both attempts' windows could be either's: neither takes it.
    expect(a).toMatchObject({ action: "blocked" });
    expect(b).toMatchObject({ action: "blocked" });
    expect(a!.problems.join(" ")).toContain(`${only1.id} could be the result of this attempt or of another create`);
    expect(a!.commsCredentialId).toBeUndefined();
    expect(b!.commsCredentialId).toBeUndefined();
  });

  it("adopts for one pending attempt when the other's window does not reach the credential", () => {
    const later = comms({ createdAt: "2025-06-01T10:30:00.000Z" });
    const late = { ...pending(S2, "b"), lastAttempt: { ...pending(S2, "b").lastAttempt!, startedAt: "2025-06-01T10:30:00.000Z" } };
    const snap = snapshot({ legacy: [legacy({ sid: S1 }), legacy({ sid: S2 })], comms: [later], ledger: ledgerOf(pending(S1, "a"), late) });
    const [a, b] = run(snap, mapping(entry({ sid: S1 }), entry({ sid: S2 })), secretsFor(S1, S2)).items;
    expect(a).toMatchObject({ action: "create", reconcileFrom: { attemptId: "a" } });
    expect(b).toMatchObject({ action: "already-migrated", commsCredentialId: later.id });
  });

  it("creates with reconcileFrom when nothing matches", () => {
    const snap = snapshot({ legacy: [legacy({ sid: S1 })], comms: [comms({ createdAt: "2025-01-01T00:00:00.000Z" })], ledger: ledgerOf(pending(S1, "att-9")) });
    const item = only(run(snap, mapping(entry({ sid: S1 })), secretsFor(S1)));
    expect(item.action).toBe("create");
    expect(item.reconcileFrom).toEqual({ attemptId: "att-9", startedAt, appName: "app_ios", credentialType: "APN" });
  });
});

describe("plan: mapping-level rules", () => {
  it("reports a mapped sid missing from the account, naming it and its index; skip only warns", () => {
    const p = run(snapshot({ legacy: [legacy({ sid: S1 })] }), mapping(entry({ sid: S1 }), entry({ sid: S2 }), entry({ sid: S3, skip: true })), secretsFor(S1));
    expect(p.problems).toHaveLength(1);
    expect(p.problems[0]).toContain(S2);
    expect(p.problems[0]).toContain("mapping entry #2:");
    expect(p.warnings.join(" ")).toContain(S3);
    expect(isBlocked(p)).toBe(true);
    expect(p.items.map((i) => i.legacySid)).toEqual([S1]);
  });

  it("blocks a sid listed twice and reports it", () => {
    const p = run(snapshot({ legacy: [legacy({ sid: S1 })] }), mapping(entry({ sid: S1 }), entry({ sid: S1, appName: "b" })), secretsFor(S1));
    expect(p.problems.join(" ")).toMatch(new RegExp(`${S1} is listed 2 times`));
    expect(only(p).action).toBe("blocked");
    expect(secretsNeeded(snapshot({ legacy: [legacy({ sid: S1 })] }), mapping(entry({ sid: S1 }), entry({ sid: S1 })))).toEqual([]);
  });

  it("blocks every item that claims the default of one (appName, credentialType), naming the others", () => {
    const snap = snapshot({ legacy: [legacy({ sid: S1 }), legacy({ sid: S2 }), legacy({ sid: S3, sandbox: true })] });
    const m = mapping(entry({ sid: S1, isDefault: true }), entry({ sid: S2, isDefault: true }), entry({ sid: S3, isDefault: true }));
    const [a, b, c] = run(snap, m, secretsFor(S1, S2, S3)).items;
    expect(a!.action).toBe("blocked");
    expect(a!.problems.join(" ")).toContain(S2);
    expect(b!.action).toBe("blocked");
    expect(b!.problems.join(" ")).toContain(S1);
    // S3 is APN_SANDBOX: a different pair, so its default is fine.
    expect(c!.action).toBe("create");
  });

  it("counts an already-migrated default against a new one", () => {
    const live = comms({ isDefault: true });
    const snap = snapshot({
      legacy: [legacy({ sid: S1 }), legacy({ sid: S2 })],
      comms: [live],
      ledger: ledgerOf(ledgerEntry({ legacySid: S1, commsCredentialId: live.id })),
    });
    const items = run(snap, mapping(entry({ sid: S1, isDefault: true }), entry({ sid: S2, isDefault: true })), secretsFor(S2)).items;
    expect(items.map((i) => i.action)).toEqual(["blocked", "blocked"]);
  });

  it("warns when creating into an App that has credentials of that type cr2comms did not create", () => {
    const foreign = [comms(), comms(), comms({ credentialType: "FCM" })];
    const item = only(run(snapshot({ legacy: [legacy({ sid: S1 })], comms: foreign }), mapping(entry({ sid: S1 })), secretsFor(S1)));
    expect(item.action).toBe("create");
    expect(item.warnings).toContain("App app_ios already has 2 APN credential(s) not created by cr2comms");

    const ours = comms();
    const snap = snapshot({ legacy: [legacy({ sid: S1 }), legacy({ sid: S2 })], comms: [ours], ledger: ledgerOf(ledgerEntry({ legacySid: S2, commsCredentialId: ours.id })) });
    const create = run(snap, mapping(entry({ sid: S1 }), entry({ sid: S2 })), secretsFor(S1)).items[0]!;
    expect(create.warnings.join(" ")).not.toMatch(/not created by cr2comms/);
  });
});

describe("plan: Comms limits", () => {
  const apps = (n: number) => Array.from({ length: n }, (_, i) => comms({ appName: `app_${i}` }));

  function creates(n: number, appName: (i: number) => string) {
    const sids = Array.from({ length: n }, (_, i) => sid(100 + i));
    return {
      legacy: sids.map((s) => legacy({ sid: s })),
      mapping: mapping(...sids.map((s, i) => entry({ sid: s, appName: appName(i) }))),
      secrets: secretsFor(...sids),
    };
  }

  it("allows a new App up to exactly 10 Apps and blocks the 11th", () => {
    const c = creates(2, (i) => `new_${i}`);
    const nine = run(snapshot({ legacy: c.legacy, comms: apps(8) }), c.mapping, c.secrets);
    expect(nine.items.map((i) => i.action)).toEqual(["create", "create"]);

    const eleven = run(snapshot({ legacy: c.legacy, comms: apps(9) }), c.mapping, c.secrets);
    expect(eleven.items.map((i) => i.action)).toEqual(["create", "blocked"]);
    expect(eleven.items[1]!.problems.join(" ")).toMatch(/limit of 10 Apps per account \(9 existing \+ 1 planned\)/);
  });

  it("counts new Apps from creates, and a create into an existing App needs no new App", () => {
    const c = creates(11, (i) => `new_${i}`);
    const p = run(snapshot({ legacy: c.legacy }), c.mapping, c.secrets);
    expect(p.items.filter((i) => i.action === "create")).toHaveLength(10);
    expect(p.items[10]!.action).toBe("blocked");

    const existingApp = creates(1, () => "app_0");
    expect(only(run(snapshot({ legacy: existingApp.legacy, comms: apps(10) }), existingApp.mapping, existingApp.secrets)).action).toBe("create");
  });

  it("does not count blocked items", () => {
    const c = creates(2, (i) => `new_${i}`);
    c.secrets.delete(sid(100)); // first one is blocked: no secret
    const p = run(snapshot({ legacy: c.legacy, comms: apps(9) }), c.mapping, c.secrets);
    expect(p.items.map((i) => i.action)).toEqual(["blocked", "create"]);
  });

  it("allows exactly 10 credentials per App and blocks the 11th", () => {
    const existing = Array.from({ length: 8 }, () => comms({ appName: "app_ios", credentialType: "APN_SANDBOX" }));
    const c = creates(3, () => "app_ios");
    const p = run(snapshot({ legacy: c.legacy, comms: existing }), c.mapping, c.secrets);
    expect(p.items.map((i) => i.action)).toEqual(["create", "create", "blocked"]);
    expect(p.items[2]!.problems.join(" ")).toMatch(/limit of 10 Credentials per App \(8 existing \+ 2 planned\)/);
  });
});

describe("secretsNeeded", () => {
  it("lists the entries whose item could be a create or a replacement, with the mapped type (the live one's when migrated)", () => {
    const live = comms();
    const snap = snapshot({
      legacy: [
        legacy({ sid: S1, sandbox: true }),
        legacy({ sid: S2, type: "fcm" }),
        legacy({ sid: S3 }),
        legacy({ sid: sid(4), type: "gcm" }),
        legacy({ sid: sid(5) }),
        legacy({ sid: sid(6) }),
        legacy({ sid: sid(7) }),
      ],
      comms: [live],
      ledger: ledgerOf(
        ledgerEntry({ legacySid: S3, commsCredentialId: live.id }),
        ledgerEntry({ legacySid: sid(6), commsCredentialId: "comms_credential_gone" }),
      ),
    });
    const m = mapping(
      entry({ sid: S1 }),
      entry({ sid: S2, appName: "app_android" }),
      entry({ sid: S3 }), // confirmed and present: checked for a renewed secret
      entry({ sid: sid(4) }), // gcm
      entry({ sid: sid(5), skip: true }),
      entry({ sid: sid(6) }), // confirmed but gone: recreate
      entry({ sid: sid(7), credentialType: "FCM" }), // mapper problem
      entry({ sid: sid(9) }), // not in the account
    );
    expect(secretsNeeded(snap, m).map(({ entry, target }) => [entry.sid, target])).toEqual([
      [S1, "APN_SANDBOX"],
      [S2, "FCM"],
      [S3, "APN"],
      [sid(6), "APN"],
    ]);
  });
});
