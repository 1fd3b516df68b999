import { describe, expect, it } from "vitest";
import type { SecretFingerprint, SecretResult } from "../../src/domain.js";
import { MAX_APPS_PER_ACCOUNT } from "../../src/limits.js";
import { compareSecrets, plan, secretsNeeded } from "../../src/plan/planner.js";
import { NOW, comms, entry, legacy, ledgerEntry, ledgerOf, mapping, secretsFor, sid, snapshot } from "./builders.js";

const S1 = sid(1);
const S2 = sid(2);
const S3 = sid(3);

function apn(cert: string | undefined, content = `content-${cert}`): SecretFingerprint {
  return { kind: "apn", contentSha256: content, ...(cert ? { certSha256: cert } : {}), subject: "CN=x" };
}
function fcm(over: Partial<SecretFingerprint> = {}): SecretFingerprint {
  return { kind: "fcm", contentSha256: "c1", projectId: "proj", clientEmail: "a@proj.iam.gserviceaccount.com", keyId: "key-one-0123456789", ...over };
}
function valid(fp: SecretFingerprint, warnings: string[] = []): SecretResult {
  const secret = fp.kind === "apn" ? { kind: "apn" as const, certificatePem: "x", privateKeyPem: "y", fingerprint: fp } : { kind: "fcm" as const, serviceAccountJson: "{}", fingerprint: fp };
  return { secret, fingerprint: fp, warnings, problems: [] };
}
const run = (snap: Parameters<typeof plan>[0], m: Parameters<typeof plan>[1], secrets: Parameters<typeof plan>[2] = new Map(), replace?: string[]) =>
  plan(snap, m, secrets, { now: NOW, ...(replace ? { replace: new Set(replace) } : {}) });
const bySid = (p: ReturnType<typeof plan>, s: string) => p.items.find((i) => i.legacySid === s)!;

