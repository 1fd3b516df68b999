import type { CommsCredential, CredentialType } from "../domain.js";
import { RECONCILE_CLOCK_SKEW_MS, REQUEST_TIMEOUT_MS } from "../limits.js";

/** A create attempt whose answer was lost, as the ledger (or the writer) knows it. */
export interface LostAttempt {
  appName: string;
  credentialType: CredentialType;
  startedAt: string;
  /** When the lost answer was noticed; absent after a crash. */
  unknownAt?: string;
  /** When the request was last re-sent (after a 429/503), if it was. */
  lastSentAt?: string;
  /** Credentials of this App and type that existed before the attempt. */
  priorIds?: readonly string[];
}

/**
 * The Comms credentials that could be what a lost create made: same App and type, created between
 * the attempt's start and the last moment it could have been carried out (when the loss was
 * noticed, or the request timeout after its last send, for a crash) with the clock-skew allowance on both sides, not
 * claimed by any ledger entry, and not among those that existed before. Oldest first. Comms keeps
 * no content fingerprint, so more than one candidate is ambiguous and must not be guessed at.
 */
export function adoptionCandidates(attempt: LostAttempt, comms: readonly CommsCredential[], claimed: ReadonlySet<string>): CommsCredential[] {
  const from = Date.parse(attempt.startedAt) - RECONCILE_CLOCK_SKEW_MS;
  const lastSent = Date.parse(attempt.lastSentAt ?? attempt.startedAt);
  const until = (attempt.unknownAt ? Date.parse(attempt.unknownAt) : lastSent + REQUEST_TIMEOUT_MS) + RECONCILE_CLOCK_SKEW_MS;
  const prior = new Set(attempt.priorIds ?? []);
  return comms
    .filter((c) => {
      const created = Date.parse(c.createdAt);
      return (
        c.appName === attempt.appName &&
        c.credentialType === attempt.credentialType &&
        created >= from &&
        created <= until &&
        !claimed.has(c.id) &&
        !prior.has(c.id)
      );
    })
    .sort((a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt) || a.id.localeCompare(b.id));
}
