/**
 * What every action's steps share: the writer's dependencies, the per-run context an item runs in,
 * and the small helpers that build results and track lost creates.
 */
import type { CommsClient } from "../comms/types.js";
import type { CommsCredential, SecretResult } from "../domain.js";
import { ApiError, WritesStoppedError } from "../errors.js";
import type { Ledger, LedgerEntry } from "../ledger/types.js";
import type { Logger } from "../log.js";
import type { LostAttempt, WindowOptions } from "../plan/reconcile.js";
import type { PlanItem } from "../plan/types.js";
import type { LimiterOptions } from "./adaptive.js";
import type { Confirmer, ConfirmerOptions, Ticket } from "./confirm.js";
import type { ServerClock } from "./server-clock.js";
import type { AppliedItem } from "./types.js";

export interface ApplyDeps {
  comms: CommsClient;
  ledger: Ledger;
  /**
   * Ids of every Comms credential that existed when the plan was observed. None of them can be the
   * result of this run's creates, so reconciliation never adopts them.
   */
  existing: readonly CommsCredential[];
  /** Resolved secrets for the plan's `create` items. */
  secrets: ReadonlyMap<string, SecretResult>;
  /**
   * Requests in flight at once, run-wide (writes and the reads that confirm them): a fixed number
   * (`--concurrency N`), or "adaptive" — start at `ADAPTIVE_START_CONCURRENCY`, grow while answers
   * come back clean, cut at once on a 429 (see `AdaptiveLimiter`).
   */
  concurrency: number | "adaptive";
  /** The adaptive limiter's bounds and steps (tests; `workLeft` is the writer's own). */
  adaptive?: Omit<LimiterOptions, "workLeft">;
  runId?: string;
  logger?: Logger;
  now?: () => Date;
  sleep?: (ms: number) => Promise<void>;
  /** Aborting stops new items from starting; in-flight ones finish and are recorded. */
  signal?: AbortSignal;
  /** Called once per item when it reaches its final status. */
  onItem?: (item: AppliedItem) => void;
  confirm?: ConfirmerOptions;
  reconcileWindowMs?: number;
  /** How long a lost or unconfirmed create is waited for before it is sent again (`OUTCOME_SETTLE_MS`). */
  settleMs?: number;
  /**
   * Wait in this run, polling Comms, for a create whose outcome is not known yet, until it has
   * settled (`settleMs` after it was sent), then send it again — so one rerun converges. When
   * false (`--no-wait`), such an item fails at once with "rerun after …". The CLI waits by default.
   */
  wait?: boolean;
  /** Told once when an item starts waiting for an earlier outcome (for a countdown or a log line). */
  onWaiting?: (w: WaitNotice) => void;
  /** Longest pause between two looks while waiting (`SETTLE_POLL_MAX_MS`). */
  settlePollMaxMs?: number;
  /** How far this machine's clock and Comms' may be apart (`RECONCILE_CLOCK_SKEW_MS`). */
  clockSkewMs?: number;
}

/** An item waiting for the outcome of an earlier create before it may send one. */
export interface WaitNotice {
  legacySid: string;
  appName: string;
  credentialType: string;
  /** When the wait ends and the create is sent again if nothing has appeared. */
  until: Date;
  reason: string;
}

/** A ledger append failed: without a journal no further step is safe. Never caught as an API failure. */
export class JournalError extends Error {
  constructor(
    cause: unknown,
    /** What Comms holds although the ledger could not say so (reported, and reconciled by a rerun). */
    readonly createdId?: string,
    /** The failed append was an attempt's first line: nothing was sent for the item. */
    readonly nothingSent = false,
  ) {
    super(`the ledger could not be written: ${describe(cause)}`, { cause });
    this.name = "JournalError";
  }
}

/** True for the actions that write to Comms. */
export function writes(item: PlanItem): boolean {
  return item.action === "create" || item.action === "update-default" || item.action === "replace";
}

export function track(lost: Map<string, Map<string, LostAttempt>>, attemptId: string, attempt: LostAttempt): void {
  const key = keyOf(attempt.appName, attempt.credentialType);
  let inKey = lost.get(key);
  if (!inKey) lost.set(key, (inKey = new Map()));
  inKey.set(attemptId, attempt);
}

