import type { CredentialType, SecretFingerprint } from "../domain.js";

/**
 * One line of `reports/ledger.jsonl`. Append-only; each event is flushed (fsync) before the
 * next step. `v` is the event schema version.
 */
export type LedgerEvent =
  | (LedgerBase & {
      event: "attempt";
      attemptId: string;
      appName: string;
      credentialType: CredentialType;
      isDefault: boolean;
      /** ISO time just before the create request was sent; reconciliation lists from here. */
      startedAt: string;
      /**
       * `startedAt` on Comms' clock (by the `Date` of its latest answer), when one was known: the
       * window reconciliation searches is Comms' `createdAt`, so a skewed local clock cannot move it.
       */
      serverStartedAt?: string;
      secret?: SecretFingerprint;
      /**
       * Comms credentials of this App and type that existed before the attempt (from the run's
       * observation). None of them can be its result: reconciliation never adopts them.
       */
      priorIds?: string[];
      /**
       * A replacement (rotation): the sid's live Comms credential this create replaces. Once the
       * new one is confirmed (and made the default when `replacesDefault`), the old one is deleted
       * (`deleted` with `reason: "replaced by …"`). Absent for an ordinary create.
       */
      replaces?: string;
      /** With `replaces`: the old credential was its App's default for the type when the replacement began. */
      replacesDefault?: boolean;
    })
  | (LedgerBase & {
      event: "accepted";
      attemptId: string;
      commsCredentialId: string;
      resourceLocation?: string;
      /** true when the credential was found by reconciliation rather than by a 202 answer. */
      reconciled?: boolean;
    } & RebuiltTarget)
  | (LedgerBase & { event: "confirmed"; commsCredentialId: string } & RebuiltTarget)
  | (LedgerBase & { event: "unconfirmed"; commsCredentialId: string; reason: string })
  | (LedgerBase & { event: "failed"; attemptId?: string; error: string; status?: number })
  /** The create is being sent again (after a 429/503): it can have been carried out as late as this. */
  | (LedgerBase & { event: "resent"; attemptId: string })
  /** The create was sent but its answer was lost and reconciliation found nothing yet; still pending. */
  | (LedgerBase & { event: "unknown"; attemptId: string; reason: string })
  /** The attempt did not create anything (reconciliation found nothing); safe to try again. */
  | (LedgerBase & { event: "abandoned"; attemptId: string; reason: string })
  /**
   * A credential that an abandoned attempt of this sid made after all (it appeared after the attempt
   * was given up and re-sent): cr2comms's own duplicate — status shows it orphaned, rollback deletes it.
   */
  | (LedgerBase & { event: "surfaced"; attemptId: string; commsCredentialId: string })
  | (LedgerBase & { event: "default-set"; commsCredentialId: string; isDefault: boolean })
  /**
   * Comms accepted (202) rollback's DELETE of the credential, and it was not yet seen gone: written
   * when the 202 arrives. Until a `deleted` follows, the credential counts as gone for rollback's
   * last-credential guard, and a later rollback confirms it (or sends the DELETE again).
   */
  | (LedgerBase & { event: "delete-accepted"; commsCredentialId: string; reason?: string })
  | (LedgerBase & { event: "deleted"; commsCredentialId: string; reason?: string })
  | AccountEvent;

/**
 * An event about the account rather than one legacy credential (no `legacySid`); replay leaves
 * them out of the per-sid entries. The default App: `app-default-requested` is written before
 * the PATCH, `app-default-set` once a read shows the App as the default (`patched: false` when
 * Comms made it the default by itself, as the account's first App).
 */
export type AccountEvent =
  | (AccountBase & { event: "app-default-requested"; appName: string; from?: string })
  | (AccountBase & { event: "app-default-set"; appName: string; from?: string; patched: boolean });

export const ACCOUNT_EVENTS: readonly AccountEvent["event"][] = ["app-default-requested", "app-default-set"];

/** True for an account-level event (it has no legacy sid). */
export function isAccountEvent(e: { event: string }): e is AccountEvent {
  return (ACCOUNT_EVENTS as readonly string[]).includes(e.event);
}

/** No legacy sid (`legacySid` is declared absent so that code reading `e.legacySid` on any event still type-checks). */
type AccountBase = Omit<LedgerBase, "legacySid"> & { legacySid?: undefined };

/** A `deleted` event's reason starts with this when a replacement (rotation) took the credential's place. */
export const REPLACED_REASON = "replaced by ";

