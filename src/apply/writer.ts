import { randomUUID } from "node:crypto";
import { setMaxListeners } from "node:events";
import pLimit from "p-limit";
import { AdaptiveLimiter, describeConcurrency, FIRST } from "./adaptive.js";
import type { Ledger } from "../ledger/types.js";
import { CONFIRM_INITIAL_DELAY_MS, CONFIRM_MAX_DELAY_MS, CONFIRM_TIMEOUT_MS, OUTCOME_SETTLE_MS, RECONCILE_CLOCK_SKEW_MS, RECONCILE_WINDOW_MS, SETTLE_POLL_MAX_MS } from "../limits.js";
import type { LostAttempt } from "../plan/reconcile.js";
import { silentLogger } from "../log.js";
import type { Plan, PlanItem } from "../plan/types.js";
import { Confirmer } from "./confirm.js";
import { describe, failed, forget, JournalError, notStarted, track, writes, type ApplyDeps, type ItemContext } from "./context.js";
import { create } from "./create.js";
import { carryOutDefaultApp, FirstCreateGate } from "./default-app.js";
import { replace } from "./replace.js";
import { ServerClock } from "./server-clock.js";
import type { AppliedAccountAction, AppliedItem, ApplyResult } from "./types.js";
import { updateDefault } from "./update-default.js";

export type { ApplyDeps, WaitNotice } from "./context.js";

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

  const serverClock = new ServerClock(now);
  // The observation's answers already showed Comms' clock: the first attempt journals its start on it.
  const seen = deps.comms.lastServerDate?.();
  if (seen) serverClock.saw(seen.serverDate, seen.receivedAt);
  // Reads that confirm or check, and the default App's step: within the limit, ahead of writes.
  const first = <T>(fn: () => Promise<T>): Promise<T> => writeLimit.run(fn, FIRST);
  const confirmer = new Confirmer(deps.comms, {
    ...(deps.sleep ? { sleep: deps.sleep } : {}),
    now: () => now().getTime(),
    schedule: first,
    ...deps.confirm,
  });
  // Every answer this run gets (writes, confirming reads, the default App's step) steers the limit.
  const unwatch = deps.comms.watchAnswers?.((status, answer) => {
    writeLimit.answer(status);
    if (answer?.serverDate) serverClock.saw(answer.serverDate);
  });
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
    clock: serverClock,
    pollMaxMs: deps.settlePollMaxMs ?? SETTLE_POLL_MAX_MS,
    signal: stop.signal,
    writesStopped: {},
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
  if (ctx.writesStopped.reason) problems.push(`stopped writing: ${ctx.writesStopped.reason.replace(/^not sent: /, "")}; the items not sent stay planned`);
  const done = result(results, problems, accountActions);
  const skew = skewWarning(serverClock, ctx.window.skewMs ?? RECONCILE_CLOCK_SKEW_MS);
  if (skew) {
    log.warn({ offsetMs: serverClock.offsetMs }, skew);
    done.warnings.push(skew);
  }
  log.info({ concurrency: done.concurrency }, describeConcurrency(done.concurrency!));
  return done;
}

/** Said when this machine's clock and Comms' are further apart than the skew allowance. */
function skewWarning(clock: ServerClock, skewMs: number): string | undefined {
  const offset = clock.offsetMs;
  if (offset === undefined || Math.abs(offset) <= skewMs) return undefined;
  const seconds = Math.round(Math.abs(offset) / 1000);
  return `this machine's clock is ${seconds} s ${offset < 0 ? "ahead of" : "behind"} Comms' (by the Date of its answers), more than the ${Math.round(skewMs / 1000)} s allowed (--clock-skew-seconds); lost creates were looked for on Comms' clock — set this machine's clock right`;
}

/** The ledger, stopping the run (`stop`) the moment an append fails, before anything else can start. */
function journalOrStop(ledger: Ledger, stop: AbortController): Ledger {
  return {
    // Unused in a run (its entries are read once, before this wrapper): they complete the interface.
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
