import { randomUUID } from "node:crypto";
import pLimit from "p-limit";
import { AdaptiveLimiter } from "./adaptive.js";
import type { CommsClient } from "../comms/types.js";
import type { CommsCredential, SecretResult } from "../domain.js";
import { ApiError, UnknownOutcomeError } from "../errors.js";
import type { Ledger, LedgerEntry } from "../ledger/types.js";
import { OUTCOME_SETTLE_MS, RECONCILE_CLOCK_SKEW_MS, RECONCILE_WINDOW_MS, SETTLE_POLL_MAX_MS } from "../limits.js";
import { reconcileLost, type LostAttempt } from "../plan/reconcile.js";
import { silentLogger, type Logger } from "../log.js";
import type { Plan, PlanItem } from "../plan/types.js";
import { encodeContent } from "../secrets/index.js";
import { Confirmer, type ConfirmerOptions, type Ticket } from "./confirm.js";
import type { AppliedItem, ApplyResult } from "./types.js";

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
   * come back clean, halve on a 429 (see `AdaptiveLimiter`).
   */
  concurrency: number | "adaptive";
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

/**
 * Carries out a plan. One item's failure never stops the others. Every step is journalled in the
 * ledger before the next one starts, so a crash at any point can be reconciled by a rerun.
 *
 * Creates are serialised per (appName, credentialType): when a create's answer is lost, every other
 * create of that kind gets its id from its own 202, so the lost one's result is the only unclaimed
 * new credential there. A second lost create in the same (App, type) makes both ambiguous.
 *
 * A plan with account-level problems (`plan.accountProblems`) is not carried out at all.
 */
