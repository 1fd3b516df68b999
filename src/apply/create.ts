import { randomUUID } from "node:crypto";
import type { CommsCredential } from "../domain.js";
import { UnknownOutcomeError } from "../errors.js";
import { windowClosesAt } from "../plan/reconcile.js";
import type { PlanItem } from "../plan/types.js";
import { encodeContent } from "../secrets/index.js";
import { sleepUnlessAborted } from "../sleep.js";
import { cappedNote, capWait, describe, failed, JournalError, keyOf, notStarted, statusOf, track, writeRefused, writesStoppedItem, type ItemContext, type LostWithId } from "./context.js";
import { adopt, look, lookHeld, resolveLost } from "./lost-create.js";
import type { AppliedItem } from "./types.js";

export async function create(item: PlanItem, ctx: ItemContext): Promise<AppliedItem> {
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
  // Set when this item first waits for another create's window: its wait is capped from then.
  const holds: { from?: number } = {};
  for (let sends = 1; ; ) {
    // Only the write holds the (App, type) lock and a concurrency slot; confirming happens outside both.
    const outcome = await ctx.serialised(key, async (): Promise<AppliedItem | { id: string; location: string; acceptedAtMs: number } | { lost: LostWithId; reason: string } | { holdUntil: number; reason: string }> => {
      // Interrupted while waiting for a slot: nothing was sent for this item.
      if (ctx.signal.aborted) return notStarted(item);
      if (ctx.writesStopped.reason) return writesStoppedItem(ctx, item);
      const held = ctx.unresolved.get(key);
      if (held) return { ...item, status: "planned", warnings: [...warnings, `not attempted: ${held}; rerun apply once it is resolved`] };
      // Another credential's create of this kind has an unknown outcome: what this create makes must
      // not land in that attempt's window, or a lone new credential there could be either's.
      const rival = openWindow(key, sid, ctx, holds, warnings);
      if (rival) return rival;

      const attemptId = randomUUID();
      const startedAtMs = ctx.now().getTime();
      const startedAt = new Date(startedAtMs).toISOString();
      const onServer = ctx.clock.toServer(startedAtMs);
      const serverStartedAt = onServer === undefined ? undefined : new Date(onServer).toISOString();
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
          ...(serverStartedAt ? { serverStartedAt } : {}),
          secret: secret.fingerprint,
          priorIds,
          ...(item.replace ? { replaces: item.replace.oldId, replacesDefault: item.replace.oldWasDefault } : {}),
          runId: ctx.runId,
        });
      } catch (err) {
        // The run's ledger wrapper throws a JournalError with its cause: `?? err` only guards a bare ledger.
        throw new JournalError((err as Error).cause ?? err, undefined, true);
      }
      let lastSentAt = startedAt;
      try {
        const accepted = await ctx.deps.comms.create(
          { credentialType: target.credentialType, appName: target.appName, isDefault: target.isDefault, content: encodeContent(secret) },
          {
            // A re-send after 429/503 moves the latest moment the create can have been carried out.
            onSend: async (n) => {
              // Stopped while the client held this write back (behind its first write): not sent.
              if (ctx.signal.aborted) throw new NotSent();
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
        if (err instanceof NotSent) {
          await ledger.append({ event: "failed", legacySid: sid, attemptId, error: "not sent: the run was interrupted", runId: ctx.runId });
          return notStarted(item);
        }
        if (writeRefused(ctx, err)) {
          // Nothing was sent: the attempt is closed, the item stays as planned.
          await ledger.append({ event: "failed", legacySid: sid, attemptId, error: describe(err), runId: ctx.runId });
          return writesStoppedItem(ctx, item, describe(err));
        }
        if (!(err instanceof UnknownOutcomeError)) {
          const message = describe(err);
          await ledger.append({ event: "failed", legacySid: sid, attemptId, error: message, ...statusOf(err), runId: ctx.runId });
          return failed(item, message, { warnings, attempts: sends });
        }
        ctx.log.warn({ sid, attemptId }, "create outcome unknown; reconciling against Comms (never re-sent blindly)");
        // Journalled before anything else: a crash from here on leaves the attempt open, never forgotten.
        const unknownAt = ctx.now().toISOString();
        await ledger.append({ event: "unknown", legacySid: sid, attemptId, reason: err.message, runId: ctx.runId });
        const lost: LostWithId = { attemptId, legacySid: sid, appName: target.appName, credentialType: target.credentialType, startedAt, ...(serverStartedAt ? { serverStartedAt } : {}), unknownAt, priorIds, ...(lastSentAt !== startedAt ? { lastSentAt } : {}) };
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
function openWindow(key: string, sid: string, ctx: ItemContext, holds: { from?: number }, warnings: string[]): { holdUntil: number; reason: string } | undefined {
  const now = ctx.now().getTime();
  let journalled = 0;
  for (const a of ctx.lost.get(key)?.values() ?? []) {
    if (a.legacySid === sid) continue;
    journalled = Math.max(journalled, windowClosesAt(a, ctx.window));
  }
  if (journalled <= now) return undefined;
  const { until, capped } = capWait(journalled, (holds.from ??= now), ctx.settleMs);
  if (until <= now) return undefined;
  if (capped && !warnings.some((w) => w.startsWith("the ledger names "))) warnings.push(cappedNote(journalled, ctx.settleMs));
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
  const journalled = acceptedAt ? Date.parse(acceptedAt) + ctx.settleMs : 0;
  const { until, capped } = capWait(journalled, ctx.now().getTime(), ctx.settleMs);
  if (capped) warnings.push(cappedNote(journalled, ctx.settleMs));
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

/** Thrown from `onSend` when the run stopped before the create left: nothing was sent for it. */
class NotSent extends Error {}
