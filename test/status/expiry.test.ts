import { describe, expect, it } from "vitest";
import { parseExpiringWithin } from "../../src/cli/commands/status.js";
import type { SecretFingerprint } from "../../src/domain.js";
import { UsageError } from "../../src/errors.js";
import { computeStatus } from "../../src/status/status.js";
import { comms, ledgerEntry, sid } from "../plan/builders.js";

const NOW = new Date("2026-01-01T00:00:00.000Z");
const DAY = 86_400_000;
const cert = (days: number): SecretFingerprint => ({ kind: "apn", contentSha256: "c", certSha256: `cert-${days}`, notAfter: new Date(NOW.getTime() + days * DAY).toISOString() });

describe("status: certificate expiry from the ledger's fingerprints", () => {
  const soon = comms();
  const later = comms();
  const android = comms({ credentialType: "FCM", appName: "app_android" });
  const entries = new Map([
    [sid(1), ledgerEntry({ legacySid: sid(1), commsCredentialId: soon.id, secretById: { [soon.id]: cert(10) } })],
    [sid(2), ledgerEntry({ legacySid: sid(2), commsCredentialId: later.id, secretById: { [later.id]: cert(200) } })],
    [sid(3), ledgerEntry({ legacySid: sid(3), credentialType: "FCM", appName: "app_android", commsCredentialId: android.id, secretById: { [android.id]: { kind: "fcm", contentSha256: "f", projectId: "p" } } })],
  ]);

  it("shows notAfter and whole days left for each live credential; one within 30 days says so", () => {
    const s = computeStatus(entries, [soon, later, android], { now: NOW });
    expect(s.rows.map((r) => [r.legacySid, r.daysLeft, r.notAfter?.slice(0, 10)])).toEqual([
      [sid(1), 10, "2026-01-11"],
      [sid(2), 200, "2026-07-20"],
      [sid(3), undefined, undefined],
    ]);
    expect(s.rows[0]!.detail).toMatch(/its certificate expires in 10 day\(s\) — renew it, then apply replaces it/);
    expect(s.rows[1]!.detail).not.toMatch(/expires/);
    expect(s.expiring).toEqual([]);
    expect(s.drift).toBe(false);
  });

  it("--expiring-within names the credentials expiring within that many days (an expired one too)", () => {
    expect(computeStatus(entries, [soon, later, android], { now: NOW, expiringWithinDays: 9 }).expiring).toEqual([]);
    const s = computeStatus(entries, [soon, later, android], { now: NOW, expiringWithinDays: 10 });
    expect(s.expiring.map((r) => r.commsCredentialId)).toEqual([soon.id]);
    expect(s.summary["expiring-within-10-days"]).toBe(1);
    const past = computeStatus(entries, [soon, later, android], { now: new Date(NOW.getTime() + 11 * DAY), expiringWithinDays: 0 });
    expect(past.expiring.map((r) => [r.commsCredentialId, r.daysLeft])).toEqual([[soon.id, -1]]);
    expect(past.rows[0]!.detail).toMatch(/expired 1 day\(s\) ago/);
  });

  it("a credential no longer in Comms has no expiry to watch", () => {
    const s = computeStatus(entries, [later, android], { now: NOW, expiringWithinDays: 30 });
    expect(s.rows[0]).toMatchObject({ kind: "missing" });
    expect(s.rows[0]!.daysLeft).toBeUndefined();
    expect(s.expiring).toEqual([]);
  });
});

describe("status: legacy-gone", () => {
  it("a live credential whose legacy sid is no longer listed is legacy-gone, not drift; drift rows keep their kind", () => {
    const a = comms();
    const entries = new Map([
      [sid(1), ledgerEntry({ legacySid: sid(1), commsCredentialId: a.id })],
      [sid(2), ledgerEntry({ legacySid: sid(2), commsCredentialId: "comms_credential_gone" })],
    ]);
    const s = computeStatus(entries, [a], { now: NOW, legacySids: new Set() });
    expect(s.rows.map((r) => r.kind)).toEqual(["legacy-gone", "missing"]);
    expect(s.rows[0]!.detail).toMatch(/legacy credential no longer exists .* kept/);
    expect(computeStatus(new Map([[sid(1), entries.get(sid(1))!]]), [a], { now: NOW, legacySids: new Set() }).drift).toBe(false);
    expect(computeStatus(entries, [a], { now: NOW, legacySids: new Set([sid(1)]) }).rows[0]!.kind).toBe("in-sync");
  });
});

describe("--expiring-within", () => {
  it("takes whole days, 0 or more; anything else is a usage error naming the flag", () => {
    expect(parseExpiringWithin(undefined)).toBeUndefined();
    expect(parseExpiringWithin("0")).toBe(0);
    expect(parseExpiringWithin("30")).toBe(30);
    for (const bad of ["-1", "1.5", "", "ten", "30d", "1e3"]) {
      expect(() => parseExpiringWithin(bad)).toThrow(UsageError);
      expect(() => parseExpiringWithin(bad)).toThrow(/--expiring-within must be a whole number of days/);
    }
  });
});