export async function apply(plan: Plan, deps: ApplyDeps): Promise<ApplyResult> {
  const now = deps.now ?? (() => new Date());
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const log = deps.logger ?? silentLogger;
  const runId = deps.runId ?? randomUUID();
  const startedAt = now().toISOString();
  const reconcileWindowMs = deps.reconcileWindowMs ?? RECONCILE_WINDOW_MS;
  // One limit for every request this run sends: writes, and the reads that confirm them.
  const writeLimit = deps.concurrency === "adaptive" ? new AdaptiveLimiter() : AdaptiveLimiter.fixed(deps.concurrency);
  const result = (items: AppliedItem[], problems: string[]): ApplyResult => ({
    kind: "apply",
    runId,
    startedAt,
    finishedAt: now().toISOString(),
    accountSid: plan.accountSid,
    mappingPath: plan.mappingPath,
    ...(plan.mappingDisplayPath !== undefined ? { mappingDisplayPath: plan.mappingDisplayPath } : {}),
    items,
    problems,
    warnings: [...plan.warnings],
    interrupted: deps.signal?.aborted ?? false,
    requests: { ...deps.comms.stats.byKind, retries: deps.comms.stats.retries },
    concurrency: writeLimit.stats(),
  });

  if (plan.accountProblems?.length) {
    return result(
      plan.items.map((item) => (item.action === "blocked" ? failed(item, item.problems.join("; ") || "blocked") : { ...item, status: writes(item) ? "planned" : "skipped" })),
      [...plan.problems],
    );
  }

  // Every Comms id any ledger entry (or this run) has claimed; adoption only takes unclaimed ids.
  const entries = await deps.ledger.entries();
  // Ctrl-C (the caller's signal) or a ledger that can no longer be written: nothing new starts.
  const stop = new AbortController();
  if (deps.signal?.aborted) stop.abort();
  deps.signal?.addEventListener("abort", () => stop.abort(), { once: true });
  deps = { ...deps, ledger: journalOrStop(deps.ledger, stop) };
  const claimed = new Set<string>();
  for (const entry of entries.values()) for (const id of entry.createdIds) claimed.add(id);
  for (const c of deps.existing) claimed.add(c.id);
  // Attempts with no recorded outcome, by (App, type): a rival's window makes a lone candidate ambiguous.
  const lost = new Map<string, Map<string, LostAttempt>>();
  for (const e of entries.values()) {
    if (e.state === "pending" && e.lastAttempt) track(lost, e.lastAttempt.attemptId, e.lastAttempt);
  }

  const confirmer = new Confirmer(deps.comms, {
    ...(deps.sleep ? { sleep: deps.sleep } : {}),
    now: () => now().getTime(),
    schedule: (fn) => writeLimit.run(fn),
    ...deps.confirm,
  });
  const keyLimits = new Map<string, ReturnType<typeof pLimit>>();
  const serialised = <T>(key: string, fn: () => Promise<T>): Promise<T> => {
    let limit = keyLimits.get(key);
    if (!limit) keyLimits.set(key, (limit = pLimit(1)));
    return limit(() => writeLimit.run(fn));
  };
  const problems = [...plan.problems];

  const ctx: ItemContext = {
    deps,
    now,
    sleep,
    log,
    runId,
    confirmer,
    claimed,
    serialised,
    reconcileWindowMs,
    settleMs: deps.settleMs ?? OUTCOME_SETTLE_MS,
    wait: deps.wait ?? false,
    pollMaxMs: deps.settlePollMaxMs ?? SETTLE_POLL_MAX_MS,
    signal: stop.signal,
    unresolved: new Map(),
    lost,
    entries,
  };

  // Announce every write per App up front, so the confirmer can batch its reads.
  const tickets = plan.items.map((item) =>
    (item.action === "create" || item.action === "update-default") && item.target ? confirmer.expect(item.target.appName) : undefined,
  );
  const unwatch = deps.comms.watchAnswers?.((status) => writeLimit.answer(status));
  const results = await Promise.all(
    plan.items.map(async (item, i): Promise<AppliedItem> => {
      const t0 = now();
      const ticket = tickets[i];
      let result: AppliedItem;
      try {
        result = await runItem(item, { ...ctx, ...(ticket ? { ticket } : {}) });
      } catch (err) {
        // runItem records its own failures; what reaches here is the ledger failing (or a bug):
        // without a journal no further step is safe, so nothing new starts.
        const message = describe(err);
        if (!problems.some((p) => p.startsWith("stopped: "))) problems.push(`stopped: ${message}; no new work was started after it`);
        stop.abort();
        result = failed(item, message);
      } finally {
        if (ticket) confirmer.release(ticket);
      }
      const t1 = now();
      if (result.status !== "skipped" && result.status !== "planned") {
        result.timings = { startedAt: t0.toISOString(), finishedAt: t1.toISOString(), ms: t1.getTime() - t0.getTime() };
      }
      deps.onItem?.(result);
      return result;
    }),
  ).finally(() => unwatch?.());

  const done = result(results, problems);
  const c = done.concurrency!;
  log.info(
    { concurrency: c },
    c.mode === "adaptive"
      ? `concurrency: adaptive, started at ${c.start}, reached ${c.peak}, ended at ${c.final}; ${c.throttled} 429 answer(s) seen`
      : `concurrency: fixed at ${c.start}; ${c.throttled} 429 answer(s) seen`,
  );
  return done;
}

/** A ledger append failed: without a journal no further step is safe. Never caught as an API failure. */
class JournalError extends Error {
  constructor(cause: unknown) {
    super(`the ledger could not be written: ${describe(cause)}`, { cause });
    this.name = "JournalError";
  }
}

/** The ledger, stopping the run (`stop`) the moment an append fails, before anything else can start. */
function journalOrStop(ledger: Ledger, stop: AbortController): Ledger {
  return {
    events: () => ledger.events(),
    entries: () => ledger.entries(),
    async append(event) {
      try {
        await ledger.append(event);
      } catch (err) {
        stop.abort();
        throw err instanceof JournalError ? err : new JournalError(err);
      }
    },
  };
}

/** True for the actions that write to Comms. */
function writes(item: PlanItem): boolean {
  return item.action === "create" || item.action === "update-default";
}

function track(lost: Map<string, Map<string, LostAttempt>>, attemptId: string, attempt: LostAttempt): void {
  const key = keyOf(attempt.appName, attempt.credentialType);
  let inKey = lost.get(key);
  if (!inKey) lost.set(key, (inKey = new Map()));
  inKey.set(attemptId, attempt);
}