export function untrack(lost: Map<string, Map<string, LostAttempt>>, attemptId: string, attempt: LostAttempt): void {
  lost.get(keyOf(attempt.appName, attempt.credentialType))?.delete(attemptId);
}

/** Stops tracking an attempt wherever it is (the caller knows only its id). */
export function forget(ctx: ItemContext, attemptId: string): void {
  for (const inKey of ctx.lost.values()) inKey.delete(attemptId);
}

export interface ItemContext {
  deps: ApplyDeps;
  now: () => Date;
  sleep: (ms: number) => Promise<void>;
  log: Logger;
  runId: string;
  confirmer: Confirmer;
  claimed: Set<string>;
  serialised: <T>(key: string, fn: () => Promise<T>) => Promise<T>;
  /** Runs a read that needs no (App, type) lock within the run-wide limit (a slot, top priority). */
  limited: <T>(fn: () => Promise<T>) => Promise<T>;
  reconcileWindowMs: number;
  settleMs: number;
  wait: boolean;
  window: WindowOptions;
  /** Comms' clock, as this run's answers showed it: lost creates' windows are computed on it. */
  clock: ServerClock;
  pollMaxMs: number;
  /** Set by the first write answered 403 (the key lacks write permission): no write is sent after it. */
  writesStopped: { reason?: string };
  /** Aborted on Ctrl-C or when the ledger fails: no new request starts. */
  signal: AbortSignal;
  /** (App, type) keys where lost creates are ambiguous, and why: no more creates there this run. */
  unresolved: Map<string, string>;
  /** Lost creates not yet resolved, by (App, type) key, then attempt id. */
  lost: Map<string, Map<string, LostAttempt>>;
  /** The ledger as replayed when the run started (read once, not per item). */
  entries: ReadonlyMap<string, LedgerEntry>;
  /** This item's announced confirmation: set for every writing item (all have a target), so its `?:` spreads never take the empty side. */
  ticket?: Ticket;
}

export function failed(item: PlanItem, error: string, extra: Partial<AppliedItem> = {}): AppliedItem {
  return { ...item, ...extra, status: "failed", error };
}

export function notStarted(item: PlanItem, why = "not started: the run was interrupted"): AppliedItem {
  return { ...item, status: "planned", warnings: [...item.warnings, why] };
}

export type LostWithId = LostAttempt & { attemptId: string };

/**
 * The end of a wait that a journalled time decides, never more than `settleMs` after `from` (when
 * the wait began): a time in the future (a clock that was ahead when it was written, and was set
 * right since) must not hold the run until then. `capped` says that the journalled time was cut.
 */
export function capWait(until: number, from: number, settleMs: number): { until: number; capped: boolean } {
  const cap = from + settleMs;
  return until > cap ? { until: cap, capped: true } : { until, capped: false };
}

/** What an item says when a wait was cut short by `capWait`. */
export function cappedNote(journalled: number, settleMs: number): string {
  return `the ledger names ${new Date(journalled).toISOString()}, which is in the future (this machine's clock was probably ahead when it was written): waited at most ${Math.round(settleMs / 1000)} s from now instead`;
}

/**
 * Notes a write's failure: a 403 (the key lacks write permission) stops every later write of the
 * run. True when the client refused the write without sending it (the item stays `planned`).
 */
export function writeRefused(ctx: ItemContext, err: unknown): boolean {
  if (err instanceof WritesStoppedError) {
    ctx.writesStopped.reason ??= err.message;
    return true;
  }
  if (err instanceof ApiError && err.status === 403) ctx.writesStopped.reason ??= err.message;
  return false;
}

/** The item as it was planned, when no write may be sent any more (called without `why` only once a reason is set). */
export function writesStoppedItem(ctx: ItemContext, item: PlanItem, why = ctx.writesStopped.reason ?? ""): AppliedItem {
  return notStarted(item, `not started: no write is sent after ${why.replace(/^not sent: /, "")}`);
}

export function keyOf(appName: string, credentialType: string): string {
  return `${appName}|${credentialType}`;
}

export function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function statusOf(err: unknown): { status?: number } {
  return err instanceof ApiError ? { status: err.status } : {};
}