describe("plan: legacy-gone items describe the credential Comms keeps", () => {
  it("type and sandbox come from Comms; items are listed by sid; only the entry that lists a sid warns on it", () => {
    const fcmLive = comms({ credentialType: "FCM", appName: "app_android" });
    const sandboxLive = comms({ credentialType: "APN_SANDBOX" });
    const prodLive = comms({ credentialType: "APN" });
    const snap = snapshot({
      ledger: ledgerOf(
        ledgerEntry({ legacySid: S3, credentialType: "APN", commsCredentialId: prodLive.id }),
        ledgerEntry({ legacySid: S2, credentialType: "APN_SANDBOX", commsCredentialId: sandboxLive.id }),
        ledgerEntry({ legacySid: S1, appName: "app_android", credentialType: "FCM", commsCredentialId: fcmLive.id }),
      ),
      comms: [fcmLive, sandboxLive, prodLive],
    });
    const p = run(snap, mapping(entry({ sid: S2 })));
    expect(p.items.map((i) => [i.legacySid, i.action, i.legacyType, i.sandbox, i.commsCredentialId])).toEqual([
      [S1, "legacy-gone", "fcm", null, fcmLive.id],
      [S2, "legacy-gone", "apn", true, sandboxLive.id],
      [S3, "legacy-gone", "apn", false, prodLive.id],
    ]);
    expect(p.items.every((i) => i.problems.length === 0)).toBe(true);
    expect(bySid(p, S2).warnings.join(" ")).toMatch(/mapping entry #1 still lists it/);
    expect(bySid(p, S1).warnings.join(" ")).not.toMatch(/still lists it/);
    expect(bySid(p, S3).warnings.join(" ")).not.toMatch(/still lists it/);
  });

  it("--replace of a legacy-gone sid is refused with the reason; a blocked item is not also reported as nothing to replace", () => {
    const live = comms();
    const snap = snapshot({ legacy: [legacy({ sid: S2 })], comms: [live], ledger: ledgerOf(ledgerEntry({ legacySid: S1, commsCredentialId: live.id })) });
    const p = run(snap, mapping(entry({ sid: S2, credentialType: "FCM" })), new Map(), [S1, S2, sid(9)]);
    expect(bySid(p, S2).action).toBe("blocked");
    expect(p.problems).toEqual([
      `--replace ${S1}: nothing to replace: its legacy credential no longer exists; its Comms credential is kept as is`,
      `--replace ${sid(9)}: nothing to replace: no such legacy credential in this account`,
    ]);
  });
});

describe("plan: renewal checks of a migrated credential", () => {
  const migrated = (fp: SecretFingerprint | undefined, over: { isDefault?: boolean; type?: "APN" | "FCM" } = {}) => {
    const type = over.type ?? "APN";
    const live = comms({ isDefault: over.isDefault ?? false, credentialType: type, appName: type === "FCM" ? "app_android" : "app_ios" });
    const snap = snapshot({
      legacy: [legacy({ sid: S1, type: type === "FCM" ? "fcm" : "apn" })],
      comms: [live],
      ledger: ledgerOf(ledgerEntry({ legacySid: S1, appName: live.appName, credentialType: type, commsCredentialId: live.id, ...(fp ? { secret: fp, secretById: { [live.id]: fp } } : {}) })),
    });
    return { live, snap, m: (isDefault?: boolean) => mapping(entry({ sid: S1, appName: live.appName, ...(isDefault !== undefined ? { isDefault } : {}) })) };
  };

  it("the same secret stays already-migrated and still carries the secret's own warnings (expiry)", () => {
    const { snap, m } = migrated(apn("a"));
    const item = run(snap, m(), new Map([[S1, valid(apn("a"), ["the certificate expires on 2025-06-20 (in 19 days); renew it soon"])]])).items[0]!;
    expect(item.action).toBe("already-migrated");
    expect(item.warnings.filter((w) => w === "the certificate expires on 2025-06-20 (in 19 days); renew it soon")).toHaveLength(1);
  });

  it("an invalid secret (no fingerprint at all) is a warning, not a crash nor a replace", () => {
    const { snap, m, live } = migrated(apn("a"));
    const item = run(snap, m(), new Map([[S1, { warnings: [], problems: [] }]])).items[0]!;
    expect(item).toMatchObject({ action: "already-migrated", commsCredentialId: live.id });
    expect(item.warnings.join(" ")).toMatch(/could not check whether its secret was renewed: the secret did not validate/);
  });

  it("names what the recorded fingerprint lacks: the certificate digest for APN, the key id for FCM", () => {
    const a = migrated(apn(undefined, "old-bytes"));
    const apnItem = run(a.snap, a.m(), new Map([[S1, valid(apn("new"))]])).items[0]!;
    expect(apnItem.action).toBe("already-migrated");
    expect(apnItem.warnings.join(" ")).toMatch(new RegExp(`lacks the certificate digest; \`apply --replace ${S1}\``));

    const f = migrated(fcm({ keyId: undefined }), { type: "FCM" });
    const fcmItem = run(f.snap, f.m(), new Map([[S1, valid(fcm({ contentSha256: "c2" }))]])).items[0]!;
    expect(fcmItem.action).toBe("already-migrated");
    expect(fcmItem.warnings.join(" ")).toMatch(new RegExp(`lacks the key id; \`apply --replace ${S1}\``));
  });

  it("a renewed FCM key is described by project and key id, never by secret content", () => {
    const f = migrated(fcm(), { type: "FCM" });
    const item = run(f.snap, f.m(), new Map([[S1, valid(fcm({ contentSha256: "c2", keyId: "key-two-0123456789" }))]])).items[0]!;
    expect(item.action).toBe("replace");
    expect(item.warnings.join(" ")).toContain(`its secret was renewed (project proj, key key-one-0123… → project proj, key key-two-0123…): a new credential is created, then ${f.live.id} is deleted`);
  });

  it("a renewed APN certificate without a digest or expiry on record is described as a certificate; a service account with neither as such", () => {
    const a = migrated(apn(undefined, "old-bytes"));
    // The kind changed: a renewal whatever else is recorded.
    const item = run(a.snap, a.m(), new Map([[S1, valid(fcm({ projectId: undefined, keyId: undefined, contentSha256: "c9" }))]])).items[0]!;
    expect(item.action).toBe("replace");
    expect(item.warnings.join(" ")).toMatch(/its secret was renewed \(certificate → service account\)/);
  });

  it("a forced replacement says whether the new credential becomes the default", () => {
    const plain = migrated(apn("a"));
    const notDefault = run(plain.snap, plain.m(), new Map([[S1, valid(apn("a"))]]), [S1]).items[0]!;
    expect(notDefault.action).toBe("replace");
    expect(notDefault.warnings).toContain(`replacement forced (--replace): a new credential is created, then ${plain.live.id} is deleted`);

    const wanted = run(plain.snap, plain.m(true), new Map([[S1, valid(apn("a"))]]), [S1]).items[0]!;
    expect(wanted.warnings).toContain(`replacement forced (--replace): a new credential is created and made the default, then ${plain.live.id} is deleted`);

    const wasDefault = migrated(apn("a"), { isDefault: true });
    const kept = run(wasDefault.snap, wasDefault.m(), new Map([[S1, valid(apn("a"))]]), [S1]).items[0]!;
    expect(kept.warnings).toContain(`replacement forced (--replace): a new credential is created and made the default, then ${wasDefault.live.id} is deleted`);
  });

  it("a renewal into a non-default App slot is not announced as a new default", () => {
    const plain = migrated(apn("a"));
    const item = run(plain.snap, plain.m(), new Map([[S1, valid(apn("b"))]])).items[0]!;
    expect(item.warnings.join(" ")).toMatch(new RegExp(`: a new credential is created, then ${plain.live.id} is deleted`));
  });

  it("--replace with no secret resolved is blocked for the missing secret, not ignored", () => {
    const { snap, m } = migrated(apn("a"));
    const p = run(snap, m(), new Map(), [S1]);
    expect(p.items[0]).toMatchObject({ action: "blocked", problems: ["no secret resolved"] });
    expect(p.problems).toEqual([]);
  });
});

describe("plan: carrying on an unfinished replacement", () => {
  const attemptAt = "2025-06-01T11:00:00.000Z";
  const attempt = (attemptId: string, priorIds: string[]) => ({ attemptId, startedAt: attemptAt, unknownAt: "2025-06-01T11:00:05.000Z", appName: "app_old", credentialType: "APN_SANDBOX" as const, priorIds });

  it("an older ledger line without App and type: the replacement stays where the old credential is", () => {
    const old = comms({ appName: "app_old", credentialType: "APN_SANDBOX" });
    const e = ledgerEntry({ legacySid: S1, appName: undefined, credentialType: undefined, commsCredentialId: old.id, secretById: { [old.id]: apn("old") }, replacing: { oldId: old.id, attemptId: "a1", oldWasDefault: false, oldState: "confirmed" } });
    const item = run(snapshot({ legacy: [legacy({ sid: S1 })], comms: [old], ledger: ledgerOf(e) }), mapping(entry({ sid: S1 })), secretsFor(S1)).items[0]!;
    expect(item).toMatchObject({ action: "replace", target: { appName: "app_old", credentialType: "APN_SANDBOX" }, replace: { oldId: old.id, oldSecret: { certSha256: "old" } } });
    // The old one is gone too: the mapping says where.
    const gone = run(snapshot({ legacy: [legacy({ sid: S1 })], comms: [], ledger: ledgerOf(e) }), mapping(entry({ sid: S1 })), secretsFor(S1)).items[0]!;
    expect(gone.target).toMatchObject({ appName: "app_ios", credentialType: "APN" });
  });

  it("the new credential already made keeps the new secret's fingerprint; not yet listed, it is marked so", () => {
    const old = comms({ appName: "app_old", credentialType: "APN_SANDBOX" });
    const e = ledgerEntry({
      legacySid: S1,
      appName: "app_old",
      credentialType: "APN_SANDBOX",
      state: "accepted",
      commsCredentialId: "comms_credential_new",
      lastAttempt: attempt("a1", [old.id]),
      replacing: { oldId: old.id, attemptId: "a1", oldWasDefault: true, newId: "comms_credential_new", oldState: "confirmed", secret: apn("new") },
    });
    const item = run(snapshot({ legacy: [legacy({ sid: S1 })], comms: [old], ledger: ledgerOf(e) }), mapping(entry({ sid: S1 })), new Map()).items[0]!;
    expect(item).toMatchObject({ action: "replace", commsCredentialId: "comms_credential_new", secret: { certSha256: "new" }, replace: { newId: "comms_credential_new", newVisible: false }, reconcileFrom: { attemptId: "a1" } });
    expect(item.liveDefault).toBeUndefined();
    expect(item.problems).toEqual([]);

    const fresh = comms({ id: "comms_credential_new", appName: "app_old", credentialType: "APN_SANDBOX", isDefault: true });
    const visible = run(snapshot({ legacy: [legacy({ sid: S1 })], comms: [old, fresh], ledger: ledgerOf(e) }), mapping(entry({ sid: S1 })), new Map()).items[0]!;
    expect(visible).toMatchObject({ replace: { newVisible: true }, liveDefault: true });
  });

  it("no new credential yet and no attempt outcome to look for: it must create, so it needs the secret", () => {
    const old = comms({ appName: "app_old", credentialType: "APN_SANDBOX" });
    const e = ledgerEntry({ legacySid: S1, appName: "app_old", credentialType: "APN_SANDBOX", commsCredentialId: old.id, replacing: { oldId: old.id, attemptId: "a1", oldWasDefault: false, oldState: "confirmed" } });
    const snap = snapshot({ legacy: [legacy({ sid: S1 })], comms: [old], ledger: ledgerOf(e) });
    expect(run(snap, mapping(entry({ sid: S1 })), new Map()).items[0]).toMatchObject({ action: "blocked", problems: ["no secret resolved"] });
    const ok = run(snap, mapping(entry({ sid: S1 })), secretsFor(S1)).items[0]!;
    expect(ok.action).toBe("replace");
    expect(ok.replace!.newId).toBeUndefined();
  });

  it("only the replacement's own lost create is reconciled: another attempt, or one with an outcome, adopts nothing", () => {
    const old = comms({ appName: "app_old", credentialType: "APN_SANDBOX", createdAt: "2025-05-01T00:00:00.000Z" });
    const candidate = comms({ appName: "app_old", credentialType: "APN_SANDBOX", createdAt: "2025-06-01T11:00:01.000Z" });
    const base = { legacySid: S1, appName: "app_old", credentialType: "APN_SANDBOX" as const, commsCredentialId: old.id, createdIds: [old.id] };
    const replacing = { oldId: old.id, attemptId: "a1", oldWasDefault: false, oldState: "confirmed" as const };
    const snapOf = (e: ReturnType<typeof ledgerEntry>) => snapshot({ legacy: [legacy({ sid: S1 })], comms: [old, candidate], ledger: ledgerOf(e) });

    const otherAttempt = run(snapOf(ledgerEntry({ ...base, state: "pending", lastAttempt: attempt("a2", [old.id]), replacing })), mapping(entry({ sid: S1 })), secretsFor(S1)).items[0]!;
    expect(otherAttempt.action).toBe("replace");
    expect(otherAttempt.replace!.newId).toBeUndefined();
    expect(otherAttempt.commsCredentialId).toBeUndefined();

    const notPending = run(snapOf(ledgerEntry({ ...base, state: "failed", lastAttempt: attempt("a1", [old.id]), replacing })), mapping(entry({ sid: S1 })), secretsFor(S1)).items[0]!;
    expect(notPending.replace!.newId).toBeUndefined();
    expect(notPending.commsCredentialId).toBeUndefined();

    // Its own lost create with nothing in Comms yet: it is created (again), with the secret.
    const none = run(
      snapshot({ legacy: [legacy({ sid: S1 })], comms: [old], ledger: ledgerOf(ledgerEntry({ ...base, state: "pending", lastAttempt: attempt("a1", [old.id]), replacing })) }),
      mapping(entry({ sid: S1 })),
      secretsFor(S1),
    ).items[0]!;
    expect(none).toMatchObject({ action: "replace", reconcileFrom: { attemptId: "a1" } });
    expect(none.replace!.newId).toBeUndefined();
  });

  it("an ambiguous lost create is blocked once, for the ambiguity alone (no secret asked for)", () => {
    const old = comms({ appName: "app_old", credentialType: "APN_SANDBOX", createdAt: "2025-05-01T00:00:00.000Z" });
    const c1 = comms({ appName: "app_old", credentialType: "APN_SANDBOX", createdAt: "2025-06-01T11:00:01.000Z" });
    const c2 = comms({ appName: "app_old", credentialType: "APN_SANDBOX", createdAt: "2025-06-01T11:00:02.000Z" });
    const e = ledgerEntry({ legacySid: S1, appName: "app_old", credentialType: "APN_SANDBOX", state: "pending", commsCredentialId: old.id, lastAttempt: attempt("a1", [old.id]), replacing: { oldId: old.id, attemptId: "a1", oldWasDefault: false, oldState: "confirmed" } });
    const item = run(snapshot({ legacy: [legacy({ sid: S1 })], comms: [old, c1, c2], ledger: ledgerOf(e) }), mapping(entry({ sid: S1 })), new Map()).items[0]!;
    expect(item.action).toBe("blocked");
    expect(item.problems).toHaveLength(1);
    expect(item.problems[0]).toContain(`(${c1.id}, ${c2.id})`);
  });
});

describe("plan: lost creates of a plain create", () => {
  const startedAt = "2025-06-01T10:00:00.000Z";
  const attempt = (attemptId: string) => ({ attemptId, startedAt, unknownAt: "2025-06-01T10:00:05.000Z", appName: "app_ios", credentialType: "APN" as const });

  it("an adopted result needs no secret; an ambiguous one is blocked for the ambiguity alone", () => {
    const made = comms({ createdAt: "2025-06-01T10:00:01.000Z" });
    const e = ledgerEntry({ legacySid: S1, state: "pending", lastAttempt: attempt("a1") });
    const adopted = run(snapshot({ legacy: [legacy({ sid: S1 })], comms: [made], ledger: ledgerOf(e) }), mapping(entry({ sid: S1 })), new Map()).items[0]!;
    expect(adopted).toMatchObject({ action: "already-migrated", commsCredentialId: made.id, problems: [] });

    const twin = comms({ createdAt: "2025-06-01T10:00:02.000Z" });
    const ambiguous = run(snapshot({ legacy: [legacy({ sid: S1 })], comms: [made, twin], ledger: ledgerOf(e) }), mapping(entry({ sid: S1 })), new Map()).items[0]!;
    expect(ambiguous.action).toBe("blocked");
    expect(ambiguous.problems).toHaveLength(1);
    expect(ambiguous.problems[0]).toMatch(/an earlier create attempt \(a1\) has no recorded outcome and 2 new credentials/);
  });

  it("a mapped credential of an unknown legacy type is blocked for its type only", () => {
    const p = run(snapshot({ legacy: [legacy({ sid: S1, type: "apns2" })] }), mapping(entry({ sid: S1 })), new Map());
    expect(p.items[0]!.problems).toEqual([`mapped, but its legacy type "apns2" cannot be migrated`]);
  });

  it("a sid already live in Comms keeps its credential whatever its open attempt's window holds (update-default, replace)", () => {
    const mine = comms({ createdAt: "2025-05-01T00:00:00.000Z" });
    const other = comms({ createdAt: "2025-06-01T10:00:01.000Z" });
    const e = ledgerEntry({ legacySid: S1, state: "pending", commsCredentialId: mine.id, createdIds: [mine.id], lastAttempt: attempt("a2"), secretById: { [mine.id]: apn("old") } });
    const snap = snapshot({ legacy: [legacy({ sid: S1 })], comms: [mine, other], ledger: ledgerOf(e) });

    const toDefault = run(snap, mapping(entry({ sid: S1, isDefault: true })), new Map([[S1, valid(apn("old"))]])).items[0]!;
    expect(toDefault).toMatchObject({ action: "update-default", commsCredentialId: mine.id });
    expect(toDefault.warnings.join(" ")).not.toContain(other.id);

    const renewed = run(snap, mapping(entry({ sid: S1 })), new Map([[S1, valid(apn("new"))]])).items[0]!;
    expect(renewed).toMatchObject({ action: "replace", replace: { oldId: mine.id } });
    expect(renewed.commsCredentialId).toBeUndefined();
    expect(renewed.warnings.join(" ")).not.toContain(other.id);
  });

  it("an idle sid whose ledger says nothing is pending is left alone", () => {
    const late = comms({ createdAt: "2025-06-01T10:00:01.000Z" });
    const e = ledgerEntry({ legacySid: S1, state: "deleted", lastAttempt: attempt("a1") });
    const item = run(snapshot({ legacy: [legacy({ sid: S1 })], comms: [late], ledger: ledgerOf(e) }), mapping(entry({ sid: S1, skip: true })), new Map()).items[0]!;
    expect(item).toMatchObject({ action: "skip", warnings: [] });
    expect(item.commsCredentialId).toBeUndefined();
  });

  it("--clock-skew widens the window in which a lost create's result is looked for", () => {
    // Noticed lost at 10:00:05; the credential was stamped 2 minutes later by a Comms clock running ahead.
    const late = comms({ createdAt: "2025-06-01T10:02:05.000Z" });
    const e = ledgerEntry({ legacySid: S1, state: "pending", lastAttempt: attempt("a1") });
    const snap = snapshot({ legacy: [legacy({ sid: S1 })], comms: [late], ledger: ledgerOf(e) });
    expect(run(snap, mapping(entry({ sid: S1 })), secretsFor(S1)).items[0]!.action).toBe("create");
    const wide = plan(snap, mapping(entry({ sid: S1 })), secretsFor(S1), { now: NOW, clockSkewMs: 5 * 60_000 }).items[0]!;
    expect(wide).toMatchObject({ action: "already-migrated", commsCredentialId: late.id });
  });
});

describe("plan: a given-up attempt whose result surfaced late", () => {
  const abandoned = (attemptId: string, startedAt: string, unknownAt: string, priorIds: string[] = []) => ({ attemptId, startedAt, unknownAt, appName: "app_ios", credentialType: "APN" as const, priorIds });

  it("each given-up attempt's lone result is recorded for its sid as cr2comms's duplicate", () => {
    const mine = comms({ createdAt: "2025-05-01T00:00:00.000Z", isDefault: true });
    const first = comms({ createdAt: "2025-06-01T09:00:01.000Z" });
    const second = comms({ createdAt: "2025-06-01T10:00:01.000Z" });
    const e = ledgerEntry({
      legacySid: S1,
      commsCredentialId: mine.id,
      abandonedAttempts: [abandoned("ab-1", "2025-06-01T09:00:00.000Z", "2025-06-01T09:00:05.000Z", [mine.id]), abandoned("ab-2", "2025-06-01T10:00:00.000Z", "2025-06-01T10:00:05.000Z", [mine.id])],
    });
    const p = run(snapshot({ legacy: [legacy({ sid: S1 }), legacy({ sid: S2 })], comms: [mine, first, second], ledger: ledgerOf(e) }), mapping(entry({ sid: S1 }), entry({ sid: S2 })), secretsFor(S1, S2));
    const item = bySid(p, S1);
    expect(item.surfaced).toEqual([
      { attemptId: "ab-1", commsCredentialId: first.id },
      { attemptId: "ab-2", commsCredentialId: second.id },
    ]);
    expect(item.warnings.filter((w) => /appeared in Comms after the create attempt .* was given up/.test(w))).toHaveLength(2);
    expect(item.warnings.join(" ")).toMatch(new RegExp(`${first.id} appeared in Comms after the create attempt ab-1 was given up .*rollback can delete it`));
    // Claimed: no one else takes them, and the other sid's create does not call them foreign.
    expect(bySid(p, S2).surfaced).toBeUndefined();
    expect(bySid(p, S2).action).toBe("create");
    expect(bySid(p, S2).warnings.join(" ")).not.toMatch(/not created by cr2comms/);
  });
});

describe("plan: limits and warnings about other credentials", () => {
  it("two creates into the same App over the account limit count that App once", () => {
    const existing = Array.from({ length: MAX_APPS_PER_ACCOUNT }, (_, i) => comms({ appName: `old_${i}` }));
    const p = run(snapshot({ legacy: [legacy({ sid: S1 }), legacy({ sid: S2 })], comms: existing }), mapping(entry({ sid: S1, appName: "extra" }), entry({ sid: S2, appName: "extra" })), secretsFor(S1, S2));
    expect(p.items.map((i) => i.action)).toEqual(["blocked", "blocked"]);
    expect(p.accountProblems).toEqual([expect.stringMatching(new RegExp(`needs ${MAX_APPS_PER_ACCOUNT + 1} Apps but Comms allows ${MAX_APPS_PER_ACCOUNT}`))]);
  });

  it("replacements in one App take a free slot each: with one slot left, the second waits", () => {
    const a = comms();
    const b = comms();
    const fill = Array.from({ length: 7 }, () => comms());
    const snap = snapshot({
      legacy: [legacy({ sid: S1 }), legacy({ sid: S2 })],
      comms: [a, b, ...fill],
      ledger: ledgerOf(ledgerEntry({ legacySid: S1, commsCredentialId: a.id, secretById: { [a.id]: apn("a") } }), ledgerEntry({ legacySid: S2, commsCredentialId: b.id, secretById: { [b.id]: apn("b") } })),
    });
    const p = run(snap, mapping(entry({ sid: S1 }), entry({ sid: S2 })), new Map([[S1, valid(apn("a2"))], [S2, valid(apn("b2"))]]));
    expect(p.items.map((i) => i.action)).toEqual(["replace", "blocked"]);
    expect(p.items[1]!.problems[0]).toMatch(/holds 10 credentials \(with the planned creates\)/);
  });

  it("foreign credentials are counted only in the create's own App and type, and an adopted one is not foreign", () => {
    const elsewhere = comms({ appName: "app_other" });
    const otherType = comms({ credentialType: "APN_SANDBOX" });
    const p = run(snapshot({ legacy: [legacy({ sid: S1 })], comms: [elsewhere, otherType] }), mapping(entry({ sid: S1 })), secretsFor(S1));
    expect(p.items[0]!.action).toBe("create");
    expect(p.items[0]!.warnings.join(" ")).not.toMatch(/not created by cr2comms/);

    const made = comms({ createdAt: "2025-06-01T10:00:01.000Z" });
    const e = ledgerEntry({ legacySid: S1, state: "pending", lastAttempt: { attemptId: "a1", startedAt: "2025-06-01T10:00:00.000Z", unknownAt: "2025-06-01T10:00:05.000Z", appName: "app_ios", credentialType: "APN" } });
    const q = run(snapshot({ legacy: [legacy({ sid: S1 }), legacy({ sid: S2 })], comms: [made], ledger: ledgerOf(e) }), mapping(entry({ sid: S1 }), entry({ sid: S2 })), secretsFor(S1, S2));
    expect(bySid(q, S1)).toMatchObject({ action: "already-migrated", commsCredentialId: made.id });
    expect(bySid(q, S2).action).toBe("create");
    expect(bySid(q, S2).warnings.join(" ")).not.toMatch(/not created by cr2comms/);
  });

  it("three defaults for one App and type: each blocked item names the other two", () => {
    const m = mapping(entry({ sid: S1, isDefault: true }), entry({ sid: S2, isDefault: true }), entry({ sid: S3, isDefault: true }));
    const p = run(snapshot({ legacy: [legacy({ sid: S1 }), legacy({ sid: S2 }), legacy({ sid: S3 })] }), m, secretsFor(S1, S2, S3));
    expect(p.items[0]!.problems[0]).toBe(`isDefault: true is set for more than one credential of app_ios APN: also ${S2} (entry #2), ${S3} (entry #3)`);
  });

  it("one certificate mapped to three Apps: each names the two others", () => {
    const shared = valid(apn("same"));
    const m = mapping(entry({ sid: S1, appName: "a" }), entry({ sid: S2, appName: "b" }), entry({ sid: S3, appName: "c" }));
    const p = run(snapshot({ legacy: [legacy({ sid: S1 }), legacy({ sid: S2 }), legacy({ sid: S3 })] }), m, new Map([[S1, shared], [S2, shared], [S3, shared]]));
    expect(p.items[0]!.warnings).toContain(`the same certificate is also mapped to b (${S2}), c (${S3}); each App should have its own`);
  });
});

describe("plan: more of what the ledger and Comms say", () => {
  it("a duplicated mapping entry is blocked for the duplication alone", () => {
    const p = run(snapshot({ legacy: [legacy({ sid: S1 })] }), mapping(entry({ sid: S1 }), entry({ sid: S1 })), new Map());
    expect(p.items[0]!.problems).toEqual(["listed 2 times in the mapping (entries #1, #2)"]);
  });

  it("an accepted id whose ledger line lacks the App or type is waited for where the mapping says", () => {
    const e = ledgerEntry({ legacySid: S1, state: "accepted", appName: "old_app", credentialType: undefined, commsCredentialId: "comms_credential_accepted" });
    const item = run(snapshot({ legacy: [legacy({ sid: S1 })], ledger: ledgerOf(e) }), mapping(entry({ sid: S1 })), secretsFor(S1)).items[0]!;
    expect(item).toMatchObject({ action: "create", commsCredentialId: "comms_credential_accepted", target: { appName: "app_ios", credentialType: "APN" } });
  });

  it("a lost create re-sent after a 429 is reconciled from its last send", () => {
    const e = ledgerEntry({ legacySid: S1, state: "pending", lastAttempt: { attemptId: "a1", startedAt: "2025-06-01T10:00:00.000Z", lastSentAt: "2025-06-01T10:00:20.000Z", appName: "app_ios", credentialType: "APN" } });
    const item = run(snapshot({ legacy: [legacy({ sid: S1 })], ledger: ledgerOf(e) }), mapping(entry({ sid: S1 })), secretsFor(S1)).items[0]!;
    expect(item.reconcileFrom).toEqual({ attemptId: "a1", startedAt: "2025-06-01T10:00:00.000Z", lastSentAt: "2025-06-01T10:00:20.000Z", appName: "app_ios", credentialType: "APN" });
  });

  it("secretsNeeded validates a migrated credential's secret against the type it has in Comms", () => {
    const live = comms({ credentialType: "APN_SANDBOX" });
    const snap = snapshot({ legacy: [legacy({ sid: S1 })], comms: [live], ledger: ledgerOf(ledgerEntry({ legacySid: S1, credentialType: "APN_SANDBOX", commsCredentialId: live.id })) });
    expect(secretsNeeded(snap, mapping(entry({ sid: S1 }))).map((n) => n.target)).toEqual(["APN_SANDBOX"]);
  });

  it("FCM rotation: a project or client e-mail recorded on one side only decides nothing", () => {
    expect(compareSecrets(fcm({ projectId: undefined }), fcm({ contentSha256: "c2" }))).toBe("same");
    expect(compareSecrets(fcm(), fcm({ contentSha256: "c2", projectId: undefined }))).toBe("same");
    expect(compareSecrets(fcm({ clientEmail: undefined }), fcm({ contentSha256: "c2" }))).toBe("same");
    expect(compareSecrets(fcm(), fcm({ contentSha256: "c2", clientEmail: undefined }))).toBe("same");
    // A different project is a renewal even when a key id is missing.
    expect(compareSecrets(fcm({ keyId: undefined }), fcm({ contentSha256: "c2", projectId: "other" }))).toBe("renewed");
  });
});