function untrack(lost: Map<string, Map<string, LostAttempt>>, attemptId: string, attempt: LostAttempt): void {
  lost.get(keyOf(attempt.appName, attempt.credentialType))?.delete(attemptId);
}

interface ItemContext {
  deps: ApplyDeps;
  now: () => Date;
  sleep: (ms: number) => Promise<void>;
  log: Logger;
  runId: string;
  confirmer: Confirmer;
  claimed: Set<string>;
  serialised: <T>(key: string, fn: () => Promise<T>) => Promise<T>;
  reconcileWindowMs: number;
  settleMs: number;
  wait: boolean;
  pollMaxMs: number;
  /** Aborted on Ctrl-C or when the ledger fails: no new request starts. */
  signal: AbortSignal;
  /** (App, type) keys where lost creates are ambiguous, and why: no more creates there this run. */
  unresolved: Map<string, string>;
  /** Lost creates not yet resolved, by (App, type) key, then attempt id. */
  lost: Map<string, Map<string, LostAttempt>>;
  /** The ledger as replayed when the run started (read once, not per item). */
  entries: ReadonlyMap<string, LedgerEntry>;
  /** This item's announced confirmation (create / update-default). */
  ticket?: Ticket;
}

async function runItem(item: PlanItem, ctx: ItemContext): Promise<AppliedItem> {
  switch (item.action) {
    case "drop":
    case "unmapped":
    case "skip":
      await recordLostResult(item, ctx);
      return { ...item, status: "skipped" };
    case "blocked":
      await recordLostResult(item, ctx);
      return { ...item, status: "failed", error: item.problems.join("; ") || "blocked" };
    case "already-migrated":
      return alreadyMigrated(item, ctx);
    case "update-default":
      return updateDefault(item, ctx);
    case "create":
      if (ctx.signal.aborted) return notStarted(item);
      return create(item, ctx);
  }
}

/** The plan found what a lost create made for a sid that is no longer migrated: journal it (no Comms write). */
async function recordLostResult(item: PlanItem, ctx: ItemContext): Promise<void> {
  const id = item.commsCredentialId;
  // Only a credential the plan saw listed; an accepted-but-invisible one is not confirmed here.
  if (!item.reconcileFrom || !id || !ctx.deps.existing.some((c) => c.id === id)) return;
  ctx.claimed.add(id);
  await ctx.deps.ledger.append({ event: "accepted", legacySid: item.legacySid, attemptId: item.reconcileFrom.attemptId, commsCredentialId: id, reconciled: true, runId: ctx.runId });
  await ctx.deps.ledger.append({ event: "confirmed", legacySid: item.legacySid, commsCredentialId: id, runId: ctx.runId });
}

function failed(item: PlanItem, error: string, extra: Partial<AppliedItem> = {}): AppliedItem {
  return { ...item, ...extra, status: "failed", error };
}

function notStarted(item: PlanItem, why = "not started: the run was interrupted"): AppliedItem {
  return { ...item, status: "planned", warnings: [...item.warnings, why] };
}

async function alreadyMigrated(item: PlanItem, ctx: ItemContext): Promise<AppliedItem> {
  const id = item.commsCredentialId;
  if (!id) return failed(item, "already-migrated item without a Comms credential id");
  ctx.claimed.add(id);
  const entry = ctx.entries.get(item.legacySid);
  if (item.reconcileFrom && entry?.commsCredentialId !== id) {
    await ctx.deps.ledger.append({
      event: "accepted",
      legacySid: item.legacySid,
      attemptId: item.reconcileFrom.attemptId,
      commsCredentialId: id,
      reconciled: true,
      runId: ctx.runId,
    });
  }
  if (entry?.state !== "confirmed" || entry.commsCredentialId !== id) {
    await ctx.deps.ledger.append({ event: "confirmed", legacySid: item.legacySid, commsCredentialId: id, runId: ctx.runId });
  }
  return { ...item, status: "confirmed", attempts: 0 };
}

