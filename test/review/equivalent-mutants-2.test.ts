/**
 * More mutants the mutation notes (test/mutation/*.md) called equivalent that change what the code
 * does. Each test fails with its mutant applied by hand (named above the test) and passes without it.
 */
import { createPrivateKey, X509Certificate } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import forge from "node-forge";
import { afterEach, describe, expect, it } from "vitest";
import { createCommsClient, toCommsApp, toCommsCredential } from "../../src/comms/index.js";
import type { SecretFingerprint, SecretResult } from "../../src/domain.js";
import { UnknownOutcomeError } from "../../src/errors.js";
import { parseErrorBody } from "../../src/http/server-text.js";
import { replay } from "../../src/ledger/ledger.js";
import type { LedgerEvent } from "../../src/ledger/types.js";
import { MAX_CREDENTIALS_PER_APP } from "../../src/limits.js";
import { plan } from "../../src/plan/planner.js";
import { readP12, resolveEntrySecrets, validateApn } from "../../src/secrets/index.js";
import { computeStatus } from "../../src/status/status.js";
import { NOW, comms, entry, legacy, ledgerEntry, ledgerOf, mapping, sid, snapshot } from "../plan/builders.js";
import { startLocalServer } from "../comms/local-server.js";
import { certTimes, fixture } from "../secrets/helpers.js";

const { create, Class: C, Type: T } = forge.asn1;
const seq = (v: forge.asn1.Asn1[]) => create(C.UNIVERSAL, T.SEQUENCE, true, v);
const oid = (o: string) => create(C.UNIVERSAL, T.OID, false, forge.asn1.oidToDer(o).getBytes());
const octets = (b: string) => create(C.UNIVERSAL, T.OCTETSTRING, false, b);
const int = (n: number) => create(C.UNIVERSAL, T.INTEGER, false, forge.asn1.integerToDer(n).getBytes());
const explicit = (n: number, v: forge.asn1.Asn1) => create(C.CONTEXT_SPECIFIC, n, true, [v]);
const der = (a: forge.asn1.Asn1) => forge.asn1.toDer(a).getBytes();

/**
 * A PKCS#12 whose certificate and key sit in plain bags, with an empty SafeContents between them
 * (a ContentInfo of zero bytes, which some exporters write). `mac`: no MAC, or a MAC keyed with the
 * given passphrase (`undefined` keys it the way node-forge does for "no passphrase", `""` the way
 * OpenSSL does).
 */
