import { describe, expect, it } from "vitest";
import { EXIT, UsageError } from "../../src/errors.js";
import { fingerprintObservation, serializePlanFile } from "../../src/plan/planfile.js";
import { parsePlanFile } from "../../src/plan/planfile-read.js";
import { plan } from "../../src/plan/planner.js";
import { NOW, comms, entry, legacy, ledgerEntry, ledgerOf, mapping, okSecret, secretsFor, sid, snapshot } from "./builders.js";

const S1 = sid(1);
const S2 = sid(2);
const c1 = comms({ appName: "app_ios" });
const c2 = comms({ appName: "app_android", credentialType: "FCM" });

function world() {
  return {
    snap: snapshot({
      legacy: [legacy({ sid: S1 }), legacy({ sid: S2, type: "fcm" })],
      comms: [c1, c2],
      ledger: ledgerOf(ledgerEntry({ legacySid: S1, commsCredentialId: c1.id }), ledgerEntry({ legacySid: S2, state: "failed" })),
    }),
    map: mapping(entry({ sid: S1 }), entry({ sid: S2, appName: "app_android", secrets: { serviceAccount: "file:sa.json" } })),
    secrets: secretsFor(S1, S2),
  };
}

describe("fingerprintObservation", () => {
  it("is a SHA-256 hex digest, stable under reordering of every list", () => {
    const { snap, map, secrets } = world();
    const base = fingerprintObservation(snap, map, secrets);
    expect(base).toMatch(/^[0-9a-f]{64}$/);

    const reordered = snapshot({
      legacy: [...snap.legacy].reverse(),
      comms: [...snap.comms].reverse(),
      ledger: new Map([...snap.ledger].reverse()),
    });
    const remapped = mapping(...[...map.credentials].reverse());
    expect(remapped.credentials[0]!.index).toBe(0); // indexes really did change
    expect(fingerprintObservation(reordered, remapped, new Map([...secrets].reverse()))).toBe(base);
  });

  it("changes when what was observed changes", () => {
    const { snap, map, secrets } = world();
    const base = fingerprintObservation(snap, map, secrets);
    const variants = [
      fingerprintObservation({ ...snap, comms: [c1] }, map, secrets),
      fingerprintObservation({ ...snap, comms: [{ ...c1, isDefault: true }, c2] }, map, secrets),
      fingerprintObservation({ ...snap, comms: [{ ...c1, appName: "moved" }, c2] }, map, secrets),
      fingerprintObservation({ ...snap, legacy: [legacy({ sid: S1, sandbox: true }), snap.legacy[1]!] }, map, secrets),
      fingerprintObservation({ ...snap, ledger: ledgerOf(ledgerEntry({ legacySid: S1, state: "deleted" })) }, map, secrets),
      fingerprintObservation(snap, mapping(entry({ sid: S1, isDefault: true }), map.credentials[1]!), secrets),
      fingerprintObservation(snap, map, new Map([[S1, okSecret(S1, "rotated")], [S2, okSecret(S2)]])),
      fingerprintObservation({ ...snap, accountSid: "AC11111111111111111111111111111111" }, map, secrets),
    ];
    for (const v of variants) expect(v).not.toBe(base);
    expect(new Set(variants).size).toBe(variants.length);
  });

  it("does not change with the observation time", () => {
    const { snap, map, secrets } = world();
    expect(fingerprintObservation({ ...snap, observedAt: "2030-01-01T00:00:00Z" }, map, secrets)).toBe(fingerprintObservation(snap, map, secrets));
  });
});

describe("plan file", () => {
  it("round-trips a plan inside a { version: 1, plan } envelope", () => {
    const { snap, map, secrets } = world();
    const p = plan(snap, map, secrets, { now: NOW });
    const text = serializePlanFile(p);
    const raw = JSON.parse(text) as { version: number; plan: unknown };
    expect(raw.version).toBe(1);
    expect(raw.plan).toEqual(p);
    expect(parsePlanFile(text, "/tmp/p.json")).toEqual(p);
    // Secret material never reaches the file, only fingerprints.
    expect(text).not.toContain("BEGIN");
  });

  function rejects(text: string, pattern: RegExp) {
    let caught: unknown;
    try {
      parsePlanFile(text, "/plans/saved.json");
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(UsageError);
    expect((caught as UsageError).exitCode).toBe(EXIT.usage);
    expect((caught as Error).message).toContain("/plans/saved.json");
    expect((caught as Error).message).toMatch(pattern);
  }

  it("rejects other versions, non-JSON and malformed plans with a UsageError naming the path", () => {
    const { snap, map, secrets } = world();
    const good = JSON.parse(serializePlanFile(plan(snap, map, secrets, { now: NOW }))) as { version: number; plan: Record<string, unknown> };

    rejects(JSON.stringify({ ...good, version: 2 }), /version 2/);
    rejects(JSON.stringify({ plan: good.plan }), /no "version"/);
    rejects("{not json", /not valid JSON/);
    rejects("[]", /no "version"/);
    rejects(JSON.stringify({ version: 1 }), /malformed/);
    const items = good.plan.items as Record<string, unknown>[];
    rejects(JSON.stringify({ version: 1, plan: { ...good.plan, items: [{ ...items[0], action: "explode" }] } }), /malformed \(plan\.items\.0\.action/);
    rejects(JSON.stringify({ version: 1, plan: { ...good.plan, observedFingerprint: "x" } }), /observedFingerprint/);
  });
});