async function updateDefault(item: PlanItem, ctx: ItemContext): Promise<AppliedItem> {
  const id = item.commsCredentialId;
  if (!id || !item.target) return failed(item, "update-default item without a Comms credential id");
  if (ctx.signal.aborted) return notStarted(item);
  try {
    const sent = await ctx.serialised(`${item.target.appName}|${item.target.credentialType}`, async () => {
      if (ctx.signal.aborted) return false;
      await ctx.deps.comms.setDefault(id, true);
      return true;
    });
    if (!sent) return notStarted(item);
  } catch (err) {
    if (err instanceof JournalError) throw err;
    const message = describe(err);
    await ctx.deps.ledger.append({ event: "failed", legacySid: item.legacySid, error: message, ...statusOf(err), runId: ctx.runId });
    return failed(item, message);
  }
  const seen = await ctx.confirmer.waitFor(item.target.appName, id, { accept: (c) => c.isDefault, ...(ctx.ticket ? { ticket: ctx.ticket } : {}) });
  if (!seen) {
    return { ...item, status: "accepted-unconfirmed", warnings: [...item.warnings, "the default change was accepted but not yet visible"] };
  }
  await ctx.deps.ledger.append({ event: "default-set", legacySid: item.legacySid, commsCredentialId: id, isDefault: true, runId: ctx.runId });
  return { ...item, status: "confirmed" };
}

type LostWithId = LostAttempt & { attemptId: string };

