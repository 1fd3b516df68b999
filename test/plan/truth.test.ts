import { describe, expect, it } from "vitest";
import type { SecretResult } from "../../src/domain.js";
import type { Mapping } from "../../src/mapping/types.js";
import { mapCredential } from "../../src/plan/mapper.js";
import { describeStaleness, fingerprintObservation, serializePlanFile } from "../../src/plan/planfile.js";
import { parsePlanFile } from "../../src/plan/planfile-read.js";
import { plan } from "../../src/plan/planner.js";
import type { Plan, PlanItem, Snapshot } from "../../src/plan/types.js";
import { NOW, comms, entry, legacy, ledgerEntry, ledgerOf, mapping, okSecret, secretsFor, sid, snapshot } from "./builders.js";

const S1 = sid(1);
const S2 = sid(2);

function run(snap: Snapshot, m: Mapping, secrets: ReadonlyMap<string, SecretResult>): Plan {
  return plan(snap, m, secrets, { now: NOW });
}

function only(p: Plan): PlanItem {
  expect(p.items).toHaveLength(1);
  return p.items[0]!;
}

function withCert(forSid: string, certSha256: string): SecretResult {
  const r = okSecret(forSid);
  const fingerprint = { ...r.fingerprint!, certSha256 };
  return { ...r, fingerprint, secret: { ...r.secret!, fingerprint } as SecretResult["secret"] };
}

describe("plan: defaults as Comms has them", () => {
  const migrated = (isDefault: boolean) => {
    const live = comms({ isDefault });
    return { live, snap: snapshot({ legacy: [legacy({ sid: S1 })], comms: [live], ledger: ledgerOf(ledgerEntry({ legacySid: S1, commsCredentialId: live.id })) }) };
  };

  it("carries the live default state and does not warn when the mapping says nothing", () => {
    const { snap } = migrated(true);
    const item = only(run(snap, mapping(entry({ sid: S1 })), new Map()));
    expect(item.action).toBe("already-migrated");
    expect(item.liveDefault).toBe(true);
    expect(item.warnings).toEqual([]);
  });

  it("warns only when the mapping explicitly says isDefault: false", () => {
    const { snap, live } = migrated(true);
    const item = only(run(snap, mapping(entry({ sid: S1, isDefault: false })), new Map()));
    expect(item.warnings).toEqual([
      `${live.id} is the default for app_ios APN although the mapping says isDefault: false; left as is (Comms cannot unset a default: make another credential the default)`,
    ]);
  });

  it("marks an update-default as not the default yet", () => {
    const { snap } = migrated(false);
    const item = only(run(snap, mapping(entry({ sid: S1, isDefault: true })), new Map()));
    expect(item.action).toBe("update-default");
    expect(item.liveDefault).toBe(false);
  });

  it("carries the default state of a credential adopted from a lost attempt", () => {
    const adopted = comms({ isDefault: true, createdAt: "2025-06-01T11:00:01.000Z" });
    const snap = snapshot({
      legacy: [legacy({ sid: S1 })],
      comms: [adopted],
      ledger: ledgerOf(
        ledgerEntry({ legacySid: S1, state: "pending", lastAttempt: { attemptId: "a1", startedAt: "2025-06-01T11:00:00.000Z", appName: "app_ios", credentialType: "APN" } }),
      ),
    });
    const item = only(run(snap, mapping(entry({ sid: S1 })), secretsFor(S1)));
    expect(item.action).toBe("already-migrated");
    expect(item.commsCredentialId).toBe(adopted.id);
    expect(item.liveDefault).toBe(true);
  });

  it("leaves liveDefault out when nothing live is known", () => {
    const item = only(run(snapshot({ legacy: [legacy({ sid: S1 })] }), mapping(entry({ sid: S1 })), secretsFor(S1)));
    expect(item.action).toBe("create");
    expect("liveDefault" in item).toBe(false);
  });
});

describe("mapper: FCM server key warning", () => {
  const fcm = legacy({ type: "fcm", sandbox: null });
  it("warns only when the entry gives no service account", () => {
    expect(mapCredential(fcm, entry({ appName: "app_android" })).warnings.join(" ")).toMatch(/server key cannot be used/);
    expect(mapCredential(fcm, entry({ appName: "app_android", secrets: { serviceAccount: "file:sa.json" } })).warnings).toEqual([]);
  });
});

