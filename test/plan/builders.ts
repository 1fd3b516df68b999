import type { CommsCredential, LegacyCredential, SecretResult } from "../../src/domain.js";
import type { LedgerEntry } from "../../src/ledger/types.js";
import type { Mapping, MappingEntry } from "../../src/mapping/types.js";
import type { Snapshot } from "../../src/plan/types.js";

export const ACCOUNT = "AC00000000000000000000000000000000";
export const NOW = new Date("2025-06-01T12:00:00.000Z");

/** `CR` + 32 hex, derived from a small number so tests read `sid(1)`, `sid(2)`. */
export function sid(n: number): string {
  return `CR${n.toString(16).padStart(32, "0")}`;
}

export function legacy(over: Partial<LegacyCredential> = {}): LegacyCredential {
  const s = over.sid ?? sid(1);
  return {
    sid: s,
    accountSid: ACCOUNT,
    friendlyName: `cred ${s.slice(-4)}`,
    type: "apn",
    sandbox: false,
    sandboxRaw: "False",
    dateCreated: "2020-01-01T00:00:00Z",
    dateUpdated: "2020-01-01T00:00:00Z",
    url: null,
    ...over,
  };
}

let entryIndex = 0;
export function entry(over: Partial<MappingEntry> = {}): MappingEntry {
  return { sid: sid(1), appName: "app_ios", index: entryIndex++, ...over };
}

let commsSeq = 0;
export function comms(over: Partial<CommsCredential> = {}): CommsCredential {
  commsSeq++;
  return {
    id: `comms_credential_${String(commsSeq).padStart(6, "0")}`,
    credentialType: "APN",
    isDefault: false,
    appName: "app_ios",
    createdAt: "2025-05-01T00:00:00.000Z",
    updatedAt: "2025-05-01T00:00:00.000Z",
    ...over,
  };
}

export function ledgerEntry(over: Partial<LedgerEntry> = {}): LedgerEntry {
  const id = over.commsCredentialId;
  return {
    legacySid: sid(1),
    appName: "app_ios",
    credentialType: "APN",
    state: "confirmed",
    createdIds: id ? [id] : [],
    runIds: ["run-1"],
    ...over,
  };
}

/** A secret that passed validation; the digest is derived from `tag` so two tags differ. */
export function okSecret(forSid: string, tag = "v1"): SecretResult {
  const fingerprint = { kind: "apn" as const, contentSha256: `sha-${forSid}-${tag}`, subject: "CN=Apple Push Services: test" };
  return {
    secret: { kind: "apn", certificatePem: "-----BEGIN CERTIFICATE-----", privateKeyPem: "-----BEGIN PRIVATE KEY-----", fingerprint },
    fingerprint,
    warnings: [],
    problems: [],
  };
}

export function mapping(...credentials: MappingEntry[]): Mapping {
  // Indexes follow file order, as the loader sets them.
  return { version: 1, credentials: credentials.map((c, index) => ({ ...c, index })), path: "/m/migration.yaml" };
}

export function snapshot(over: Partial<Snapshot> = {}): Snapshot {
  return { accountSid: ACCOUNT, legacy: [], comms: [], ledger: new Map(), observedAt: NOW.toISOString(), ...over };
}

export function ledgerOf(...entries: LedgerEntry[]): Map<string, LedgerEntry> {
  return new Map(entries.map((e) => [e.legacySid, e]));
}

/** `okSecret` for each sid. */
export function secretsFor(...sids: string[]): Map<string, SecretResult> {
  return new Map(sids.map((s) => [s, okSecret(s)]));
}