async function create(item: PlanItem, ctx: ItemContext): Promise<AppliedItem> {
  const target = item.target;
  if (!target) return failed(item, "create item without a target");
  const secret = ctx.deps.secrets.get(item.legacySid)?.secret;
  if (!secret) return failed(item, "no validated secret for this credential");
  const sid = item.legacySid;
  const ledger = ctx.deps.ledger;
  const warnings = [...item.warnings];

  // 1. An earlier run's 202 whose credential was not visible then: wait for it. Until it has been
  //    missing for `settleMs`, nothing is sent — sending could make a duplicate.
  if (item.commsCredentialId) {
    const settled = await awaitEarlierAccepted(item, item.commsCredentialId, warnings, ctx);
    if (settled) return settled;
  }

  // 2. An earlier attempt with no recorded outcome: find its result (or wait until it has settled)
  //    before creating anything. It may have gone to another (App, type) after a mapping change.
  const earlier = item.reconcileFrom;
  if (earlier) {
    const lost: LostWithId = { ...earlier, appName: earlier.appName ?? target.appName, credentialType: earlier.credentialType ?? target.credentialType };
    const settled = await resolveLost(item, lost, warnings, 0, ctx);
    if (settled) return settled;
  }

  // 3. Create. A create whose answer is lost is waited for and, once settled with nothing in
  //    Comms, sent once more in this run.
  const key = keyOf(target.appName, target.credentialType);
  for (let sends = 1; ; sends++) {
    // Only the write holds the (App, type) lock and a concurrency slot; confirming happens outside both.
    const outcome = await ctx.serialised(key, async (): Promise<AppliedItem | { id: string; location: string } | { lost: LostWithId; reason: string }> => {
      // Interrupted while waiting for a slot: nothing was sent for this item.
      if (ctx.signal.aborted) return notStarted(item);
      const held = ctx.unresolved.get(key);
      if (held) return { ...item, status: "planned", warnings: [...warnings, `not attempted: ${held}; rerun apply once it is resolved`] };

      const attemptId = randomUUID();
      const startedAt = ctx.now().toISOString();
      const priorIds = ctx.deps.existing.filter((c) => c.appName === target.appName && c.credentialType === target.credentialType).map((c) => c.id);
      await ledger.append({
        event: "attempt",
        legacySid: sid,
        attemptId,
        appName: target.appName,
        credentialType: target.credentialType,
        isDefault: target.isDefault,
        startedAt,
        secret: secret.fingerprint,
        priorIds,
        runId: ctx.runId,
      });
      let lastSentAt = startedAt;
      try {
        const accepted = await ctx.deps.comms.create(
          { credentialType: target.credentialType, appName: target.appName, isDefault: target.isDefault, content: encodeContent(secret) },
          {
            // A re-send after 429/503 moves the latest moment the create can have been carried out.
            onSend: async (n) => {
              if (n === 1) return;
              lastSentAt = ctx.now().toISOString();
              await ledger.append({ event: "resent", legacySid: sid, attemptId, runId: ctx.runId });
            },
          },
        );
        ctx.claimed.add(accepted.resourceId);
        await ledger.append({
          event: "accepted",
          legacySid: sid,
          attemptId,
          commsCredentialId: accepted.resourceId,
          resourceLocation: accepted.resourceLocation,
          runId: ctx.runId,
        });
        return { id: accepted.resourceId, location: accepted.resourceLocation };
      } catch (err) {
        if (err instanceof JournalError) throw err;
        if (!(err instanceof UnknownOutcomeError)) {
          const message = describe(err);
          await ledger.append({ event: "failed", legacySid: sid, attemptId, error: message, ...statusOf(err), runId: ctx.runId });
          return failed(item, message, { warnings, attempts: sends });
        }
        ctx.log.warn({ sid, attemptId }, "create outcome unknown; reconciling against Comms (never re-sent blindly)");
        // Journalled before anything else: a crash from here on leaves the attempt open, never forgotten.
        const unknownAt = ctx.now().toISOString();
        await ledger.append({ event: "unknown", legacySid: sid, attemptId, reason: err.message, runId: ctx.runId });
        const lost: LostWithId = { attemptId, appName: target.appName, credentialType: target.credentialType, startedAt, unknownAt, priorIds, ...(lastSentAt !== startedAt ? { lastSentAt } : {}) };
        track(ctx.lost, attemptId, lost);
        return { lost, reason: err.message };
      }
    });
    if ("status" in outcome) return outcome;
    if ("id" in outcome) return confirmCreate(item, outcome.id, outcome.location, warnings, sends, ctx);
    if (sends >= 2) {
      // The re-send's answer was lost too: leave it open for the next run rather than loop.
      const found = await look(outcome.lost, ctx);
      if (found.kind === "one") return adopt(item, found.credential, outcome.lost, [...warnings, `the create's answer was lost; found ${found.credential.id} in Comms and adopted it`], sends, ctx);
      return {
        ...item,
        status: "failed",
        warnings,
        attempts: sends,
        error: `create outcome unknown (${outcome.reason}) for the second time in this run; nothing more was sent — rerun apply to reconcile it`,
      };
    }
    const settled = await resolveLost(item, outcome.lost, warnings, sends, ctx, outcome.reason);
    if (settled) return settled;
    warnings.push(`the create's answer was lost and nothing appeared in Comms within ${Math.round(ctx.settleMs / 1000)} s; sent again`);
  }
}

/**
 * An earlier run's accepted create that was not visible then. Confirmed if it shows up; with
 * `wait`, looked for until it has been missing for `settleMs`; after that it is created anew.
 * Returns null when the caller should create it again.
 */
async function awaitEarlierAccepted(item: PlanItem, id: string, warnings: string[], ctx: ItemContext): Promise<AppliedItem | null> {
  const target = item.target!;
  const acceptedAt = ctx.entries.get(item.legacySid)?.acceptedAt;
  const until = acceptedAt ? Date.parse(acceptedAt) + ctx.settleMs : 0;
  const remaining = until - ctx.now().getTime();
  if (ctx.wait && remaining > 0) {
    ctx.deps.onWaiting?.({
      legacySid: item.legacySid,
      appName: target.appName,
      credentialType: target.credentialType,
      until: new Date(until),
      reason: `${id} was accepted at ${acceptedAt} but is not visible yet`,
    });
  }
  const seen = await ctx.confirmer.waitFor(target.appName, id, {
    ...(ctx.ticket ? { ticket: ctx.ticket } : {}),
    ...(ctx.wait && remaining > 0 ? { timeoutMs: remaining, maxDelayMs: ctx.pollMaxMs, signal: ctx.signal } : {}),
  });
  if (seen) {
    ctx.claimed.add(seen.id);
    await ctx.deps.ledger.append({ event: "confirmed", legacySid: item.legacySid, commsCredentialId: seen.id, runId: ctx.runId });
    return { ...item, target: { ...target, appName: seen.appName, credentialType: seen.credentialType }, warnings: [...warnings, `confirmed ${seen.id}, accepted by an earlier run`], status: "confirmed", attempts: 0 };
  }
  if (ctx.signal.aborted) return notStarted(item, `not started: interrupted while waiting for ${id}, accepted by an earlier run`);
  if (acceptedAt && ctx.now().getTime() < until) {
    return {
      ...item,
      warnings: [...warnings, `${id} was accepted at ${acceptedAt} but is still not visible; nothing was sent (rerun apply after ${new Date(until).toISOString()}, or without --no-wait, to confirm it or create it again)`],
      status: "accepted-unconfirmed",
      attempts: 0,
    };
  }
  warnings.push(`${id} was accepted${acceptedAt ? ` at ${acceptedAt}` : ""} but never became visible in Comms; creating it again`);
  return null;
}

