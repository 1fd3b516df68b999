import { createHash } from "node:crypto";
import { z } from "zod";
import { CREDENTIAL_TYPES, type CredentialType, type SecretResult } from "../domain.js";
import { UsageError } from "../errors.js";
import type { Mapping } from "../mapping/types.js";
import { OBSERVED_PARTS, PLAN_ACTIONS, type ObservedPart, type ObservedParts, type Plan, type PlanAction, type Snapshot } from "./types.js";

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

const fingerprintSchema = z.object({
  kind: z.enum(["apn", "fcm"]),
  contentSha256: z.string(),
  certSha256: z.string().optional(),
  subject: z.string().optional(),
  notAfter: z.string().optional(),
  environment: z.enum(["development", "production", "both", "unknown"]).optional(),
  projectId: z.string().optional(),
  clientEmail: z.string().optional(),
  keyId: z.string().optional(),
});

const itemSchema = z.object({
  legacySid: z.string(),
  friendlyName: z.string().nullable(),
  legacyType: z.string(),
  sandbox: z.boolean().nullable(),
  action: z.enum(PLAN_ACTIONS as [PlanAction, ...PlanAction[]]),
  target: z
    .object({ appName: z.string(), credentialType: z.enum(CREDENTIAL_TYPES as [CredentialType, ...CredentialType[]]), isDefault: z.boolean() })
    .optional(),
  commsCredentialId: z.string().optional(),
  // Every field: a saved plan must reconcile exactly as a fresh one (priorIds keep pre-existing credentials out).
  reconcileFrom: z
    .object({
      attemptId: z.string(),
      startedAt: z.string(),
      appName: z.string().optional(),
      credentialType: z.enum(CREDENTIAL_TYPES as [CredentialType, ...CredentialType[]]).optional(),
      unknownAt: z.string().optional(),
      lastSentAt: z.string().optional(),
      priorIds: z.array(z.string()).optional(),
    })
    .optional(),
  replace: z
    .object({
      oldId: z.string(),
      oldSecret: fingerprintSchema.optional(),
      oldWasDefault: z.boolean(),
      forced: z.boolean().optional(),
      newId: z.string().optional(),
      newVisible: z.boolean().optional(),
    })
    .optional(),
  recreate: z.boolean().optional(),
  surfaced: z.array(z.object({ attemptId: z.string(), commsCredentialId: z.string() })).optional(),
  liveDefault: z.boolean().optional(),
  warnings: z.array(z.string()),
  problems: z.array(z.string()),
  secret: fingerprintSchema.optional(),
});

const planSchema = z.object({
  schemaVersion: z.literal(1),
  generatedAt: z.string(),
  accountSid: z.string(),
  mappingPath: z.string(),
  mappingDisplayPath: z.string().optional(),
  problems: z.array(z.string()),
  accountProblems: z.array(z.string()).optional(),
  warnings: z.array(z.string()),
  items: z.array(itemSchema),
  accountActions: z
    .array(
      z.object({
        action: z.literal("set-default-app"),
        appName: z.string(),
        from: z.string().optional(),
        via: z.enum(["first-create", "patch"]),
        appCreated: z.boolean().optional(),
      }),
    )
    .optional(),
  observedFingerprint: z.string().regex(/^[0-9a-f]{64}$/),
  observedParts: z
    .object(Object.fromEntries(OBSERVED_PARTS.map((part) => [part, z.string().regex(/^[0-9a-f]{64}$/)])) as Record<ObservedPart, z.ZodString>)
    .optional(),
});

/** Reads a file written by `serializePlanFile`; anything else is a `UsageError` naming `path`. */
export function parsePlanFile(text: string, path: string): Plan {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`plan file ${path} is not valid JSON`, { cause: err });
  }
  if (typeof data !== "object" || data === null || !("version" in data)) {
    throw new UsageError(`plan file ${path} has no "version"; it was not written by cr2comms plan`);
  }
  const { version } = data as { version: unknown };
  if (version !== PLAN_FILE_VERSION) {
    throw new UsageError(`plan file ${path} has version ${JSON.stringify(version)}; this cr2comms reads version ${PLAN_FILE_VERSION}`);
  }
  const parsed = planSchema.safeParse((data as { plan?: unknown }).plan);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    const where = first ? `plan.${first.path.join(".")}: ${first.message}` : "invalid";
    throw new UsageError(`plan file ${path} is malformed (${where})`);
  }
  return parsed.data;
}
