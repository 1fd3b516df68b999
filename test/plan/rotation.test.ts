import { describe, expect, it } from "vitest";
import type { SecretFingerprint, SecretResult } from "../../src/domain.js";
import { MAX_CREDENTIALS_PER_APP } from "../../src/limits.js";
import { compareSecrets, plan } from "../../src/plan/planner.js";
import { hasChanges } from "../../src/plan/types.js";
import { NOW, comms, entry, legacy, ledgerEntry, ledgerOf, mapping, sid, snapshot } from "./builders.js";

const S1 = sid(1);
const S2 = sid(2);

function apn(cert: string, content = `content-${cert}`): SecretFingerprint {
  return { kind: "apn", contentSha256: content, certSha256: cert, subject: "CN=x", notAfter: "2030-01-01T00:00:00.000Z", environment: "production" };
}
function fcm(over: Partial<SecretFingerprint> = {}): SecretFingerprint {
  return { kind: "fcm", contentSha256: "c1", projectId: "p", clientEmail: "a@p.iam.gserviceaccount.com", keyId: "k1", ...over };
}
function valid(fp: SecretFingerprint, warnings: string[] = []): SecretResult {
  const secret = fp.kind === "apn" ? { kind: "apn" as const, certificatePem: "x", privateKeyPem: "y", fingerprint: fp } : { kind: "fcm" as const, serviceAccountJson: "{}", fingerprint: fp };
  return { secret, fingerprint: fp, warnings, problems: [] };
}

describe("compareSecrets: renewal is judged by identity, not by content digest", () => {
  it("APN: by certificate SHA-256 only", () => {
    expect(compareSecrets(apn("a", "x"), apn("a", "y"))).toBe("same");
    expect(compareSecrets(apn("a"), apn("b"))).toBe("renewed");
    expect(compareSecrets({ kind: "apn", contentSha256: "x" }, apn("a"))).toBe("unknown");
    expect(compareSecrets({ kind: "apn", contentSha256: "content-a" }, apn("a"))).toBe("same");
    expect(compareSecrets(undefined, apn("a"))).toBe("unknown");
  });
  it("FCM: by key id, project and client e-mail; a re-saved key file is the same", () => {
    expect(compareSecrets(fcm(), fcm({ contentSha256: "c2" }))).toBe("same");
    expect(compareSecrets(fcm(), fcm({ contentSha256: "c2", keyId: "k2" }))).toBe("renewed");
    expect(compareSecrets(fcm(), fcm({ contentSha256: "c2", projectId: "q" }))).toBe("renewed");
    expect(compareSecrets(fcm({ keyId: undefined }), fcm({ contentSha256: "c2" }))).toBe("unknown");
    // Recorded before key ids were: the very same bytes are still the same secret.
    expect(compareSecrets(fcm({ keyId: undefined }), fcm())).toBe("same");
    expect(compareSecrets(fcm({ keyId: undefined }), fcm({ contentSha256: "c2", clientEmail: "b@p.iam.gserviceaccount.com" }))).toBe("renewed");
    expect(compareSecrets(apn("a"), fcm())).toBe("renewed");
  });
});