/**
 * Settles a lost create before anything more is sent for the item: adopts its result, or blocks
 * (ambiguous), or — with `wait` — keeps looking until it has settled; without `wait`, an attempt
 * too recent to give up on fails with the time to rerun. Returns null when nothing appeared and
 * the attempt has settled: it is journalled `abandoned` and the caller creates.
 */
async function resolveLost(item: PlanItem, lost: LostWithId, warnings: string[], sends: number, ctx: ItemContext, lostReason?: string): Promise<AppliedItem | null> {
  const lastSent = Date.parse(lost.lastSentAt ?? lost.startedAt);
  const settledAt = lastSent + ctx.settleMs;
  // Without waiting: a fresh loss is looked for during the reconcile window; an earlier run's once.
  const until = ctx.wait ? settledAt : sends > 0 ? Date.parse(lost.startedAt) + ctx.reconcileWindowMs : 0;
  const key = keyOf(lost.appName, lost.credentialType);
  const what = lostReason ? `create outcome unknown (${lostReason})` : `the earlier create attempt ${lost.attemptId} (${lost.startedAt}) has an unknown outcome`;
  let notified = false;
  let delay = 100;
  for (;;) {
    const found = await look(lost, ctx);
    if (found.kind === "one") {
      const note = sends > 0 ? `the create's answer was lost; found ${found.credential.id} in Comms and adopted it` : `${found.credential.id} found in Comms was adopted as the result of the earlier attempt ${lost.attemptId}`;
      return adopt(item, found.credential, lost, [...warnings, note], sends, ctx);
    }
    if (found.kind === "ambiguous") {
      ctx.unresolved.set(key, `${what} and ${found.reason}`);
      return { ...item, status: "failed", warnings, attempts: sends, error: `${what} and ${found.reason} (${found.ids.join(", ")}); Comms cannot tell which holds this certificate — delete the ones that are not yours in Comms, then rerun apply` };
    }
    const left = until - ctx.now().getTime();
    if (left <= 0 || ctx.signal.aborted) break;
    if (!notified && ctx.wait) {
      notified = true;
      ctx.deps.onWaiting?.({ legacySid: item.legacySid, appName: lost.appName, credentialType: lost.credentialType, until: new Date(until), reason: what });
    }
    await sleepUnlessAborted(Math.min(delay, left), ctx);
    delay = Math.min(delay * 2, ctx.pollMaxMs);
  }
  if (ctx.now().getTime() < settledAt) {
    // Not settled: interrupted, or --no-wait. The attempt stays open in the ledger.
    const retryAt = new Date(settledAt).toISOString();
    const why = ctx.signal.aborted ? "interrupted while waiting for it" : `nothing has appeared in Comms yet; it is sent again only after ${retryAt}`;
    if (sends === 0 && ctx.signal.aborted) return notStarted(item, `not started: ${what}; ${why}`);
    return { ...item, status: "failed", warnings, attempts: sends, error: `${what}; ${why} — rerun apply${ctx.signal.aborted ? "" : " then (or without --no-wait)"}; nothing was re-sent` };
  }
  await ctx.deps.ledger.append({ event: "abandoned", legacySid: item.legacySid, attemptId: lost.attemptId, reason: `nothing appeared in Comms within ${Math.round((ctx.now().getTime() - lastSent) / 1000)} s`, runId: ctx.runId });
  untrack(ctx.lost, lost.attemptId, lost);
  return null;
}

