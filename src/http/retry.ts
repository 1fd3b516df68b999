/**
 * The one retry policy shared by the legacy reader and the Comms client.
 *
 * - 429 and 503 mean "not processed": retried for every method, honouring `Retry-After`.
 * - Idempotent requests (GET, DELETE, PATCH of the same value) are also retried on other 5xx
 *   and on network errors.
 * - A create (POST) that may have reached the server (connection reset/closed after sending,
 *   timeout, 500/502/504) is never re-sent: its outcome is unknown and the caller must reconcile.
 */
import { UnknownOutcomeError } from "../errors.js";
import {
  RETRY_AFTER_MAX_MS,
  RETRY_BASE_DELAY_MS,
  RETRY_MAX_ATTEMPTS,
  RETRY_MAX_DELAY_MS,
} from "../limits.js";

/** Milliseconds to wait before a `Retry-After` value (delta-seconds or HTTP-date); undefined if absent or unparseable. */
export function parseRetryAfterMs(header: string | null | undefined, now: number = Date.now()): number | undefined {
  if (header === null || header === undefined) return undefined;
  const value = header.trim();
  if (value === "") return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000);
  const at = Date.parse(value);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/**
 * Delay before retry number `attempt` (0 for the first retry). A usable `Retry-After` wins
 * (capped by `RETRY_AFTER_MAX_MS`); otherwise exponential backoff with full jitter:
 * `random() × min(RETRY_MAX_DELAY_MS, RETRY_BASE_DELAY_MS × 2^attempt)`.
 */
export function retryDelayMs(
  attempt: number,
  retryAfterHeader?: string | null,
  opts: { random?: () => number; now?: number } = {},
): number {
  const fromHeader = parseRetryAfterMs(retryAfterHeader, opts.now ?? Date.now());
  if (fromHeader !== undefined) return Math.min(fromHeader, RETRY_AFTER_MAX_MS);
  const random = opts.random ?? Math.random;
  const ceiling = Math.min(RETRY_MAX_DELAY_MS, RETRY_BASE_DELAY_MS * 2 ** Math.max(0, attempt));
  return Math.floor(random() * ceiling);
}

/** What to do with the outcome of one attempt. */
export type RetryDecision =
  /** Hand the outcome to the caller as is (success, or an error that retrying cannot fix). */
  | { kind: "done" }
  /** Safe to send again, after `Retry-After` if the server gave one. */
  | { kind: "retry"; reason: string; retryAfter?: string | null }
  /** The request may or may not have been carried out; never re-send it. */
  | { kind: "unknown-outcome"; reason: string };

/** The outcome of one attempt: a value (e.g. an HTTP response of any status) or a thrown error. */
export type AttemptOutcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** Information passed to `onRetry` before each wait. */
export interface RetryInfo {
  /** 1-based number of the attempt that just failed. */
  attempt: number;
  delayMs: number;
  reason: string;
}

export interface RetryOptions {
  /** Total attempts including the first; default `RETRY_MAX_ATTEMPTS`. */
  maxAttempts?: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  now?: () => number;
  /** Called once per retry, before sleeping (count retries, log). */
  onRetry?: (info: RetryInfo) => void;
  /** Used in the `UnknownOutcomeError` message, e.g. "POST https://…/Credentials". */
  description?: string;
}

export const defaultSleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms);
  });

/**
 * Runs `attempt` until `classify` says done, retries run out, or the outcome is unknown.
 * When retries run out the last outcome is returned (value) or rethrown (error) unchanged, so the
 * caller turns it into its own error. A `Retry-After` above `RETRY_AFTER_MAX_MS` also ends the
 * retries: waiting that long is treated as a failure.
 */
export async function withRetry<T>(
  attempt: (attemptNumber: number) => Promise<T>,
  classify: (outcome: AttemptOutcome<T>) => RetryDecision,
  opts: RetryOptions = {},
): Promise<T> {
  const maxAttempts = Math.max(1, opts.maxAttempts ?? RETRY_MAX_ATTEMPTS);
  const sleep = opts.sleep ?? defaultSleep;
  const now = opts.now ?? Date.now;
  for (let n = 1; ; n++) {
    let outcome: AttemptOutcome<T>;
    try {
      outcome = { ok: true, value: await attempt(n) };
    } catch (error) {
      outcome = { ok: false, error };
    }
    const decision = classify(outcome);
    if (decision.kind === "unknown-outcome") {
      const what = opts.description ? `${opts.description}: ` : "";
      throw new UnknownOutcomeError(`${what}outcome unknown (${decision.reason}); not re-sent`, {
        cause: outcome.ok ? undefined : outcome.error,
      });
    }
    const finish = (): T => {
      if (outcome.ok) return outcome.value;
      throw outcome.error;
    };
    if (decision.kind === "done" || n >= maxAttempts) return finish();
    const requested = parseRetryAfterMs(decision.retryAfter, now());
    if (requested !== undefined && requested > RETRY_AFTER_MAX_MS) return finish();
    const delayMs = retryDelayMs(n - 1, decision.retryAfter, { random: opts.random, now: now() });
    opts.onRetry?.({ attempt: n, delayMs, reason: decision.reason });
    await sleep(delayMs);
  }
}

/** The code of `RequestDeadlineError` (an answer not complete by the request's overall deadline). */
export const REQUEST_DEADLINE_CODE = "CR2COMMS_REQUEST_DEADLINE";

/** What a network error is called in messages: its code, or for a missed deadline, what happened. */
export function networkErrorReason(error: unknown): string | undefined {
  const code = networkErrorCode(error);
  if (code !== REQUEST_DEADLINE_CODE) return code;
  let current: unknown = error;
  while (current instanceof Error && (current as { code?: unknown }).code !== code) current = current.cause;
  return current instanceof Error ? current.message : code;
}

/** Network error codes that mean the request never left this machine, so re-sending is always safe. */
const NOT_SENT_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_CONNECT_TIMEOUT",
]);

/** The `code` of a network error, looking through `cause` chains (undici and axios nest them). */
export function networkErrorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current && typeof current === "object"; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && code !== "") return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** True when a network error happened before any byte of the request could reach the server. */
export function failedBeforeSending(error: unknown): boolean {
  const code = networkErrorCode(error);
  return code !== undefined && NOT_SENT_CODES.has(code);
}

/** The outcome of one HTTP attempt, as the HTTP retry classifier sees it. */
export type HttpAttempt =
  | { status: number; retryAfter?: string | null }
  | { networkError: unknown };

/**
 * Classifies an HTTP attempt. `idempotent` is true for GET, DELETE and a PATCH that sets a value
 * (sending it twice has the effect of sending it once); false for a create (POST).
 */
export function classifyHttp(idempotent: boolean, attempt: HttpAttempt): RetryDecision {
  if ("networkError" in attempt) {
    const code = networkErrorReason(attempt.networkError) ?? "network error";
    if (idempotent || failedBeforeSending(attempt.networkError)) return { kind: "retry", reason: code };
    return { kind: "unknown-outcome", reason: code };
  }
  const { status } = attempt;
  if (status === 429 || status === 503) return { kind: "retry", reason: `HTTP ${status}`, retryAfter: attempt.retryAfter };
  if (status >= 500 && status !== 501 && status !== 505) {
    if (idempotent) return { kind: "retry", reason: `HTTP ${status}`, retryAfter: attempt.retryAfter };
    // 500/502/504 (and kin) may come after the server acted on the request.
    return { kind: "unknown-outcome", reason: `HTTP ${status}` };
  }
  return { kind: "done" };
}
