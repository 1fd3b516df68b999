import { createHash } from "node:crypto";
import { z } from "zod";
import { CREDENTIAL_TYPES, type CredentialType, type SecretResult } from "../domain.js";
import { UsageError } from "../errors.js";
import type { Mapping } from "../mapping/types.js";
import { PLAN_ACTIONS, type Plan, type PlanAction, type Snapshot } from "./types.js";

/** Version of the saved plan file envelope (`{ version, plan }`). */
export const PLAN_FILE_VERSION = 1;

/**
 * SHA-256 (hex) over a canonical view of what the plan was computed from. Every list is sorted,
 * so the order the APIs or the mapping file list things in does not change it.
 */
export function fingerprintObservation(snapshot: Snapshot, mapping: Mapping, secrets: ReadonlyMap<string, SecretResult>): string {
  const sorted = (rows: unknown[]): string[] => rows.map((r) => JSON.stringify(r)).sort();
  const canonical = {
    accountSid: snapshot.accountSid,
    legacy: sorted(snapshot.legacy.map((c) => [c.sid, c.type, c.sandbox])),
    comms: sorted(snapshot.comms.map((c) => [c.id, c.appName, c.credentialType, c.isDefault])),
    ledger: sorted([...snapshot.ledger.values()].map((e) => [e.legacySid, e.state, e.commsCredentialId ?? null])),
    // The index is left out on purpose: moving an entry in the file changes nothing that is done.
    mapping: sorted(
      mapping.credentials.map((m) => [
        m.sid,
        m.appName ?? null,
        m.isDefault ?? null,
        m.credentialType ?? null,
        m.skip ?? null,
        m.secrets ? Object.entries(m.secrets).sort(([a], [b]) => a.localeCompare(b)) : null,
      ]),
    ),
    secrets: sorted(
      [...secrets.entries()].map(([sid, r]) => [sid, (r.secret?.fingerprint ?? r.fingerprint)?.contentSha256 ?? null]),
    ),
  };
  return createHash("sha256").update(JSON.stringify(canonical)).digest("hex");
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
  recreate: z.boolean().optional(),
  warnings: z.array(z.string()),
  problems: z.array(z.string()),
  secret: fingerprintSchema.optional(),
});

const planSchema = z.object({
  schemaVersion: z.literal(1),
  generatedAt: z.string(),
  accountSid: z.string(),
  mappingPath: z.string(),
  problems: z.array(z.string()),
  accountProblems: z.array(z.string()).optional(),
  warnings: z.array(z.string()),
  items: z.array(itemSchema),
  observedFingerprint: z.string().regex(/^[0-9a-f]{64}$/),
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
