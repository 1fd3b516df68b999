import { randomUUID } from "node:crypto";
import { setMaxListeners } from "node:events";
import pLimit from "p-limit";
import { AdaptiveLimiter, describeConcurrency, FIRST, type LimiterOptions } from "./adaptive.js";
import type { CommsClient } from "../comms/types.js";
import type { CommsCredential, SecretResult } from "../domain.js";
import { ApiError, UnknownOutcomeError } from "../errors.js";
import { REPLACED_REASON, type Ledger, type LedgerEntry } from "../ledger/types.js";
import { CONFIRM_INITIAL_DELAY_MS, CONFIRM_MAX_DELAY_MS, CONFIRM_TIMEOUT_MS, OUTCOME_SETTLE_MS, RECONCILE_CLOCK_SKEW_MS, RECONCILE_WINDOW_MS, SETTLE_POLL_MAX_MS } from "../limits.js";
import { reconcileLost, windowClosesAt, type LostAttempt, type WindowOptions } from "../plan/reconcile.js";
import { silentLogger, type Logger } from "../log.js";
import type { Plan, PlanItem } from "../plan/types.js";
import { encodeContent } from "../secrets/index.js";
import { sleepUnlessAborted } from "../sleep.js";
import { Confirmer, type ConfirmerOptions, type Ticket } from "./confirm.js";
import { carryOutDefaultApp, FirstCreateGate } from "./default-app.js";
import type { AppliedAccountAction, AppliedItem, ApplyResult } from "./types.js";

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
  // The writes not yet finished: what a probe above a limit that drew a 429 would have to repay.
  let writesLeft = plan.items.filter(writes).length;
  const writeLimit = deps.concurrency === "adaptive" ? new AdaptiveLimiter({ ...deps.adaptive, workLeft: () => writesLeft }) : AdaptiveLimiter.fixed(deps.concurrency);
  const result = (items: AppliedItem[], problems: string[], accountActions?: AppliedAccountAction[]): ApplyResult => ({
    kind: "apply",
    runId,
    startedAt,
    finishedAt: now().toISOString(),
    accountSid: plan.accountSid,
    mappingPath: plan.mappingPath,
    ...(plan.mappingDisplayPath !== undefined ? { mappingDisplayPath: plan.mappingDisplayPath } : {}),
    items,
    ...(accountActions?.length ? { accountActions } : {}),
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
      (plan.accountActions ?? []).map((a) => ({ ...a, status: "planned", warnings: [] })),
    );
  }

  // Every Comms id any ledger entry (or this run) has claimed; adoption only takes unclaimed ids.
  const entries = await deps.ledger.entries();
  // Ctrl-C (the caller's signal) or a ledger that can no longer be written: nothing new starts.
  const stop = new AbortController();
  // Every item waiting for visibility or an earlier outcome listens on it at once: not a leak.
  setMaxListeners(0, stop.signal);
  if (deps.signal?.aborted) stop.abort();
  deps.signal?.addEventListener("abort", () => stop.abort(), { once: true });
  deps = { ...deps, ledger: journalOrStop(deps.ledger, stop) };
  const claimed = new Set<string>();
  for (const entry of entries.values()) for (const id of entry.createdIds) claimed.add(id);
  for (const c of deps.existing) claimed.add(c.id);
  // Attempts with no recorded outcome, by (App, type): a rival's window makes a lone candidate ambiguous.
  const lost = new Map<string, Map<string, LostAttempt>>();
  for (const e of entries.values()) {
    if (e.state === "pending" && e.lastAttempt) track(lost, e.lastAttempt.attemptId, { ...e.lastAttempt, legacySid: e.legacySid });
    for (const a of e.abandonedAttempts ?? []) track(lost, a.attemptId, { ...a, legacySid: e.legacySid });
  }

  // Reads that confirm or check, and the default App's step: within the limit, ahead of writes.
  const first = <T>(fn: () => Promise<T>): Promise<T> => writeLimit.run(fn, FIRST);
  const confirmer = new Confirmer(deps.comms, {
    ...(deps.sleep ? { sleep: deps.sleep } : {}),
    now: () => now().getTime(),
    schedule: first,
    ...deps.confirm,
  });
  // Every answer this run gets (writes, confirming reads, the default App's step) steers the limit.
  const unwatch = deps.comms.watchAnswers?.((status) => writeLimit.answer(status));
  // A request sleeping out a Retry-After sends nothing: its slot goes to the next one meanwhile.
  const unwrap = deps.comms.aroundRetryWaits?.((wait) => writeLimit.outside(wait));
  const keyLimits = new Map<string, ReturnType<typeof pLimit>>();
  // The longest (App, type) run of writes goes first: its writes must go one after another, so it
  // is what the run waits for last (a write held up by a Retry-After catches up first).
  const serialised = <T>(key: string, fn: () => Promise<T>): Promise<T> => {
    let limit = keyLimits.get(key);
    if (!limit) keyLimits.set(key, (limit = pLimit(1)));
    const chain = limit;
    return chain(() => writeLimit.run(fn, chain.pendingCount + 1));
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
    limited: first,
    reconcileWindowMs,
    settleMs: deps.settleMs ?? OUTCOME_SETTLE_MS,
    wait: deps.wait ?? false,
    window: { skewMs: deps.clockSkewMs ?? RECONCILE_CLOCK_SKEW_MS },
    pollMaxMs: deps.settlePollMaxMs ?? SETTLE_POLL_MAX_MS,
    signal: stop.signal,
    unresolved: new Map(),
    lost,
    entries,
  };

  // The default App (its own step). When this run creates the App, its first create opens the
  // gate; on an account without Apps the other Apps' creates wait for it (first App = default App).
  const defaultApp = plan.accountActions?.find((a) => a.action === "set-default-app");
  const isGateCreate = (item: PlanItem) => item.action === "create" && item.target?.appName === defaultApp?.appName;
  const gate = defaultApp?.appCreated ? new FirstCreateGate(defaultApp.appName, plan.items.filter(isGateCreate).length) : undefined;
  const holdsBack = (item: PlanItem) => defaultApp?.via === "first-create" && gate !== undefined && item.action === "create" && !isGateCreate(item);
  const accountStep: Promise<AppliedAccountAction[]> = defaultApp
    ? carryOutDefaultApp(defaultApp, {
        comms: deps.comms,
        ledger: deps.ledger,
        runId,
        now,
        sleep,
        signal: stop.signal,
        schedule: first,
        ...(gate ? { gate } : {}),
        timeoutMs: deps.confirm?.timeoutMs ?? CONFIRM_TIMEOUT_MS,
        initialDelayMs: deps.confirm?.initialDelayMs ?? CONFIRM_INITIAL_DELAY_MS,
        maxDelayMs: deps.confirm?.maxDelayMs ?? CONFIRM_MAX_DELAY_MS,
      }).then(
        (done) => [done],
        (err: unknown) => {
          // Only the ledger can throw here: without a journal no further step is safe.
          const message = describe(err);
          if (!problems.some((p) => p.startsWith("stopped: "))) problems.push(`stopped: ${message}; no new work was started after it`);
          stop.abort();
          return [{ ...defaultApp, status: "failed" as const, error: message, warnings: [] }];
        },
      )
    : Promise.resolve([]);

  // Announce every write per App up front, so the confirmer can batch its reads.
  const tickets = plan.items.map((item) => (writes(item) && item.target ? confirmer.expect(item.target.appName) : undefined));
  const results = await Promise.all(
    plan.items.map(async (item, i): Promise<AppliedItem> => {
      const t0 = now();
      const ticket = tickets[i];
      let result: AppliedItem;
      try {
        const first = holdsBack(item) ? await gate!.ready : true;
        result = first
          ? await runItem(item, { ...ctx, ...(ticket ? { ticket } : {}) })
          : notStarted(item, `not started: defaultApp ${defaultApp!.appName} must be created first so that Comms makes it the account's default App, and none of its credentials was created; rerun apply once it can be`);
      } catch (err) {
        // runItem records its own failures; what reaches here is the ledger failing (or a bug):
        // without a journal no further step is safe, so nothing new starts.
        const message = describe(err);
        if (!problems.some((p) => p.startsWith("stopped: "))) problems.push(`stopped: ${message}; no new work was started after it`);
        stop.abort();
        if (err instanceof JournalError && err.nothingSent) result = notStarted(item, `not started: ${message}`);
        else if (err instanceof JournalError && err.createdId) {
          result = failed(item, `created in Comms as ${err.createdId}, but ${message}; rerun apply once the ledger can be written (it finds the credential and records it)`, {
            commsCredentialId: err.createdId,
          });
        } else result = failed(item, message);
      } finally {
        if (ticket) confirmer.release(ticket);
        if (writes(item)) writesLeft--;
      }
      if (gate && isGateCreate(item)) gate.report(result);
      const t1 = now();
      if (result.status !== "skipped" && result.status !== "planned") {
        result.timings = { startedAt: t0.toISOString(), finishedAt: t1.toISOString(), ms: t1.getTime() - t0.getTime() };
      }
      deps.onItem?.(result);
      return result;
    }),
  );

  const accountActions = await accountStep.finally(() => {
    unwatch?.();
    unwrap?.();
  });
  const done = result(results, problems, accountActions);
  log.info({ concurrency: done.concurrency }, describeConcurrency(done.concurrency!));
  return done;
}