/** The only event schema version this cr2comms reads and writes. */
export const LEDGER_VERSION = 1;

interface LedgerBase {
  v: 1;
  /** ISO time the event was written (for a rebuilt event: when the report says it happened). */
  ts: string;
  legacySid: string;
  /** Run id (one per apply/rollback invocation). */
  runId?: string;
  /** The Twilio account the event belongs to; a ledger never mixes accounts. */
  accountSid?: string;
  /** Written by `cr2comms ledger rebuild` from a report, not by the run that did the step. */
  rebuilt?: true;
}

/**
 * A rebuilt `accepted`/`confirmed` event has no `attempt` before it, so it carries what the
 * attempt would have recorded: where the credential is and the fingerprint of its secret.
 */
interface RebuiltTarget {
  appName?: string;
  credentialType?: CredentialType;
  isDefault?: boolean;
  secret?: SecretFingerprint;
}

export type LedgerEventInput = LedgerEvent extends infer E ? (E extends LedgerEvent ? Omit<E, "v" | "ts"> : never) : never;

/** What the ledger knows about one legacy sid after replaying every event. */
export interface LedgerEntry {
  legacySid: string;
  appName?: string;
  credentialType?: CredentialType;
  /** The Comms credential this tool created for the sid (latest), if any is known. */
  commsCredentialId?: string;
  resourceLocation?: string;
  /** When the last `accepted` event was written. */
  acceptedAt?: string;
  /**
   * - `pending`: an attempt with no recorded outcome (crash / lost answer) — reconcile before creating.
   * - `accepted`: 202 seen (or adopted), not yet confirmed visible.
   * - `confirmed`: seen in Comms.
   * - `failed`: the last attempt failed without creating anything.
   * - `deleted`: deleted by rollback.
   */
  state: "pending" | "accepted" | "confirmed" | "unconfirmed" | "failed" | "deleted";
  /** The last attempt, kept for reconciliation. */
  lastAttempt?: {
    attemptId: string;
    startedAt: string;
    appName: string;
    credentialType: CredentialType;
    priorIds?: string[];
    /** `startedAt` on Comms' clock, when it was known (see the `attempt` event). */
    serverStartedAt?: string;
    /** When the lost answer was noticed: the attempt cannot have created anything after this. */
    unknownAt?: string;
    /** When the request was last (re)sent. */
    lastSentAt?: string;
  };
  /**
   * Attempts given up on (`abandoned`) after nothing appeared within the settle time. What they made
   * may still appear: it is never anyone else's to adopt (see `reconcileLost`).
   */
  abandonedAttempts?: { attemptId: string; startedAt: string; appName: string; credentialType: CredentialType; priorIds?: string[]; serverStartedAt?: string; unknownAt?: string; lastSentAt?: string }[];

  secret?: SecretFingerprint;
  /** The fingerprint of what was sent for each Comms id this tool created (from its attempt). */
  secretById?: Record<string, SecretFingerprint>;
  /**
   * A replacement that has begun and whose old credential is not yet deleted. While the new one is
   * not confirmed, `commsCredentialId` and `secret` still describe the old one.
   */
  replacing?: {
    oldId: string;
    attemptId: string;
    /** The old credential was the default when the replacement began: the new one is made the default. */
    oldWasDefault: boolean;
    /** The new credential's fingerprint (the attempt's). */
    secret?: SecretFingerprint;
    /** The new credential, once accepted. */
    newId?: string;
    /** The ledger state of the old credential when the replacement began (restored if the create fails). */
    oldState: LedgerEntry["state"];
  };
  /**
   * Comms ids (current or superseded) whose rollback DELETE Comms accepted (`delete-accepted`) and
   * that were not yet seen gone (no `deleted` since).
   */
  pendingDeletes?: string[];
  /** Comms ids this tool deleted because a replacement took their place. */
  replacedIds?: string[];
  isDefault?: boolean;
  /** Every Comms id this tool ever created for the sid (a recreate adds one). */
  createdIds: string[];
  /** Run ids that touched this sid. */
  runIds: string[];
}

/** umzug-style storage: append, and replay into entries. */
export interface Ledger {
  append(event: LedgerEventInput): Promise<void>;
  /** All events in order. */
  events(): Promise<LedgerEvent[]>;
  /** Replayed state per legacy sid. */
  entries(): Promise<Map<string, LedgerEntry>>;
}