describe("plan: replace", () => {
  const live = comms({ isDefault: true });
  const migrated = (over = {}) =>
    snapshot({
      legacy: [legacy({ sid: S1 })],
      comms: [live],
      ledger: ledgerOf(ledgerEntry({ legacySid: S1, commsCredentialId: live.id, secret: apn("old"), secretById: { [live.id]: apn("old") }, ...over })),
    });

  it("a renewed certificate is a replace with the old and new fingerprints, and counts as a change", () => {
    const p = plan(migrated(), mapping(entry({ sid: S1 })), new Map([[S1, valid(apn("new"), ["the certificate expires on … (in 20 days); renew it soon"])]]), { now: NOW });
    const item = p.items[0]!;
    expect(item).toMatchObject({ action: "replace", replace: { oldId: live.id, oldWasDefault: true, oldSecret: { certSha256: "old" } }, secret: { certSha256: "new" } });
    expect(item.commsCredentialId).toBeUndefined();
    expect(item.warnings.join(" ")).toMatch(/secret was renewed .* made the default, then .* is deleted/);
    expect(item.warnings.join(" ")).toMatch(/expires on/);
    expect(hasChanges(p)).toBe(true);
  });

  it("the same certificate stays already-migrated and is no change", () => {
    const p = plan(migrated(), mapping(entry({ sid: S1 })), new Map([[S1, valid(apn("old", "other bytes"))]]), { now: NOW });
    expect(p.items[0]!.action).toBe("already-migrated");
    expect(hasChanges(p)).toBe(false);
  });

  it("without a recorded fingerprint the plan says rotation can't be detected; --replace forces it", () => {
    const snap = migrated({ secret: undefined, secretById: undefined });
    const m = mapping(entry({ sid: S1 }));
    const secrets = new Map([[S1, valid(apn("new"))]]);
    const item = plan(snap, m, secrets, { now: NOW }).items[0]!;
    expect(item.action).toBe("already-migrated");
    expect(item.warnings.join(" ")).toMatch(new RegExp(`rotation can't be detected for it: no fingerprint was recorded .*apply --replace ${S1}`));
    const forced = plan(snap, m, secrets, { now: NOW, replace: new Set([S1]) });
    expect(forced.items[0]).toMatchObject({ action: "replace", replace: { oldId: live.id, forced: true } });
    expect(forced.items[0]!.replace!.oldSecret).toBeUndefined();
    expect(forced.problems).toEqual([]);
  });

  it("a secret that cannot be read no longer blocks a migrated credential: it is a warning (and blocks a forced replace)", () => {
    const broken: SecretResult = { warnings: [], problems: ["secrets.certificate: file not found"] };
    const item = plan(migrated(), mapping(entry({ sid: S1 })), new Map([[S1, broken]]), { now: NOW }).items[0]!;
    expect(item.action).toBe("already-migrated");
    expect(item.warnings.join(" ")).toMatch(/could not check whether its secret was renewed: secrets.certificate: file not found/);
    const forced = plan(migrated(), mapping(entry({ sid: S1 })), new Map([[S1, broken]]), { now: NOW, replace: new Set([S1]) }).items[0]!;
    expect(forced.action).toBe("blocked");
    expect(forced.problems).toEqual(["secrets.certificate: file not found"]);
  });

  it("--replace naming something that is not migrated is a blocking problem, not ignored", () => {
    const snap = snapshot({ legacy: [legacy({ sid: S1 }), legacy({ sid: S2 })] });
    const p = plan(snap, mapping(entry({ sid: S1 })), new Map([[S1, valid(apn("a"))]]), { now: NOW, replace: new Set([S1, S2, sid(9)]) });
    expect(p.problems).toEqual([
      `--replace ${S1}: nothing to replace: it is not migrated yet (apply creates it)`,
      `--replace ${S2}: nothing to replace: it has no live Comms credential created by cr2comms (action unmapped)`,
      `--replace ${sid(9)}: nothing to replace: no such legacy credential in this account`,
    ]);
  });

  it("needs a free slot: creates are counted first, replacements take what is left, each blocked with the advice", () => {
    const others = Array.from({ length: MAX_CREDENTIALS_PER_APP - 2 }, () => comms({ credentialType: "FCM" }));
    const live2 = comms({ credentialType: "APN_SANDBOX" });
    const snap = snapshot({
      legacy: [legacy({ sid: S1 }), legacy({ sid: S2, sandbox: true }), legacy({ sid: sid(3) })],
      comms: [live, live2, ...others],
      ledger: ledgerOf(
        ledgerEntry({ legacySid: S1, commsCredentialId: live.id, secretById: { [live.id]: apn("old") } }),
        ledgerEntry({ legacySid: S2, credentialType: "APN_SANDBOX", commsCredentialId: live2.id, secretById: { [live2.id]: apn("old2") } }),
      ),
    });
    // 10 in the App: both replacements are blocked; the App-level limit is not an account problem.
    const full = plan(snap, mapping(entry({ sid: S1 }), entry({ sid: S2 })), new Map([[S1, valid(apn("new"))], [S2, valid(apn("new2"))]]), { now: NOW });
    expect(full.items.map((i) => i.action)).toEqual(["blocked", "blocked", "unmapped"]);
    expect(full.items[0]!.problems[0]).toMatch(/holds 10 credentials, the Comms limit of 10 per App: a replacement creates the new credential before it deletes .* needs one free slot — delete a credential this App no longer needs/);
    expect(full.accountProblems).toEqual([]);

    // 9 in the App and one create planned in it: the create takes the slot, whatever the order.
    const snap9 = { ...snap, comms: snap.comms.slice(0, -1) };
    const p = plan(snap9, mapping(entry({ sid: S1 }), entry({ sid: sid(3), appName: "app_ios", credentialType: "APN_SANDBOX" })), new Map([[S1, valid(apn("new"))], [sid(3), valid(apn("c"))]]), { now: NOW });
    expect(p.items.map((i) => i.action)).toEqual(["blocked", "unmapped", "create"]);
    expect(p.items[0]!.problems[0]).toMatch(/holds 10 credentials \(with the planned creates\)/);
  });
});

