import { describe, expect, it } from "vitest";
import type { SecretResult } from "../../src/domain.js";
import { UsageError } from "../../src/errors.js";
import { fingerprintObservation, serializePlanFile } from "../../src/plan/planfile.js";
import { parsePlanFile } from "../../src/plan/planfile-read.js";
import type { Plan } from "../../src/plan/types.js";
import { comms, entry, legacy, ledgerEntry, ledgerOf, mapping, okSecret, secretsFor, sid, snapshot } from "./builders.js";

const S1 = sid(1);

describe("fingerprintObservation: every fact a plan depends on", () => {
  const c1 = comms();
  const snap = snapshot({ legacy: [legacy({ sid: S1 })], comms: [c1], ledger: ledgerOf(ledgerEntry({ legacySid: S1, commsCredentialId: c1.id })) });
  const map = mapping(entry({ sid: S1, appName: "app_ios", secrets: { certificate: "file:a.pem", privateKey: "file:b.pem" } }));
  const secrets = secretsFor(S1);
  const base = fingerprintObservation(snap, map, secrets);
  const remap = (over: Partial<(typeof map.credentials)[number]>) => mapping({ ...map.credentials[0]!, ...over });

  it.each([
    ["the ledger's id for a sid", () => fingerprintObservation({ ...snap, ledger: ledgerOf(ledgerEntry({ legacySid: S1, commsCredentialId: "comms_credential_other" })) }, map, secrets)],
    ["a ledger entry without an id", () => fingerprintObservation({ ...snap, ledger: ledgerOf(ledgerEntry({ legacySid: S1 })) }, map, secrets)],
    ["the mapped App", () => fingerprintObservation(snap, remap({ appName: "app_other" }), secrets)],
    ["the mapped type", () => fingerprintObservation(snap, remap({ credentialType: "APN_SANDBOX" }), secrets)],
    ["skip", () => fingerprintObservation(snap, remap({ skip: true }), secrets)],
    ["a secret reference", () => fingerprintObservation(snap, remap({ secrets: { certificate: "file:c.pem", privateKey: "file:b.pem" } }), secrets)],
    ["a secret that only has a fingerprint (blocked)", () => fingerprintObservation(snap, map, new Map<string, SecretResult>([[S1, { fingerprint: okSecret(S1, "x").fingerprint!, problems: ["p"], warnings: [] }]]))],
  ])("changes with %s", (_what, variant) => {
    expect(variant()).not.toBe(base);
  });

  it("changes when a blocked secret (a fingerprint, no usable secret) is replaced by another blocked one", () => {
    const blocked = (content: string) =>
      new Map<string, SecretResult>([[S1, { fingerprint: okSecret(S1, content).fingerprint!, problems: ["the key does not match"], warnings: [] }]]);
    expect(fingerprintObservation(snap, map, blocked("x"))).not.toBe(fingerprintObservation(snap, map, blocked("y")));
  });

  it("does not depend on the order of a mapping entry's secret references", () => {
    const reordered = remap({ secrets: { privateKey: "file:b.pem", certificate: "file:a.pem" } });
    expect(fingerprintObservation(snap, reordered, secrets)).toBe(base);
  });
});

describe("parsePlanFile: what a saved plan keeps", () => {
  const plan: Plan = {
    schemaVersion: 1,
    generatedAt: "2025-06-01T12:00:00.000Z",
    accountSid: "AC00000000000000000000000000000000",
    mappingPath: "/m/migration.yaml",
    problems: [],
    warnings: [],
    observedFingerprint: "a".repeat(64),
    items: [
      {
        legacySid: S1,
        friendlyName: null,
        legacyType: "apn",
        sandbox: false,
        action: "create",
        target: { appName: "app_ios", credentialType: "APN", isDefault: false },
        warnings: [],
        problems: [],
        reconcileFrom: {
          attemptId: "att-1",
          startedAt: "2025-06-01T10:00:00.000Z",
          appName: "old_app",
          credentialType: "APN_SANDBOX",
          unknownAt: "2025-06-01T10:00:05.000Z",
          lastSentAt: "2025-06-01T10:00:01.000Z",
          priorIds: ["comms_credential_prior"],
        },
      },
    ],
  };

  // Once a bug: the schema kept only attemptId and startedAt, so `apply --plan` reconciled a lost
  // create in today's target App, with a wider window and without the attempt's priorIds.
  it("keeps everything reconciliation needs about an earlier lost create", () => {
    const back = parsePlanFile(serializePlanFile(plan), "/p/plan.json");
    expect(back.items[0]!.reconcileFrom).toEqual(plan.items[0]!.reconcileFrom);
  });

  it("refuses JSON that is not an object with a version, naming the path", () => {
    for (const text of ["null", "[]", "42", '"plan"', "{}"]) {
      expect(() => parsePlanFile(text, "/p/plan.json")).toThrow(UsageError);
      expect(() => parsePlanFile(text, "/p/plan.json")).toThrow(/\/p\/plan\.json.*version/);
    }
  });

  it("keeps the JSON error as the cause", () => {
    try {
      parsePlanFile("{nope", "/p/plan.json");
      expect.unreachable();
    } catch (err) {
      expect((err as Error).cause).toBeInstanceOf(SyntaxError);
    }
  });
});
