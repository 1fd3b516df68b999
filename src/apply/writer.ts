import { randomUUID } from "node:crypto";
import pLimit from "p-limit";
import type { CommsClient } from "../comms/types.js";
import type { CommsCredential, SecretResult } from "../domain.js";
import { ApiError, UnknownOutcomeError } from "../errors.js";
import type { Ledger, LedgerEntry } from "../ledger/types.js";
import { OUTCOME_SETTLE_MS, RECONCILE_CLOCK_SKEW_MS, RECONCILE_WINDOW_MS } from "../limits.js";
import { adoptionCandidates, type LostAttempt } from "../plan/reconcile.js";
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
  concurrency: number;
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
}

/**
 * Carries out a plan. One item's failure never stops the others. Every step is journalled in the
 * ledger before the next one starts, so a crash at any point can be reconciled by a rerun.
 *
 * Creates are serialised per (appName, credentialType): when a create's answer is lost, the only
 * unclaimed new credential of that kind in Comms is unambiguously its own.
 */
export async function apply(plan: Plan, deps: ApplyDeps): Promise<ApplyResult> {
  const now = deps.now ?? (() => new Date());
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const log = deps.logger ?? silentLogger;
  const runId = deps.runId ?? randomUUID();
  const startedAt = now().toISOString();
  const reconcileWindowMs = deps.reconcileWindowMs ?? RECONCILE_WINDOW_MS;

  // Every Comms id any ledger entry (or this run) has claimed; adoption only takes unclaimed ids.
  const entries = await deps.ledger.entries();
  const claimed = new Set<string>();
  for (const entry of entries.values()) for (const id of entry.createdIds) claimed.add(id);
  for (const c of deps.existing) claimed.add(c.id);

  // One limit for every request this run sends: writes, and the reads that confirm them.
  const writeLimit = pLimit(Math.max(1, deps.concurrency));
  const confirmer = new Confirmer(deps.comms, {
    ...(deps.sleep ? { sleep: deps.sleep } : {}),
    now: () => now().getTime(),
    schedule: (fn) => writeLimit(fn),
    ...deps.confirm,
  });
  const keyLimits = new Map<string, ReturnType<typeof pLimit>>();
  const serialised = <T>(key: string, fn: () => Promise<T>): Promise<T> => {
    let limit = keyLimits.get(key);
    if (!limit) keyLimits.set(key, (limit = pLimit(1)));
    return limit(() => writeLimit(fn));
  };

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
    unresolved: new Map(),
    entries,
  };

  // Announce every write per App up front, so the confirmer can batch its reads.
  const tickets = plan.items.map((item) =>
    (item.action === "create" || item.action === "update-default") && item.target ? confirmer.expect(item.target.appName) : undefined,
  );
  const results = await Promise.all(
    plan.items.map(async (item, i): Promise<AppliedItem> => {
      const t0 = now();
      const ticket = tickets[i];
      let result: AppliedItem;
      try {
        result = await runItem(item, { ...ctx, ...(ticket ? { ticket } : {}) });
      } catch (err) {
        // Defensive: runItem records its own failures; anything reaching here is a bug or the ledger failing.
        result = failed(item, (err as Error).message);
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
  );

  return {
    kind: "apply",
    runId,
    startedAt,
    finishedAt: now().toISOString(),
    accountSid: plan.accountSid,
    mappingPath: plan.mappingPath,
    items: results,
    problems: [...plan.problems],
    warnings: [...plan.warnings],
    interrupted: deps.signal?.aborted ?? false,
    requests: { ...deps.comms.stats.byKind, retries: deps.comms.stats.retries },
  };
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
  /** (App, type) keys with an unresolved lost create, and why: no more creates there this run. */
  unresolved: Map<string, string>;
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
      if (ctx.deps.signal?.aborted) return notStarted(item);
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

function notStarted(item: PlanItem): AppliedItem {
  return { ...item, status: "planned", warnings: [...item.warnings, "not started: the run was interrupted"] };
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
  if (ctx.deps.signal?.aborted) return notStarted(item);
  try {
    const sent = await ctx.serialised(`${item.target.appName}|${item.target.credentialType}`, async () => {
      if (ctx.deps.signal?.aborted) return false;
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
    const id = item.commsCredentialId;
    const seen = await ctx.confirmer.waitFor(target.appName, id, ctx.ticket ? { ticket: ctx.ticket } : {});
    if (seen) {
      ctx.claimed.add(seen.id);
      await ledger.append({ event: "confirmed", legacySid: sid, commsCredentialId: seen.id, runId: ctx.runId });
      return { ...item, target: { ...target, appName: seen.appName, credentialType: seen.credentialType }, warnings: [...warnings, `confirmed ${seen.id}, accepted by an earlier run`], status: "confirmed", attempts: 0 };
    }
    const acceptedAt = ctx.entries.get(sid)?.acceptedAt;
    if (acceptedAt && ctx.now().getTime() - Date.parse(acceptedAt) < ctx.settleMs) {
      return {
        ...item,
        warnings: [...warnings, `${id} was accepted at ${acceptedAt} but is still not visible; nothing was sent (rerun apply later to confirm it)`],
        status: "accepted-unconfirmed",
        attempts: 0,
      };
    }
    warnings.push(`${id} was accepted${acceptedAt ? ` at ${acceptedAt}` : ""} but never became visible in Comms; creating it again`);
  }

  // Only the write (and any reconciliation) holds the (App, type) lock and a concurrency slot;
  // waiting for a 202 to become visible happens outside both.
  const key = keyOf(target.appName, target.credentialType);
  // 2. An earlier attempt with no recorded outcome: look where it went before creating anything,
  //    holding that (App, type)'s lock — it may differ from today's target after a mapping change.
  const earlier = item.reconcileFrom;
  const lost = earlier ? { ...earlier, appName: earlier.appName ?? target.appName, credentialType: earlier.credentialType ?? target.credentialType } : undefined;
  if (lost && keyOf(lost.appName, lost.credentialType) !== key) {
    const settled = await ctx.serialised(keyOf(lost.appName, lost.credentialType), () => resolveEarlier(item, lost, warnings, ctx));
    if (settled) return settled;
  }
  const outcome = await ctx.serialised(key, async (): Promise<AppliedItem | { id: string; location: string }> => {
    // Interrupted while waiting for a slot: nothing was sent for this item.
    if (ctx.deps.signal?.aborted) return notStarted(item);
    const held = ctx.unresolved.get(key);
    if (held) return { ...item, status: "planned", warnings: [...warnings, `not attempted: ${held}; rerun apply once it is resolved`] };
    if (lost && keyOf(lost.appName, lost.credentialType) === key) {
      const settled = await resolveEarlier(item, lost, warnings, ctx);
      if (settled) return settled;
    }

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
    try {
      const accepted = await ctx.deps.comms.create(
        { credentialType: target.credentialType, appName: target.appName, isDefault: target.isDefault, content: encodeContent(secret) },
        // A re-send after 429/503 moves the latest moment the create can have been carried out.
        { onSend: async (n) => (n > 1 ? ledger.append({ event: "resent", legacySid: sid, attemptId, runId: ctx.runId }) : undefined) },
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
      if (!(err instanceof UnknownOutcomeError)) {
        const message = describe(err);
        await ledger.append({ event: "failed", legacySid: sid, attemptId, error: message, ...statusOf(err), runId: ctx.runId });
        return failed(item, message, { warnings, attempts: 1 });
      }
      ctx.log.warn({ sid, attemptId }, "create outcome unknown; reconciling against Comms (never re-sent blindly)");
      const lost = { appName: target.appName, credentialType: target.credentialType, startedAt, unknownAt: ctx.now().toISOString(), priorIds };
      const found = await reconcile(lost, ctx);
      if (found && found !== "ambiguous") {
        return adopt(item, found, attemptId, [...warnings, `the create's answer was lost; found ${found.id} in Comms and adopted it`], 1, ctx);
      }
      // The attempt stays open (pending) in the ledger: the next run reconciles it before creating.
      await ledger.append({ event: "unknown", legacySid: sid, attemptId, reason: err.message, runId: ctx.runId });
      const why =
        found === "ambiguous"
          ? "several new credentials could be its result"
          : `nothing new appeared in Comms within ${Math.round(ctx.reconcileWindowMs / 1000)} s`;
      const held = holdKey(item, warnings, lost, `a create for ${target.appName} ${target.credentialType} has an unknown outcome`, ctx);
      return { ...held, status: "failed", attempts: 1, error: `create outcome unknown (${err.message}) and ${why}; nothing was re-sent — rerun apply later to reconcile` };
    }
  });
  if ("status" in outcome) return outcome;
  return confirmCreate(item, outcome.id, outcome.location, warnings, 1, ctx);
}

/**
 * Settles an earlier lost create before a new one is sent: adopts its result, or holds (too
 * recent, or ambiguous), or records it abandoned (returns null: go ahead and create).
 */
async function resolveEarlier(item: PlanItem, lost: LostAttempt & { attemptId: string }, warnings: string[], ctx: ItemContext): Promise<AppliedItem | null> {
  if (ctx.deps.signal?.aborted) return notStarted(item);
  const found = await reconcile(lost, ctx);
  if (found === "ambiguous") return holdKey(item, warnings, lost, `several credentials could be the result of the earlier attempt ${lost.attemptId}`, ctx);
  if (found) return adopt(item, found, lost.attemptId, [...warnings, `${found.id} found in Comms was adopted as the result of the earlier attempt ${lost.attemptId}`], 0, ctx);
  const age = ctx.now().getTime() - Date.parse(lost.startedAt);
  if (age < ctx.settleMs) {
    const retryAt = new Date(Date.parse(lost.startedAt) + ctx.settleMs).toISOString();
    return holdKey(item, warnings, lost, `the earlier create attempt ${lost.attemptId} (${lost.startedAt}) has an unknown outcome and nothing has appeared in Comms yet; it is sent again only after ${retryAt}`, ctx);
  }
  await ctx.deps.ledger.append({ event: "abandoned", legacySid: item.legacySid, attemptId: lost.attemptId, reason: `nothing appeared in Comms within ${Math.round(age / 1000)} s`, runId: ctx.runId });
  return null;
}

function keyOf(appName: string, credentialType: string): string {
  return `${appName}|${credentialType}`;
}

/**
 * An unresolved lost create blocks further creates of the same App and type for the rest of the
 * run: another credential appearing there would make the lost one's result ambiguous.
 */
function holdKey(item: PlanItem, warnings: string[], lost: LostAttempt, reason: string, ctx: ItemContext): AppliedItem {
  ctx.unresolved.set(keyOf(lost.appName, lost.credentialType), reason);
  return { ...item, status: "failed", error: `${reason}; nothing was sent`, warnings, attempts: 0 };
}

/**
 * Lists Comms until the attempt is `reconcileWindowMs` old, for the one credential that could be
 * what the lost create made (see `adoptionCandidates`). Never guesses between several.
 */
async function reconcile(lost: LostAttempt, ctx: ItemContext): Promise<CommsCredential | "ambiguous" | null> {
  const since = new Date(Date.parse(lost.startedAt) - RECONCILE_CLOCK_SKEW_MS).toISOString();
  const deadline = Date.parse(lost.startedAt) + ctx.reconcileWindowMs;
  let delay = 100;
  for (;;) {
    try {
      const listed = await ctx.deps.comms.list({ appName: lost.appName, credentialType: lost.credentialType, startDate: since });
      const candidates = adoptionCandidates(lost, listed, ctx.claimed);
      if (candidates.length > 1) return "ambiguous";
      const only = candidates[0];
      if (only) {
        ctx.claimed.add(only.id);
        return only;
      }
    } catch (err) {
      ctx.log.warn({ err: describe(err) }, "reconciliation list failed; trying again");
    }
    if (ctx.now().getTime() >= deadline) return null;
    await ctx.sleep(Math.min(delay, Math.max(0, deadline - ctx.now().getTime())));
    delay = Math.min(delay * 2, 2_000);
  }
}

async function adopt(item: PlanItem, found: CommsCredential, attemptId: string, warnings: string[], sends: number, ctx: ItemContext): Promise<AppliedItem> {
  await ctx.deps.ledger.append({ event: "accepted", legacySid: item.legacySid, attemptId, commsCredentialId: found.id, reconciled: true, runId: ctx.runId });
  await ctx.deps.ledger.append({ event: "confirmed", legacySid: item.legacySid, commsCredentialId: found.id, runId: ctx.runId });
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
