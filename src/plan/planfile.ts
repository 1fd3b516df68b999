import { createHash } from "node:crypto";
import type { SecretResult } from "../domain.js";
import type { Mapping } from "../mapping/types.js";
import { OBSERVED_PARTS, type ObservedPart, type ObservedParts, type Plan, type Snapshot } from "./types.js";

/** Version of the saved plan file envelope (`{ version, plan }`). */
export const PLAN_FILE_VERSION = 1;

/** A canonical view of what the plan was computed from; every list is sorted. */
function canonicalObservation(snapshot: Snapshot, mapping: Mapping, secrets: ReadonlyMap<string, SecretResult>) {
  const sorted = (rows: unknown[]): string[] => rows.map((r) => JSON.stringify(r)).sort();
  return {
    accountSid: snapshot.accountSid,
    legacy: sorted(snapshot.legacy.map((c) => [c.sid, c.type, c.sandbox])),
    comms: sorted([
      ...snapshot.comms.map((c) => [c.id, c.appName, c.credentialType, c.isDefault]),
      // Only when the Apps were read (the mapping names a defaultApp): the account's default App.
      ...(snapshot.apps ? [["default-app", snapshot.apps.find((a) => a.isDefault)?.name ?? null]] : []),
    ]),
    ledger: sorted([...snapshot.ledger.values()].map((e) => [e.legacySid, e.state, e.commsCredentialId ?? null])),
    // The index is left out on purpose: moving an entry in the file changes nothing that is done.
    mapping: sorted([
      ...mapping.credentials.map((m) => [
        m.sid,
        m.appName ?? null,
        m.isDefault ?? null,
        m.credentialType ?? null,
        m.skip ?? null,
        m.secrets ? Object.entries(m.secrets).sort(([a], [b]) => a.localeCompare(b)) : null,
      ]),
      ...(mapping.defaultApp !== undefined ? [["defaultApp", mapping.defaultApp]] : []),
    ]),
    secrets: sorted(
      [...secrets.entries()].map(([sid, r]) => [sid, (r.secret?.fingerprint ?? r.fingerprint)?.contentSha256 ?? null]),
    ),
  };
}

const sha256 = (value: unknown): string => createHash("sha256").update(JSON.stringify(value)).digest("hex");

/**
 * SHA-256 (hex) over a canonical view of what the plan was computed from. Every list is sorted,
 * so the order the APIs or the mapping file list things in does not change it.
 */
export function fingerprintObservation(snapshot: Snapshot, mapping: Mapping, secrets: ReadonlyMap<string, SecretResult>): string {
  return sha256(canonicalObservation(snapshot, mapping, secrets));
}

/** One SHA-256 per part of the observation (`Plan.observedParts`), for `describeStaleness`. */
export function fingerprintParts(snapshot: Snapshot, mapping: Mapping, secrets: ReadonlyMap<string, SecretResult>): ObservedParts {
  const canonical = canonicalObservation(snapshot, mapping, secrets);
  // The account is part of every other digest: another account changes them all.
  return {
    legacy: sha256([canonical.accountSid, canonical.legacy]),
    comms: sha256([canonical.accountSid, canonical.comms]),
    ledger: sha256([canonical.accountSid, canonical.ledger]),
    mapping: sha256(canonical.mapping),
    secrets: sha256(canonical.secrets),
  };
}

const STALE_PART_TEXT: Record<ObservedPart, string> = {
  legacy: "the legacy credentials changed",
  comms: "the Comms credentials changed",
  ledger: "the ledger changed",
  mapping: "the mapping file changed",
  secrets: "the secrets changed",
};

/**
 * What changed between a saved plan and a fresh one of the same run, in words for `apply --plan`:
 * empty when the observed fingerprints match. A plan saved before part digests existed (or for
 * another account) can only say that something changed.
 */
export function describeStaleness(saved: Plan, fresh: Plan): string[] {
  if (saved.observedFingerprint === fresh.observedFingerprint) return [];
  if (saved.accountSid !== fresh.accountSid) return [`the plan was made for account ${saved.accountSid}, not ${fresh.accountSid}`];
  const before = saved.observedParts;
  const now = fresh.observedParts;
  if (!before || !now) return ["Twilio, the ledger, the mapping or the secrets changed (this plan file does not record which)"];
  const changed = OBSERVED_PARTS.filter((part) => before[part] !== now[part]).map((part) => STALE_PART_TEXT[part]);
  return changed.length > 0 ? changed : ["what was observed changed"];
}

/** The saved plan file: `{ "version": 1, "plan": … }`, pretty-printed. Holds fingerprints only, never secrets. */
export function serializePlanFile(plan: Plan): string {
  return `${JSON.stringify({ version: PLAN_FILE_VERSION, plan }, null, 2)}\n`;
}