/** A ledger append failed: without a journal no further step is safe. Never caught as an API failure. */
class JournalError extends Error {
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
  return item.action === "create" || item.action === "update-default" || item.action === "replace";
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

/** Stops tracking an attempt wherever it is (the caller knows only its id). */
function forget(ctx: ItemContext, attemptId: string): void {
  for (const inKey of ctx.lost.values()) inKey.delete(attemptId);
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
  /** Runs a read that needs no (App, type) lock within the run-wide limit (a slot, top priority). */
  limited: <T>(fn: () => Promise<T>) => Promise<T>;
  reconcileWindowMs: number;
  settleMs: number;
  wait: boolean;
  window: WindowOptions;
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
  for (const s of item.surfaced ?? []) {
    ctx.claimed.add(s.commsCredentialId);
    await ctx.deps.ledger.append({ event: "surfaced", legacySid: item.legacySid, attemptId: s.attemptId, commsCredentialId: s.commsCredentialId, runId: ctx.runId });
  }
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
    case "replace":
      if (ctx.signal.aborted) return notStarted(item);
      return replace(item, ctx);
    case "legacy-gone":
      return { ...item, status: "skipped" };
  }
}

/** The plan found what a lost create made for a sid that is no longer migrated: journal it (no Comms write). */
async function recordLostResult(item: PlanItem, ctx: ItemContext): Promise<void> {
  const id = item.commsCredentialId;
  if (item.reconcileFrom && id) forget(ctx, item.reconcileFrom.attemptId);
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
  // The planner found what an open attempt of this sid made: it is settled, no longer anyone's rival.
  if (item.reconcileFrom) forget(ctx, item.reconcileFrom.attemptId);
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

/**
 * A rotation, in the order that never leaves the App without a credential of the type (so the
 * App-deletion cascade cannot happen): create the new credential and confirm it (exactly as a
 * create: a lost answer is reconciled, never re-sent blindly), make it the default when the old
 * one was (or the mapping says so), then delete the old one. Each step is journalled before the
 * next; a rerun after a crash carries on from the plan's `replace` (a new credential made earlier
 * is never made again). Until the last step the old credential is kept.
 */
async function replace(item: PlanItem, ctx: ItemContext): Promise<AppliedItem> {
  const r = item.replace;
  const target = item.target;
  if (!r || !target) return failed(item, "replace item without the credential it replaces");
  const sid = item.legacySid;
  const key = keyOf(target.appName, target.credentialType);
  const keep = `${r.oldId} is kept until the new credential is in place`;
  let attempts = 0;
  let warnings = [...item.warnings];
  let newId = r.newId;

  // 1. The new credential, created not as the default (the switch is its own journalled step).
  if (!newId || !r.newVisible) {
    const { commsCredentialId: _old, ...rest } = item;
    const made = await create(
      { ...rest, action: "create", target: { ...target, isDefault: false }, ...(newId ? { commsCredentialId: newId } : {}) },
      ctx,
    );
    const back = { ...made, action: "replace" as const, target, replace: r };
    if (made.status !== "confirmed" || !made.commsCredentialId) {
      return { ...back, warnings: [...made.warnings, made.status === "planned" ? `not replaced yet: ${keep}` : `${keep}; rerun apply to finish the replacement`] };
    }
    newId = made.commsCredentialId;
    attempts = made.attempts ?? 0;
    warnings = made.warnings;
  } else {
    ctx.claimed.add(newId);
    const entry = ctx.entries.get(sid);
    if (item.reconcileFrom && entry?.replacing && entry.replacing.newId !== newId) {
      // The plan adopted what the replacement's lost create made.
      await ctx.deps.ledger.append({ event: "accepted", legacySid: sid, attemptId: item.reconcileFrom.attemptId, commsCredentialId: newId, reconciled: true, runId: ctx.runId });
    }
    if (entry?.state !== "confirmed" || entry.commsCredentialId !== newId) {
      await ctx.deps.ledger.append({ event: "confirmed", legacySid: sid, commsCredentialId: newId, runId: ctx.runId });
    }
  }
  const done = { ...item, commsCredentialId: newId, attempts };
  const stopped = (why: string): AppliedItem => ({ ...done, status: "planned", warnings: [...warnings, `${why}; the new credential ${newId} is in place and ${r.oldId} is not deleted yet — rerun apply to finish`] });

  // 2. The default moves to the new credential before the old one goes.
  const alreadyDefault = r.newVisible === true && item.liveDefault === true;
  if ((r.oldWasDefault || target.isDefault) && !alreadyDefault) {
    if (ctx.signal.aborted) return stopped("interrupted before the default was moved");
    try {
      await ctx.serialised(key, () => ctx.deps.comms.setDefault(newId, true));
    } catch (err) {
      const message = describe(err);
      await ctx.deps.ledger.append({ event: "failed", legacySid: sid, error: message, ...statusOf(err), runId: ctx.runId });
      return failed(done, `making ${newId} the default failed: ${message}; ${keep} — rerun apply`, { warnings });
    }
    const seen = await ctx.confirmer.waitFor(target.appName, newId, { accept: (c) => c.isDefault, ...(ctx.ticket ? { ticket: ctx.ticket } : {}) });
    if (!seen) {
      return { ...done, status: "accepted-unconfirmed", warnings: [...warnings, `making ${newId} the default was accepted but is not visible yet; ${keep} — rerun apply`] };
    }
    await ctx.deps.ledger.append({ event: "default-set", legacySid: sid, commsCredentialId: newId, isDefault: true, runId: ctx.runId });
  }

  // 3. The old credential goes last. Gone already (a crash after its delete, or deleted by hand): only journalled.
  const listed = ctx.deps.existing.some((c) => c.id === r.oldId);
  let note = `replaced ${r.oldId}`;
  if (listed) {
    if (ctx.signal.aborted) return stopped("interrupted before the old credential was deleted");
    try {
      await ctx.serialised(key, () => ctx.deps.comms.delete(r.oldId));
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 404)) {
        const message = describe(err);
        await ctx.deps.ledger.append({ event: "failed", legacySid: sid, error: message, ...statusOf(err), runId: ctx.runId });
        return failed(done, `the new credential ${newId} is in place, but deleting ${r.oldId} failed: ${message} — rerun apply to delete it`, { warnings });
      }
      note = `replaced ${r.oldId} (it was already gone from Comms)`;
    }
  } else {
    note = `replaced ${r.oldId} (it was already gone from Comms)`;
  }
  await ctx.deps.ledger.append({ event: "deleted", legacySid: sid, commsCredentialId: r.oldId, reason: `${REPLACED_REASON}${newId}`, runId: ctx.runId });
  return { ...done, status: "confirmed", warnings: [...warnings, note] };
}

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
    const lost: LostWithId = { ...earlier, appName: earlier.appName ?? target.appName, credentialType: earlier.credentialType ?? target.credentialType, legacySid: sid };
    const settled = await resolveLost(item, lost, warnings, 0, ctx);
    if (settled) return settled;
  }

  // 3. Create. A create whose answer is lost is waited for and, once settled with nothing in
  //    Comms, sent once more in this run.
  const key = keyOf(target.appName, target.credentialType);
  let noticed = false;
  for (let sends = 1; ; ) {
    // Only the write holds the (App, type) lock and a concurrency slot; confirming happens outside both.
    const outcome = await ctx.serialised(key, async (): Promise<AppliedItem | { id: string; location: string; acceptedAtMs: number } | { lost: LostWithId; reason: string } | { holdUntil: number; reason: string }> => {
      // Interrupted while waiting for a slot: nothing was sent for this item.
      if (ctx.signal.aborted) return notStarted(item);
      const held = ctx.unresolved.get(key);
      if (held) return { ...item, status: "planned", warnings: [...warnings, `not attempted: ${held}; rerun apply once it is resolved`] };
      // Another credential's create of this kind has an unknown outcome: what this create makes must
      // not land in that attempt's window, or a lone new credential there could be either's.
      const rival = openWindow(key, sid, ctx);
      if (rival) return rival;

      const attemptId = randomUUID();
      const startedAt = ctx.now().toISOString();
      const priorIds = ctx.deps.existing.filter((c) => c.appName === target.appName && c.credentialType === target.credentialType).map((c) => c.id);
      try {
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
          ...(item.replace ? { replaces: item.replace.oldId, replacesDefault: item.replace.oldWasDefault } : {}),
          runId: ctx.runId,
        });
      } catch (err) {
        throw new JournalError((err as Error).cause ?? err, undefined, true);
      }
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
        // Comms's visibility delay runs from its 202, not from the end of the journal write below.
        const acceptedAtMs = ctx.now().getTime();
        ctx.claimed.add(accepted.resourceId);
        try {
          await ledger.append({
            event: "accepted",
            legacySid: sid,
            attemptId,
            commsCredentialId: accepted.resourceId,
            resourceLocation: accepted.resourceLocation,
            runId: ctx.runId,
          });
        } catch (err) {
          throw new JournalError((err as Error).cause ?? err, accepted.resourceId);
        }
        return { id: accepted.resourceId, location: accepted.resourceLocation, acceptedAtMs };
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
        const lost: LostWithId = { attemptId, legacySid: sid, appName: target.appName, credentialType: target.credentialType, startedAt, unknownAt, priorIds, ...(lastSentAt !== startedAt ? { lastSentAt } : {}) };
        track(ctx.lost, attemptId, lost);
        // The first look happens while this create still holds its (App, type): no other create of
        // that kind can start (and be cut short by a crash) before the lost one had its chance.
        const first = await lookHeld(lost, ctx);
        if (first.kind === "one") {
          return adopt(item, first.credential, lost, [...warnings, `the create's answer was lost; found ${first.credential.id} in Comms and adopted it`], sends, ctx);
        }
        return { lost, reason: err.message };
      }
    });
    if ("status" in outcome) return outcome;
    if ("holdUntil" in outcome) {
      if (!noticed) {
        noticed = true;
        ctx.deps.onWaiting?.({ legacySid: sid, appName: target.appName, credentialType: target.credentialType, until: new Date(outcome.holdUntil), reason: outcome.reason });
      }
      await sleepUnlessAborted(ctx.sleep, Math.max(1, outcome.holdUntil - ctx.now().getTime()), ctx.signal);
      continue;
    }
    if ("id" in outcome) return confirmCreate(item, outcome, warnings, sends, ctx);
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
    sends++;
  }
}