describe("plan: a replacement an earlier run did not finish", () => {
  const old = comms({ isDefault: true, createdAt: "2025-05-01T00:00:00.000Z" });
  const attempt = { attemptId: "a1", startedAt: "2025-06-01T11:00:00.000Z", appName: "app_ios", credentialType: "APN" as const, priorIds: [old.id] };

  it("new credential accepted: carried on without a new create and without needing the secret", () => {
    const made = comms({ createdAt: "2025-06-01T11:00:01.000Z" });
    const snap = snapshot({
      legacy: [legacy({ sid: S1 })],
      comms: [old, made],
      ledger: ledgerOf(
        ledgerEntry({ legacySid: S1, state: "confirmed", commsCredentialId: made.id, createdIds: [old.id, made.id], replacing: { oldId: old.id, attemptId: "a1", oldWasDefault: true, newId: made.id, oldState: "confirmed", secret: apn("new") } }),
      ),
    });
    const item = plan(snap, mapping(entry({ sid: S1 })), new Map(), { now: NOW }).items[0]!;
    expect(item).toMatchObject({ action: "replace", commsCredentialId: made.id, replace: { oldId: old.id, newId: made.id, newVisible: true, oldWasDefault: true } });
    expect(item.problems).toEqual([]);
  });

  it("create outcome unknown: its one result in Comms is adopted; two candidates block it", () => {
    const made = comms({ createdAt: "2025-06-01T11:00:01.000Z" });
    const pending = ledgerEntry({ legacySid: S1, state: "pending", commsCredentialId: old.id, createdIds: [old.id], lastAttempt: attempt, replacing: { oldId: old.id, attemptId: "a1", oldWasDefault: true, oldState: "confirmed" } });
    const snap = snapshot({ legacy: [legacy({ sid: S1 })], comms: [old, made], ledger: ledgerOf(pending) });
    const item = plan(snap, mapping(entry({ sid: S1 })), new Map(), { now: NOW }).items[0]!;
    expect(item).toMatchObject({ action: "replace", commsCredentialId: made.id, replace: { newId: made.id, newVisible: true }, reconcileFrom: { attemptId: "a1" } });

    const twin = comms({ createdAt: "2025-06-01T11:00:02.000Z" });
    const ambiguous = plan({ ...snap, comms: [old, made, twin] }, mapping(entry({ sid: S1 })), new Map(), { now: NOW }).items[0]!;
    expect(ambiguous.action).toBe("blocked");
    expect(ambiguous.problems[0]).toMatch(/replacement's create \(a1\) has no recorded outcome and 2 new credentials/);
  });
});

describe("plan: legacy-gone", () => {
  it("a migrated sid the legacy API no longer lists is an extra legacy-gone item with a warning; its credential is kept", () => {
    const live = comms({ isDefault: true });
    const snap = snapshot({ legacy: [legacy({ sid: S2 })], comms: [live], ledger: ledgerOf(ledgerEntry({ legacySid: S1, commsCredentialId: live.id, secretById: { [live.id]: apn("a") } })) });
    // The mapping still lists it: not the "does not exist" problem.
    const p = plan(snap, mapping(entry({ sid: S1 })), new Map(), { now: NOW });
    expect(p.problems).toEqual([]);
    const gone = p.items.find((i) => i.legacySid === S1)!;
    expect(gone).toMatchObject({ action: "legacy-gone", commsCredentialId: live.id, target: { appName: "app_ios", credentialType: "APN", isDefault: true }, secret: { certSha256: "a" } });
    expect(gone.warnings.join(" ")).toMatch(/no longer exists .* is kept.*mapping entry #1 still lists it/);
    expect(hasChanges(p)).toBe(false);
  });

  it("a sid whose credential is gone from Comms too, or was rolled back, is not legacy-gone", () => {
    const snap = snapshot({ legacy: [], ledger: ledgerOf(ledgerEntry({ legacySid: S1, commsCredentialId: "comms_credential_gone" }), ledgerEntry({ legacySid: S2, state: "deleted" })) });
    expect(plan(snap, mapping(), new Map(), { now: NOW }).items).toEqual([]);
  });
});
