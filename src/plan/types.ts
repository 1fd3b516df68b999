import type { CommsCredential, CredentialType, LegacyCredential, SecretFingerprint, Target } from "../domain.js";
import type { CommsApp } from "../comms/types.js";
import type { LedgerEntry } from "../ledger/types.js";

export type PlanAction =
  | "create"
  | "already-migrated"
  | "update-default"
  | "replace"
  | "legacy-gone"
  | "drop"
  | "unmapped"
  | "skip"
  | "blocked";

export const PLAN_ACTIONS: readonly PlanAction[] = [
  "create",
  "already-migrated",
  "update-default",
  "replace",
  "legacy-gone",
  "drop",
  "unmapped",
  "skip",
  "blocked",
];

/** Everything `observe()` read, handed to the pure planner. */
export interface Snapshot {
  accountSid: string;
  legacy: LegacyCredential[];
  comms: CommsCredential[];
  ledger: Map<string, LedgerEntry>;
  /** The account's Comms Apps, read when the mapping names a `defaultApp` (absent otherwise). */
  apps?: CommsApp[];
  observedAt: string;
  /** What observing had to skip or could not read whole (plan-level warnings). */
  warnings?: string[];
}

/** One plan item per legacy credential (exactly one). */
export interface PlanItem {
  legacySid: string;
  friendlyName: string | null;
  legacyType: string;
  sandbox: boolean | null;
  action: PlanAction;
  target?: Target;
  /** The Comms credential this item refers to, when known (already-migrated, update-default). */
  commsCredentialId?: string;
  /**
   * For `create`: the ledger has an attempt with no recorded outcome, so the writer reconciles
   * against the live Comms list (`appName`, `credentialType`, `startDate`) before creating.
   */
  reconcileFrom?: {
    attemptId: string;
    startedAt: string;
    appName?: string;
    credentialType?: CredentialType;
    unknownAt?: string;
    lastSentAt?: string;
    priorIds?: string[];
    serverStartedAt?: string;
  };
  /**
   * For `replace`: the live credential being replaced (`oldId`), and how far an earlier run got.
   * The item's `commsCredentialId` is the new credential once one exists; `secret` is the new secret.
   */
  replace?: ReplaceStep;
  /** For `create`: the ledger says this was migrated before but it is gone from Comms. */
  recreate?: boolean;
  /** Credentials attempts of this sid that were given up on made after all: the writer records them (no Comms write). */
  surfaced?: { attemptId: string; commsCredentialId: string }[];
  /**
   * Whether Comms lists the item's live credential (`commsCredentialId`) as its App's default for
   * the type, as observed. Absent when no live Comms credential is known for the item.
   */
  liveDefault?: boolean;
  warnings: string[];
  problems: string[];
  secret?: SecretFingerprint;
}

/** What a `replace` item replaces and what the writer still has to do. */
export interface ReplaceStep {
  /** The live Comms credential being replaced; deleted last. */
  oldId: string;
  /** The fingerprint the ledger recorded for it (absent when it was migrated before fingerprints were kept). */
  oldSecret?: SecretFingerprint;
  /** The old credential was (or, after a crash, was when the replacement began) its App's default for the type. */
  oldWasDefault: boolean;
  /** `apply --replace <sid>` asked for it (no fingerprint difference needed). */
  forced?: boolean;
  /**
   * The new credential an earlier run created (accepted or confirmed): it is not created again.
   * `newVisible`: the plan saw it listed in Comms.
   */
  newId?: string;
  newVisible?: boolean;
}

/**
 * A change to the account rather than to one legacy credential: making the mapping's `defaultApp`
 * the account's default App. Counted by `hasChanges`, rendered in both reports, journalled in the
 * ledger as account-level events, carried out by the writer as its own step.
 */
export interface AccountAction {
  action: "set-default-app";
  /** The App that becomes the account's default App (the mapping's `defaultApp`). */
  appName: string;
  /** The account's default App when observed; absent when the account has no App yet. */
  from?: string;
  /**
   * - `first-create`: the account has no Apps; the App's first credential is created (and
   *   confirmed) before any other App's, so Comms makes it the default App. No PATCH.
   * - `patch`: `PATCH …/Apps/{appName}` with `{isDefault: true}`, after the App's first create
   *   when it does not exist yet (`appCreated`).
   */
  via: "first-create" | "patch";
  /** The App does not exist yet: this plan's creates make it. */
  appCreated?: boolean;
}

export const ACCOUNT_ACTIONS: readonly AccountAction["action"][] = ["set-default-app"];

export interface Plan {
  schemaVersion: 1;
  generatedAt: string;
  accountSid: string;
  mappingPath: string;
  /** The mapping path as reports show it (relative to the working directory); see `Mapping.displayPath`. */
  mappingDisplayPath?: string;
  /** Problems not tied to one legacy credential (unknown or duplicate sids in the mapping, and `accountProblems`). */
  problems: string[];
  /**
   * Problems whose fix changes other entries (the Comms limits, conflicting defaults): `apply`
   * writes nothing at all while there is one. Also listed in `problems`. Absent in plan files
   * written before this field existed.
   */
  accountProblems?: string[];
  warnings: string[];
  items: PlanItem[];
  /** Changes to the account itself (the default App). Absent in plan files written before it existed. */
  accountActions?: AccountAction[];
  /**
   * SHA-256 over what was observed (legacy sids/types/sandbox, Comms ids/defaults, ledger states,
   * secret fingerprints). `apply --plan` refuses a saved plan whose fingerprint no longer matches.
   */
  observedFingerprint: string;
  /**
   * SHA-256 per part of what was observed, so that a stale plan can say what changed
   * (`describeStaleness`). Absent in plan files written before it existed.
   */
  observedParts?: ObservedParts;
}

/** The parts of an observation that are digested separately (`Plan.observedParts`). */
export const OBSERVED_PARTS = ["legacy", "comms", "ledger", "mapping", "secrets"] as const;
export type ObservedPart = (typeof OBSERVED_PARTS)[number];
export type ObservedParts = Record<ObservedPart, string>;

/** Count of items per action. */
export function summarize(items: readonly { action: string }[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of items) out[item.action] = (out[item.action] ?? 0) + 1;
  return out;
}

/** True when the plan has blocking problems (exit 1). */
export function isBlocked(plan: Plan): boolean {
  return plan.problems.length > 0 || plan.items.some((i) => i.action === "blocked");
}

/** True when applying the plan would write to Comms. */
export function hasChanges(plan: Plan): boolean {
  return (plan.accountActions?.length ?? 0) > 0 || plan.items.some((i) => i.action === "create" || i.action === "update-default" || i.action === "replace");
}