function keyOf(appName: string, credentialType: string): string {
  return `${appName}|${credentialType}`;
}

/**
 * One look (one list call) for what a lost create made, holding its (App, type) lock so that no
 * create of that kind is in flight meanwhile (each finished create has claimed its own id).
 */
async function look(lost: LostWithId, ctx: ItemContext): Promise<ReturnType<typeof reconcileLost>> {
  const key = keyOf(lost.appName, lost.credentialType);
  const since = new Date(Date.parse(lost.startedAt) - RECONCILE_CLOCK_SKEW_MS).toISOString();
  return ctx.serialised(key, async () => {
    try {
      const listed = await ctx.deps.comms.list({ appName: lost.appName, credentialType: lost.credentialType, startDate: since });
      const rivals = [...(ctx.lost.get(key)?.entries() ?? [])].filter(([id]) => id !== lost.attemptId).map(([, a]) => a);
      const found = reconcileLost(lost, listed, ctx.claimed, rivals);
      if (found.kind === "one") ctx.claimed.add(found.credential.id);
      return found;
    } catch (err) {
      ctx.log.warn({ err: describe(err) }, "reconciliation list failed; trying again");
      return { kind: "none" } as const;
    }
  });
}

async function sleepUnlessAborted(ms: number, ctx: ItemContext): Promise<void> {
  if (ctx.signal.aborted) return;
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<void>((resolve) => {
    onAbort = () => resolve();
    ctx.signal.addEventListener("abort", onAbort, { once: true });
  });
  await Promise.race([ctx.sleep(ms), aborted]);
  if (onAbort) ctx.signal.removeEventListener("abort", onAbort);
}

async function adopt(item: PlanItem, found: CommsCredential, lost: LostWithId, warnings: string[], sends: number, ctx: ItemContext): Promise<AppliedItem> {
  await ctx.deps.ledger.append({ event: "accepted", legacySid: item.legacySid, attemptId: lost.attemptId, commsCredentialId: found.id, reconciled: true, runId: ctx.runId });
  await ctx.deps.ledger.append({ event: "confirmed", legacySid: item.legacySid, commsCredentialId: found.id, runId: ctx.runId });
  untrack(ctx.lost, lost.attemptId, lost);
  // The report says where the credential actually is (an earlier attempt may have gone elsewhere).
  const target = item.target ? { ...item.target, appName: found.appName, credentialType: found.credentialType } : undefined;
  return { ...item, ...(target ? { target } : {}), commsCredentialId: found.id, warnings, status: "confirmed", attempts: sends };
}

async function confirmCreate(item: PlanItem, id: string, location: string, warnings: string[], sends: number, ctx: ItemContext): Promise<AppliedItem> {
  const target = item.target!;
  const seen = await ctx.confirmer.waitFor(target.appName, id, { location, ...(ctx.ticket ? { ticket: ctx.ticket } : {}) });
  if (seen) {
    await ctx.deps.ledger.append({ event: "confirmed", legacySid: item.legacySid, commsCredentialId: id, runId: ctx.runId });
    return { ...item, commsCredentialId: id, warnings, status: "confirmed", attempts: sends };
  }
  await ctx.deps.ledger.append({ event: "unconfirmed", legacySid: item.legacySid, commsCredentialId: id, reason: "not visible before the confirmation timeout", runId: ctx.runId });
  return {
    ...item,
    commsCredentialId: id,
    warnings: [...warnings, "accepted (202) but not visible before the confirmation timeout; a rerun confirms it"],
    status: "accepted-unconfirmed",
    attempts: sends,
  };
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function statusOf(err: unknown): { status?: number } {
  return err instanceof ApiError ? { status: err.status } : {};
}