describe("plan: messages", () => {
  it("do not repeat the sid of the item they are on", () => {
    const snap = snapshot({ legacy: [legacy({ sid: S1 }), legacy({ sid: S2, type: "gcm" }), legacy({ sid: sid(3) })] });
    const bad: SecretResult = { warnings: ["certificate expires in 3 days"], problems: ["secrets.certificate: file not found: /x"] };
    const p = run(snap, mapping(entry({ sid: S1, credentialType: "FCM" }), entry({ sid: S2 }), entry({ sid: sid(3) })), new Map([[sid(3), bad]]));
    for (const item of p.items) {
      for (const m of [...item.problems, ...item.warnings]) expect(m.startsWith(item.legacySid), m).toBe(false);
    }
    expect(p.items[0]!.problems).toEqual(["credentialType FCM is not valid for a legacy apn credential (use APN or APN_SANDBOX)"]);
    expect(p.items[2]!.problems).toEqual(["secrets.certificate: file not found: /x"]);
  });

  it("number mapping entries from 1", () => {
    const p = run(snapshot({ legacy: [legacy({ sid: S1 })] }), mapping(entry({ sid: S2 }), entry({ sid: S1 }), entry({ sid: S1, appName: "b" })), secretsFor(S1));
    expect(p.problems).toEqual([
      `mapping entry #1: ${S2} does not exist in account ${snap().accountSid}`,
      `${S1} is listed 2 times in the mapping (entries #2, #3)`,
    ]);
    expect(only(p).problems).toEqual(["listed 2 times in the mapping (entries #2, #3)"]);
    const noApp = run(snapshot({ legacy: [legacy({ sid: S1 })] }), mapping(entry({ sid: S1, appName: undefined })), secretsFor(S1));
    expect(only(noApp).problems).toEqual(["mapping entry #1 has no appName"]);
  });

  it("escapes a legacy type that carries control characters", () => {
    const item = only(run(snapshot({ legacy: [legacy({ sid: S1, type: "apn\u001b[2J\u202e" })] }), mapping(), new Map()));
    expect(item.warnings).toEqual(['legacy type "apn\\u{1b}[2J\\u{202e}" is not one cr2comms knows; it is not migrated']);
  });
});

const snap = () => snapshot();

describe("plan: one certificate mapped to two Apps", () => {
  it("warns on both items", () => {
    const s = snapshot({ legacy: [legacy({ sid: S1 }), legacy({ sid: S2 }), legacy({ sid: sid(3) })] });
    const m = mapping(entry({ sid: S1, appName: "app_a" }), entry({ sid: S2, appName: "app_b" }), entry({ sid: sid(3), appName: "app_c" }));
    const secrets = new Map([
      [S1, withCert(S1, "e".repeat(64))],
      [S2, withCert(S2, "e".repeat(64))],
      [sid(3), withCert(sid(3), "f".repeat(64))],
    ]);
    const [a, b, c] = run(s, m, secrets).items;
    expect(a!.warnings).toEqual([`the same certificate is also mapped to app_b (${S2}); each App should have its own`]);
    expect(b!.warnings).toEqual([`the same certificate is also mapped to app_a (${S1}); each App should have its own`]);
    expect(c!.warnings).toEqual([]);
  });

  it("does not warn for the same certificate twice in one App (the default rules cover that)", () => {
    const s = snapshot({ legacy: [legacy({ sid: S1 }), legacy({ sid: S2, sandbox: true })] });
    const m = mapping(entry({ sid: S1 }), entry({ sid: S2 }));
    const p = run(s, m, new Map([[S1, withCert(S1, "e".repeat(64))], [S2, withCert(S2, "e".repeat(64))]]));
    expect(p.items.flatMap((i) => i.warnings)).toEqual([]);
  });
});

describe("plan: mapping display path", () => {
  it("is carried on the plan for the renderers, the absolute path kept for the writer", () => {
    const m = { ...mapping(), displayPath: "mappings/migration.yaml" };
    const p = run(snapshot(), m, new Map());
    expect(p.mappingPath).toBe("/m/migration.yaml");
    expect(p.mappingDisplayPath).toBe("mappings/migration.yaml");
    expect(parsePlanFile(serializePlanFile(p), "p.json").mappingDisplayPath).toBe("mappings/migration.yaml");
  });
});