/**
 * The latest moment another legacy sid's unresolved create of this (App, type) could still be
 * confused with a new one (`windowClosesAt`), if that is still ahead. At most about a minute after
 * the loss; a settled, adopted or failed attempt no longer counts.
 */
function openWindow(key: string, sid: string, ctx: ItemContext): { holdUntil: number; reason: string } | undefined {
  const now = ctx.now().getTime();
  let until = 0;
  for (const a of ctx.lost.get(key)?.values() ?? []) {
    if (a.legacySid === sid) continue;
    until = Math.max(until, windowClosesAt(a, ctx.window));
  }
  if (until <= now) return undefined;
  return { holdUntil: until, reason: `another create of this App and type has an unknown outcome; this one waits until ${new Date(until).toISOString()} so that the two cannot be confused` };
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
  // Settled: one read that succeeds decides (a failing one proves nothing, so nothing is sent).
  let check: CommsCredential | null;
  try {
    // Within the run-wide limit like every other request (it once ran beside it, one per item).
    check = await ctx.limited(() => ctx.deps.comms.fetch(id));
  } catch (err) {
    return {
      ...item,
      warnings,
      status: "failed",
      attempts: 0,
      error: `${id} was accepted${acceptedAt ? ` at ${acceptedAt}` : ""} but could not be looked up in Comms (${describe(err)}); nothing was sent — rerun apply`,
    };
  }
  if (check) {
    ctx.claimed.add(check.id);
    await ctx.deps.ledger.append({ event: "confirmed", legacySid: item.legacySid, commsCredentialId: check.id, runId: ctx.runId });
    return { ...item, target: { ...target, appName: check.appName, credentialType: check.credentialType }, warnings: [...warnings, `confirmed ${check.id}, accepted by an earlier run`], status: "confirmed", attempts: 0 };
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
  // Giving up needs proof: a list that succeeded once the attempt had settled and showed nothing.
  let emptyAfterSettle = false;
  let lastError: string | undefined;
  for (;;) {
    const lookedAt = ctx.now().getTime();
    const found = await look(lost, ctx);
    if (found.kind === "one") {
      const note = sends > 0 ? `the create's answer was lost; found ${found.credential.id} in Comms and adopted it` : `${found.credential.id} found in Comms was adopted as the result of the earlier attempt ${lost.attemptId}`;
      return adopt(item, found.credential, lost, [...warnings, note], sends, ctx);
    }
    if (found.kind === "ambiguous") {
      ctx.unresolved.set(key, `${what} and ${found.reason}`);
      return { ...item, status: "failed", warnings, attempts: sends, error: `${what} and ${found.reason} (${found.ids.join(", ")}); Comms cannot tell which holds this certificate — delete the ones that are not yours in Comms, then rerun apply` };
    }
    if (found.kind === "error") lastError = found.message;
    else if (lookedAt >= settledAt) emptyAfterSettle = true;
    const left = until - ctx.now().getTime();
    if (ctx.signal.aborted) break;
    if (left <= 0) {
      // Settled, but the last look before now failed or came too early: one more, if it can still decide.
      if (ctx.now().getTime() >= settledAt && !emptyAfterSettle && found.kind !== "error") continue;
      break;
    }
    if (!notified && ctx.wait) {
      notified = true;
      ctx.deps.onWaiting?.({ legacySid: item.legacySid, appName: lost.appName, credentialType: lost.credentialType, until: new Date(until), reason: what });
    }
    await sleepUnlessAborted(ctx.sleep, Math.min(delay, left), ctx.signal);
    delay = Math.min(delay * 2, ctx.pollMaxMs);
  }
  if (!emptyAfterSettle) {
    // Not settled (interrupted, or --no-wait), or Comms could not be listed: the attempt stays open.
    const retryAt = new Date(settledAt).toISOString();
    const why = ctx.signal.aborted
      ? "interrupted while waiting for it"
      : ctx.now().getTime() >= settledAt
        ? `Comms could not be listed to find out (${lastError ?? "no answer"})`
        : `nothing has appeared in Comms yet; it is sent again only after ${retryAt}`;
    if (sends === 0 && ctx.signal.aborted) return notStarted(item, `not started: ${what}; ${why}`);
    const hint = ctx.signal.aborted || ctx.now().getTime() >= settledAt ? "rerun apply" : "rerun apply then (or without --no-wait)";
    return { ...item, status: "failed", warnings, attempts: sends, error: `${what}; ${why} — ${hint}; nothing was re-sent` };
  }
  await ctx.deps.ledger.append({ event: "abandoned", legacySid: item.legacySid, attemptId: lost.attemptId, reason: `nothing appeared in Comms within ${Math.round((ctx.now().getTime() - lastSent) / 1000)} s`, runId: ctx.runId });
  // Still a rival for the rest of the run: what it made may yet appear, and then belongs to no one else.
  return null;
}

function keyOf(appName: string, credentialType: string): string {
  return `${appName}|${credentialType}`;
}

type Looked = ReturnType<typeof reconcileLost> | { kind: "error"; message: string };

/**
 * One look (one list call) for what a lost create made, holding its (App, type) lock so that no
 * create of that kind is in flight meanwhile (each finished create has claimed its own id).
 */
function look(lost: LostWithId, ctx: ItemContext): Promise<Looked> {
  return ctx.serialised(keyOf(lost.appName, lost.credentialType), () => lookHeld(lost, ctx));
}

/** `look` for a caller that already holds the (App, type) lock. A failed list is an error, never "nothing there". */
async function lookHeld(lost: LostWithId, ctx: ItemContext): Promise<Looked> {
  const key = keyOf(lost.appName, lost.credentialType);
  const since = new Date(Date.parse(lost.startedAt) - (ctx.window.skewMs ?? RECONCILE_CLOCK_SKEW_MS)).toISOString();
  try {
    const listed = await ctx.deps.comms.list({ appName: lost.appName, credentialType: lost.credentialType, startDate: since });
    const rivals = [...(ctx.lost.get(key)?.entries() ?? [])].filter(([id]) => id !== lost.attemptId).map(([, a]) => a);
    const found = reconcileLost(lost, listed, ctx.claimed, rivals, ctx.window);
    if (found.kind === "one") ctx.claimed.add(found.credential.id);
    return found;
  } catch (err) {
    ctx.log.warn({ err: describe(err) }, "reconciliation list failed; trying again");
    return { kind: "error", message: describe(err) };
  }
}

async function adopt(item: PlanItem, found: CommsCredential, lost: LostWithId, warnings: string[], sends: number, ctx: ItemContext): Promise<AppliedItem> {
  await ctx.deps.ledger.append({ event: "accepted", legacySid: item.legacySid, attemptId: lost.attemptId, commsCredentialId: found.id, reconciled: true, runId: ctx.runId });
  await ctx.deps.ledger.append({ event: "confirmed", legacySid: item.legacySid, commsCredentialId: found.id, runId: ctx.runId });
  untrack(ctx.lost, lost.attemptId, lost);
  // The report says where the credential actually is (an earlier attempt may have gone elsewhere).
  const target = item.target ? { ...item.target, appName: found.appName, credentialType: found.credentialType } : undefined;
  return { ...item, ...(target ? { target } : {}), commsCredentialId: found.id, warnings, status: "confirmed", attempts: sends };
}

async function confirmCreate(
  item: PlanItem,
  { id, location, acceptedAtMs }: { id: string; location: string; acceptedAtMs: number },
  warnings: string[],
  sends: number,
  ctx: ItemContext,
): Promise<AppliedItem> {
  const target = item.target!;
  // A signal stops the wait for visibility: the 202 is journalled, a rerun confirms it.
  const seen = await ctx.confirmer.waitFor(target.appName, id, { location, since: acceptedAtMs, signal: ctx.signal, ...(ctx.ticket ? { ticket: ctx.ticket } : {}) });
  if (seen) {
    await ctx.deps.ledger.append({ event: "confirmed", legacySid: item.legacySid, commsCredentialId: id, runId: ctx.runId });
    return { ...item, commsCredentialId: id, warnings, status: "confirmed", attempts: sends };
  }
  const why = ctx.signal.aborted ? "the run was interrupted before it was visible" : "not visible before the confirmation timeout";
  await ctx.deps.ledger.append({ event: "unconfirmed", legacySid: item.legacySid, commsCredentialId: id, reason: why, runId: ctx.runId });
  return {
    ...item,
    commsCredentialId: id,
    warnings: [...warnings, `accepted (202) but ${why}; a rerun confirms it`],
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