function p12WithEmptySafe(mac: { passphrase: string | undefined } | "none"): Buffer {
  const certDer = new X509Certificate(fixture("apn-dev.cert.pem")).raw;
  const keyDer = createPrivateKey(fixture("apn-dev.key.pem")).export({ type: "pkcs8", format: "der" });
  const data = (content: string) => seq([oid(forge.pki.oids.data!), explicit(0, octets(content))]);
  const certBag = seq([oid(forge.pki.oids.certBag!), explicit(0, seq([oid(forge.pki.oids.x509Certificate!), explicit(0, octets(certDer.toString("binary")))]))]);
  const keyBag = seq([oid(forge.pki.oids.keyBag!), explicit(0, forge.asn1.fromDer(keyDer.toString("binary")))]);
  const authSafe = der(seq([data(der(seq([certBag]))), data(""), data(der(seq([keyBag])))]));
  const parts = [int(3), data(authSafe)];
  if (mac !== "none") {
    const salt = "0123456789abcdef";
    const key = forge.pkcs12.generateKey(mac.passphrase, forge.util.createBuffer(salt), 3, 1, 20);
    const hmac = forge.hmac.create();
    hmac.start("sha1", key);
    hmac.update(authSafe);
    const digestInfo = seq([seq([oid(forge.pki.oids.sha1!), create(C.UNIVERSAL, T.NULL, false, "")]), octets(hmac.digest().getBytes())]);
    parts.push(seq([digestInfo, octets(salt), int(1)]));
  }
  return Buffer.from(der(seq(parts)), "binary");
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

describe("mutants that were not equivalent (2)", () => {
  // p12.ts openWith: `pkcs12FromAsn1(asn1, false, …)`, three times. Said "equivalent for well-formed
  // bundles"; the inner SafeContents are read leniently, and only leniently does an empty one read as
  // no bags rather than a file that does not parse. Killed by `false` → `true` in any of the three
  // calls (the passphrase given; none, MAC keyed OpenSSL's way; none, MAC keyed node-forge's way).
  it("a .p12 with an empty SafeContents opens, with a passphrase and with either kind of no passphrase", () => {
    const cases: [string, Buffer, string | undefined][] = [
      ["no MAC, a passphrase given", p12WithEmptySafe("none"), "fake-passphrase"],
      ["MAC with the passphrase", p12WithEmptySafe({ passphrase: "fake-passphrase" }), "fake-passphrase"],
      ["MAC with the empty passphrase", p12WithEmptySafe({ passphrase: "" }), undefined],
      ["MAC with no passphrase", p12WithEmptySafe({ passphrase: undefined }), undefined],
    ];
    for (const [what, bundle, passphrase] of cases) {
      const opened = readP12(bundle, passphrase);
      expect(opened, what).not.toHaveProperty("problem");
      expect(opened, what).toEqual({
        certificatePem: new X509Certificate(fixture("apn-dev.cert.pem")).toString().replace(/\n?$/, "\n").replace(/\n/g, "\r\n"),
        privateKeyPem: expect.stringContaining("PRIVATE KEY"),
      });
    }
  });

  // pem.ts extractPemBlocks, a legacy encrypted key's lines: `l !== "" || …` → `false || …`. Said
  // "equivalent in practice" (text touching a marker); a key whose line breaks were lost (pasted, or
  // kept in a variable) is one such line, and without it the Proc-Type header is dropped, so the key
  // no longer reads as encrypted and the passphrase it needs is never asked for.
  it("a legacy encrypted key whose line breaks were lost still reads as encrypted", () => {
    const legacy = createPrivateKey(fixture("apn-dev.key.pem")).export({ type: "pkcs1", format: "pem", cipher: "aes-128-cbc", passphrase: "fake-legacy-pass" }).toString();
    const oneLine = legacy.trimEnd().replace(/\n/g, " ");
    const r = validateApn(fixture("apn-dev.cert.pem"), oneLine, "APN_SANDBOX", certTimes("apn-dev.cert.pem").midlife);
    expect(r.secret).toBeUndefined();
    expect(r.problems).toEqual([expect.stringMatching(/^the private key is encrypted: add a passphrase reference/)]);
    const withPassphrase = validateApn(fixture("apn-dev.cert.pem"), oneLine, "APN_SANDBOX", certTimes("apn-dev.cert.pem").midlife, { passphrase: "fake-legacy-pass" });
    expect(withPassphrase.warnings).not.toContainEqual(expect.stringMatching(/passphrase is not used/));
  });

  // resolve.ts the passphrase's final line break: `/\r?\n$/` → `/\r?\n/`. Said "equivalent for
  // passphrases (one line)"; a passphrase is whatever the user chose, and one with a line break in it
  // lost that break (the first) instead of the file's final one.
  it("only the final line break of a passphrase is dropped, not one inside it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cr2comms-pass-"));
    const passphrase = "fake-first-line\nfake-second-line";
    writeFileSync(join(dir, "cert.pem"), fixture("apn-dev.cert.pem"));
    writeFileSync(join(dir, "key.pem"), createPrivateKey(fixture("apn-dev.key.pem")).export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase }));
    writeFileSync(join(dir, "pass.txt"), passphrase + "\n");
    for (const ref of ["file:pass.txt", "env:PASS"]) {
      const r = await resolveEntrySecrets(
        { sid: "CR0123456789abcdef0123456789abcdef", appName: "app", index: 0, secrets: { certificate: "file:cert.pem", privateKey: "file:key.pem", passphrase: ref } },
        "APN_SANDBOX",
        { mappingDir: dir, env: { PASS: passphrase }, now: certTimes("apn-dev.cert.pem").midlife, interactive: false, prompt: () => Promise.reject(new Error("no prompt")) },
      );
      expect(r.problems, ref).toEqual([]);
      expect(r.secret?.kind, ref).toBe("apn");
    }
  });

  // planner.ts checkRenewal: `if (now) item.secret = now;` → `if (true) …`. Said equivalent ("applySecret
  // sets item.secret from the same result"); when the new secret cannot be read, applySecret sets
  // nothing, and the item kept the migrated credential's recorded secret as the replacement's new
  // one — `old → old` in the reports. A replacement without a readable secret now shows none.
  it("a forced replacement whose new secret cannot be read does not show the old secret as the new one", () => {
    const old: SecretFingerprint = { kind: "apn", contentSha256: "old-content", certSha256: "old-cert" };
    const live = comms({ isDefault: true });
    const snap = snapshot({
      legacy: [legacy({ sid: sid(1) })],
      comms: [live],
      ledger: ledgerOf(ledgerEntry({ legacySid: sid(1), commsCredentialId: live.id, secret: old, secretById: { [live.id]: old } })),
    });
    const unreadable: SecretResult = { warnings: [], problems: ["secrets.certificate: file not found"] };
    for (const secrets of [new Map([[sid(1), unreadable]]), new Map<string, SecretResult>()]) {
      const item = plan(snap, mapping(entry({ sid: sid(1) })), secrets, { now: NOW, replace: new Set([sid(1)]) }).items[0]!;
      expect(item.action).toBe("blocked");
      expect(item.replace?.oldSecret).toEqual(old);
      expect(item.secret).toBeUndefined();
    }
  });

  // planner.ts applySecret: `if (fp) item.secret = fp;` → `if (true) …`. Said equivalent ("a result
  // without any fingerprint is blocked, and its item had no secret to keep"); an unfinished
  // replacement has one — the new secret its ledger entry recorded — and it stays on the item when
  // the secret cannot be read this time.
  it("an unfinished replacement keeps its recorded new secret when the secret cannot be read now", () => {
    const fresh: SecretFingerprint = { kind: "apn", contentSha256: "new-content", certSha256: "new-cert" };
    const old = comms({ isDefault: true });
    const snap = snapshot({
      legacy: [legacy({ sid: sid(1) })],
      comms: [old],
      ledger: ledgerOf(ledgerEntry({ legacySid: sid(1), state: "confirmed", commsCredentialId: old.id, createdIds: [old.id], replacing: { oldId: old.id, attemptId: "a1", oldWasDefault: true, oldState: "confirmed", secret: fresh } })),
    });
    const unreadable: SecretResult = { warnings: [], problems: ["secrets.certificate: file not found"] };
    const item = plan(snap, mapping(entry({ sid: sid(1) })), new Map([[sid(1), unreadable]]), { now: NOW }).items[0]!;
    expect(item.action).toBe("blocked");
    expect(item.problems).toEqual(["secrets.certificate: file not found"]);
    expect(item.secret).toEqual(fresh);
  });

  // planner.ts warnSharedCertificates: `if (!cert || !d.item.target) continue;` → `&&`. Said
  // equivalent ("an item without a target never has a secret fingerprint"); the other half decides:
  // items with no certificate digest (every FCM credential) were grouped together as one
  // "certificate" and warned about as shared between their Apps.
  it("credentials without a certificate are never said to share one", () => {
    const fcm = (n: number): SecretResult => {
      const fingerprint: SecretFingerprint = { kind: "fcm", contentSha256: `content-${n}`, projectId: `project-${n}`, clientEmail: `a@project-${n}.iam.gserviceaccount.com`, keyId: `key-${n}` };
      return { secret: { kind: "fcm", serviceAccountJson: "{}", fingerprint }, fingerprint, warnings: [], problems: [] };
    };
    const snap = snapshot({ legacy: [legacy({ sid: sid(1), type: "fcm", sandbox: null }), legacy({ sid: sid(2), type: "fcm", sandbox: null })] });
    const m = mapping(
      entry({ sid: sid(1), appName: "app_a", secrets: { serviceAccount: "file:a.json" } }),
      entry({ sid: sid(2), appName: "app_b", secrets: { serviceAccount: "file:b.json" } }),
    );
    const p = plan(snap, m, new Map([[sid(1), fcm(1)], [sid(2), fcm(2)]]), { now: NOW });
    expect(p.items.map((i) => i.action)).toEqual(["create", "create"]);
    expect(p.items.map((i) => i.warnings)).toEqual([[], []]);
  });

  // planner.ts enforceLimits: `d.item.replace?.oldId ?? "the old one"` → `&&`. Said equivalent ("a
  // replace item always has replace.oldId"); that is why `&&` differs: the problem said "the old
  // one" instead of naming the credential the replacement would delete.
  it("a replacement blocked by the App's limit names the credential it would delete", () => {
    const live = comms({ isDefault: true });
    const others = Array.from({ length: MAX_CREDENTIALS_PER_APP - 1 }, () => comms({ credentialType: "FCM" }));
    const recorded: SecretFingerprint = { kind: "apn", contentSha256: "old-content", certSha256: "old-cert" };
    const renewed: SecretFingerprint = { kind: "apn", contentSha256: "new-content", certSha256: "new-cert" };
    const snap = snapshot({
      legacy: [legacy({ sid: sid(1) })],
      comms: [live, ...others],
      ledger: ledgerOf(ledgerEntry({ legacySid: sid(1), commsCredentialId: live.id, secretById: { [live.id]: recorded } })),
    });
    const secret: SecretResult = { secret: { kind: "apn", certificatePem: "x", privateKeyPem: "y", fingerprint: renewed }, fingerprint: renewed, warnings: [], problems: [] };
    const item = plan(snap, mapping(entry({ sid: sid(1) })), new Map([[sid(1), secret]]), { now: NOW }).items[0]!;
    expect(item.action).toBe("blocked");
    expect(item.problems).toEqual([expect.stringContaining(`a replacement creates the new credential before it deletes ${live.id}, so it needs one free slot`)]);
  });

  // status.ts the earlier ids of a sid: `else if (replacing?.oldId !== old)` → `else`. Said
  // equivalent ("replacing.oldId live with newId not the current id does not occur"); it occurs
  // when a rollback narrowed to an apply report deletes the replacement's new credential and not the
  // old one: the old credential, live and cr2comms's, was shown on no row at all. Also kills
  // `replacing.newId === id` → `true` the line before (it showed it as being replaced by nothing).
  it("the old credential of an unfinished replacement stays visible after its new one was rolled back", () => {
    const sidOne = sid(1);
    let second = 0;
    const ev = (e: Record<string, unknown>): LedgerEvent => ({ v: 1, ts: new Date(Date.UTC(2025, 5, 1, 12, 0, second++)).toISOString(), legacySid: sidOne, ...e }) as unknown as LedgerEvent;
    const start = { appName: "app_ios", credentialType: "APN", isDefault: false, startedAt: "2025-06-01T11:00:00.000Z" };
    const old = comms({ id: "comms_credential_old" });
    const entries = replay([
      ev({ event: "attempt", attemptId: "a1", ...start }),
      ev({ event: "accepted", attemptId: "a1", commsCredentialId: old.id }),
      ev({ event: "confirmed", commsCredentialId: old.id }),
      ev({ event: "attempt", attemptId: "a2", ...start, replaces: old.id }),
      ev({ event: "accepted", attemptId: "a2", commsCredentialId: "comms_credential_new" }),
      ev({ event: "confirmed", commsCredentialId: "comms_credential_new" }),
      ev({ event: "deleted", commsCredentialId: "comms_credential_new", reason: "rollback" }),
    ]);
    const s = computeStatus(entries, [old], { now: NOW });
    expect(s.rows.map((r) => [r.commsCredentialId, r.kind])).toEqual([
      [undefined, "rolled-back"],
      [old.id, "orphaned"],
    ]);
    expect(s.drift).toBe(true);
  });

  // server-text.ts asCode: `typeof value === "string" && /^\d+$/.test(value)` → `true && …`. Said
  // equivalent ("/^\d+$/ fails for a non-string"); the regex converts what it is given to a string,
  // and an array of one number reads as that number, so `"code": [20404]` became error code 20404.
  it("an error code given as an array is no code", () => {
    expect(parseErrorBody(400, JSON.stringify({ code: [20404], message: "not found" }))).toEqual({ code: undefined, message: "not found" });
    expect(parseErrorBody(400, JSON.stringify({ errors: [{ code: ["20404"], message: "not found" }] }))).toEqual({ code: undefined, message: "not found" });
    expect(parseErrorBody(400, JSON.stringify({ code: "20404", message: "not found" })).code).toBe(20404);
  });

  // client.ts asObject: `value && typeof value === "object"` → `value || …`. Listed as probably
  // equivalent; `null` then passed as an object, and reading a field of it threw.
  it("a null where the API should give an object is read as an empty one", () => {
    expect(toCommsApp(null)).toBeUndefined();
    expect(toCommsCredential(null)).toMatchObject({ id: "", appName: "", credentialType: "" });
  });

  // client.ts: a `resourceId` that is not text (a number) must never be taken as the new credential's
  // id, nor be passed over for the Location header: the answer is invalid, so its outcome is unknown.
  it("an acceptance whose resourceId is not text is an unknown outcome, even beside a valid Location header", async () => {
    const location = "http://comms.example/v1/PushNotifications/Credentials/comms_credential_00000000000000000000000005";
    const server = await startLocalServer(() => ({ status: 202, json: { resourceId: 12345 }, headers: { location } }));
    const client = createCommsClient({ baseUrl: server.url, apiVersion: "v1", username: "AC00000000000000000000000000000000", password: "token", accountSid: "AC00000000000000000000000000000000", sleep: async () => {}, random: () => 0.5 });
    cleanups.push(() => server.close(), () => client.close());
    const created = client.create({ credentialType: "APN", appName: "a", content: { certificate: "Yw==", privateKey: "aw==" } });
    await expect(created).rejects.toBeInstanceOf(UnknownOutcomeError);
    await expect(created).rejects.toThrow(/resourceId/);
  });
});
