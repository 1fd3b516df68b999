import type { CommsCredential, CredentialType } from "../domain.js";
import { RECONCILE_CLOCK_SKEW_MS, REQUEST_TIMEOUT_MS } from "../limits.js";

/** A create attempt whose answer was lost, as the ledger (or the writer) knows it. */
export interface LostAttempt {
  appName: string;
  credentialType: CredentialType;
  startedAt: string;
  /**
   * `startedAt` on Comms' clock, when it was known: the difference to `startedAt` moves the whole
   * window onto Comms' clock (its `createdAt`). Absent: the two clocks are taken to agree.
   */
  serverStartedAt?: string;
  /** When the lost answer was noticed; absent after a crash. */
  unknownAt?: string;
  /** When the request was last re-sent (after a 429/503), if it was. */
  lastSentAt?: string;
  /** Credentials of this App and type that existed before the attempt. */
  priorIds?: readonly string[];
  /** Whose attempt it is: attempts of one legacy sid carry one secret, so they are never each other's rivals. */
  legacySid?: string;
}

/** How far apart this machine's clock and Comms' may be (`RECONCILE_CLOCK_SKEW_MS`, or `--clock-skew-seconds`). */
export interface WindowOptions {
  skewMs?: number;
}

/** The last moment (this machine's clock) at which the attempt can have been carried out, before the skew allowance. */
export function lastPossibleCommit(attempt: LostAttempt): number {
  const lastSent = Date.parse(attempt.lastSentAt ?? attempt.startedAt);
  return attempt.unknownAt ? Date.parse(attempt.unknownAt) : lastSent + REQUEST_TIMEOUT_MS;
}

/**
 * Until when (this machine's clock) a new create of the same App and type could still land inside
 * the attempt's window: the window's end plus the skew once more, for a Comms clock running behind.
 * Creating after this can never make a credential this attempt could be blamed for.
 */
export function windowClosesAt(attempt: LostAttempt, opts: WindowOptions = {}): number {
  return lastPossibleCommit(attempt) + 2 * (opts.skewMs ?? RECONCILE_CLOCK_SKEW_MS);
}

/**
 * True when `c` could be what the lost create made, judging by time alone: created between the
 * attempt's start and the last moment it could have been carried out (when the loss was noticed,
 * or the request timeout after its last send, for a crash), on this machine's clock or on Comms'
 * as its answers showed it, whichever is wider, with the clock-skew allowance on both sides, in
 * the same App and type.
 */
export function withinWindow(attempt: LostAttempt, c: CommsCredential, opts: WindowOptions = {}): boolean {
  const skew = opts.skewMs ?? RECONCILE_CLOCK_SKEW_MS;
  // Both clocks bound the window: a `Date` header can be wrong too (a front end with its own clock),
  // and a window moved onto it alone would miss what the create made (then sent again).
  const offset = serverOffset(attempt);
  const from = Date.parse(attempt.startedAt) + Math.min(0, offset) - skew;
  const until = lastPossibleCommit(attempt) + Math.max(0, offset) + skew;
  const created = Date.parse(c.createdAt);
  return c.appName === attempt.appName && c.credentialType === attempt.credentialType && created >= from && created <= until;
}

/** Comms' clock minus this machine's when the attempt was made (0 when unknown). */
export function serverOffset(attempt: LostAttempt): number {
  const offset = attempt.serverStartedAt === undefined ? NaN : Date.parse(attempt.serverStartedAt) - Date.parse(attempt.startedAt);
  return Number.isNaN(offset) ? 0 : offset;
}

/**
 * The Comms credentials that could be what a lost create made: inside its window (`withinWindow`),
 * not claimed by any ledger entry, and not among those that existed before. Oldest first. Comms
 * keeps no content fingerprint, so more than one candidate is ambiguous and must not be guessed at.
 */
export function adoptionCandidates(attempt: LostAttempt, comms: readonly CommsCredential[], claimed: ReadonlySet<string>, opts: WindowOptions = {}): CommsCredential[] {
  const prior = new Set(attempt.priorIds ?? []);
  return comms
    // A credential Comms listed without an id can be neither confirmed nor deleted: never adopted.
    .filter((c) => c.id !== "" && withinWindow(attempt, c, opts) && !claimed.has(c.id) && !prior.has(c.id))
    .sort((a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt) || a.id.localeCompare(b.id));
}

/** What one look at Comms says about a lost create. */
export type Reconciled = { kind: "none" } | { kind: "one"; credential: CommsCredential } | { kind: "ambiguous"; ids: string[]; reason: string };

/**
 * Decides a lost create's outcome from one list of Comms: its single candidate, nothing, or
 * ambiguous — several candidates, or one that another unresolved attempt of the same App and type
 * for another legacy sid (`rivals`) could equally have made. With two lost creates in one (App, type), a lone new
 * credential could be either's, so neither may take it.
 */
export function reconcileLost(
  attempt: LostAttempt,
  comms: readonly CommsCredential[],
  claimed: ReadonlySet<string>,
  rivals: readonly LostAttempt[] = [],
  opts: WindowOptions = {},
): Reconciled {
  const candidates = adoptionCandidates(attempt, comms, claimed, opts);
  if (candidates.length > 1) {
    return { kind: "ambiguous", ids: candidates.map((c) => c.id), reason: `${candidates.length} new credentials in ${attempt.appName} ${attempt.credentialType} could be its result` };
  }
  const only = candidates[0];
  if (!only) return { kind: "none" };
  const rival = rivals.find(
    (r) => r !== attempt && !(attempt.legacySid !== undefined && r.legacySid === attempt.legacySid) && withinWindow(r, only, opts) && !(r.priorIds ?? []).includes(only.id),
  );
  if (rival) {
    return {
      kind: "ambiguous",
      ids: [only.id],
      reason: `${only.id} could be the result of this attempt or of another create of ${attempt.appName} ${attempt.credentialType} (${rival.startedAt}) whose outcome is also unknown`,
    };
  }
  return { kind: "one", credential: only };
}