describe("stale plans say what changed", () => {
  const live = comms({ isDefault: true });
  const base = () => ({
    snap: snapshot({ legacy: [legacy({ sid: S1 }), legacy({ sid: S2 })], comms: [live], ledger: ledgerOf(ledgerEntry({ legacySid: S1, commsCredentialId: live.id })) }),
    map: mapping(entry({ sid: S1 }), entry({ sid: S2, appName: "app_two" })),
    secrets: secretsFor(S2),
  });

  it("stores a digest per part, keeps the one fingerprint, and names nothing when all match", () => {
    const { snap, map, secrets } = base();
    const p = run(snap, map, secrets);
    expect(p.observedFingerprint).toBe(fingerprintObservation(snap, map, secrets));
    expect(Object.keys(p.observedParts ?? {})).toEqual(["legacy", "comms", "ledger", "mapping", "secrets"]);
    expect(describeStaleness(p, run(snap, map, secrets))).toEqual([]);
  });

  it("names the Comms list and the ledger when both changed", () => {
    const { snap, map, secrets } = base();
    const saved = parsePlanFile(serializePlanFile(run(snap, map, secrets)), "saved.json");
    const other = comms({ appName: "app_two" });
    const fresh = run(
      { ...snap, comms: [live, other], ledger: ledgerOf(ledgerEntry({ legacySid: S1, commsCredentialId: live.id }), ledgerEntry({ legacySid: S2, state: "failed" })) },
      map,
      secrets,
    );
    expect(describeStaleness(saved, fresh)).toEqual(["the Comms credentials changed", "the ledger changed"]);
  });

  it("names the legacy list, the mapping and the secrets", () => {
    const { snap, map, secrets } = base();
    const saved = run(snap, map, secrets);
    expect(describeStaleness(saved, run({ ...snap, legacy: [legacy({ sid: S1 })] }, map, secrets))).toEqual(["the legacy credentials changed"]);
    expect(describeStaleness(saved, run(snap, mapping(entry({ sid: S1 }), entry({ sid: S2, appName: "app_three" })), secrets))).toEqual([
      "the mapping file changed",
    ]);
    expect(describeStaleness(saved, run(snap, map, new Map([[S2, okSecret(S2, "v2")]])))).toEqual(["the secrets changed"]);
  });

  it("a plan made for another account says so; a different fingerprint over equal parts still counts as a change", () => {
    const { snap, map, secrets } = base();
    const saved = run(snap, map, secrets);
    const other = run({ ...snap, accountSid: "AC11111111111111111111111111111111" }, map, secrets);
    expect(describeStaleness(saved, other)).toEqual([`the plan was made for account ${snap.accountSid}, not AC11111111111111111111111111111111`]);
    expect(describeStaleness({ ...saved, observedFingerprint: "0".repeat(64) }, run(snap, map, secrets))).toEqual(["what was observed changed"]);
  });

  it("loads an older plan file without part digests, and then says only that something changed", () => {
    const { snap, map, secrets } = base();
    const p = run(snap, map, secrets);
    const { observedParts: _parts, ...old } = p;
    const loaded = parsePlanFile(serializePlanFile(old), "old.json");
    expect(loaded.observedParts).toBeUndefined();
    expect(describeStaleness(loaded, run({ ...snap, comms: [] }, map, secrets))).toEqual([
      "Twilio, the ledger, the mapping or the secrets changed (this plan file does not record which)",
    ]);
  });

  it("keeps liveDefault and the whole reconcileFrom through a saved plan file", () => {
    const item: PlanItem = {
      legacySid: S1,
      friendlyName: null,
      legacyType: "apn",
      sandbox: false,
      action: "create",
      liveDefault: true,
      reconcileFrom: { attemptId: "a", startedAt: "2025-01-01T00:00:00.000Z", appName: "app_ios", credentialType: "APN", unknownAt: "2025-01-01T00:00:01.000Z", lastSentAt: "2025-01-01T00:00:02.000Z", priorIds: ["x"] },
      warnings: [],
      problems: [],
    };
    const p = { ...run(snapshot(), mapping(), new Map()), items: [item] };
    expect(parsePlanFile(serializePlanFile(p), "p.json").items[0]).toEqual(item);
  });
});
