/**
 * Reading a saved plan file back (`apply --plan`). Apart from `planfile.ts` so that zod, which
 * costs more start-up than any other module of a run, loads only when a saved plan is read.
 */
import { z } from "zod";
import { CREDENTIAL_TYPES, type CredentialType } from "../domain.js";
import { UsageError } from "../errors.js";
import { PLAN_FILE_VERSION } from "./planfile.js";
import { OBSERVED_PARTS, PLAN_ACTIONS, type ObservedPart, type Plan, type PlanAction } from "./types.js";

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
      serverStartedAt: z.string().optional(),
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
