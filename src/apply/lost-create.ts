import type { CommsCredential } from "../domain.js";
import { RECONCILE_CLOCK_SKEW_MS } from "../limits.js";
import { reconcileLost, type LostAttempt } from "../plan/reconcile.js";
import type { PlanItem } from "../plan/types.js";
import { sleepUnlessAborted } from "../sleep.js";
import { cappedNote, capWait, describe, keyOf, notStarted, untrack, type ItemContext, type LostWithId } from "./context.js";
import type { AppliedItem } from "./types.js";

/**
 * Settles a lost create before anything more is sent for the item: adopts its result, or blocks
 * (ambiguous), or — with `wait` — keeps looking until it has settled; without `wait`, an attempt
 * too recent to give up on fails with the time to rerun. Returns null when nothing appeared and
 * the attempt has settled: it is journalled `abandoned` and the caller creates.
 */
export async function resolveLost(item: PlanItem, lost: LostWithId, warnings: string[], sends: number, ctx: ItemContext, lostReason?: string): Promise<AppliedItem | null> {
  const lastSent = Date.parse(lost.lastSentAt ?? lost.startedAt);
  const { until: settledAt, capped } = capWait(lastSent + ctx.settleMs, ctx.now().getTime(), ctx.settleMs);
  if (capped) {
    ctx.log.warn({ sid: item.legacySid, attemptId: lost.attemptId, lastSent: new Date(lastSent).toISOString() }, "journalled time in the future; wait capped at the settle time from now");
    warnings.push(cappedNote(lastSent + ctx.settleMs, ctx.settleMs));
  }
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
  await ctx.deps.ledger.append({ event: "abandoned", legacySid: item.legacySid, attemptId: lost.attemptId, reason: `nothing appeared in Comms within ${Math.round(Math.max(0, ctx.now().getTime() - lastSent) / 1000)} s`, runId: ctx.runId });
  // Still a rival for the rest of the run: what it made may yet appear, and then belongs to no one else.
  return null;
}

type Looked = ReturnType<typeof reconcileLost> | { kind: "error"; message: string };

/**
 * One look (one list call) for what a lost create made, holding its (App, type) lock so that no
 * create of that kind is in flight meanwhile (each finished create has claimed its own id).
 */
export function look(lost: LostWithId, ctx: ItemContext): Promise<Looked> {
  return ctx.serialised(keyOf(lost.appName, lost.credentialType), () => lookHeld(lost, ctx));
}

/** `look` for a caller that already holds the (App, type) lock. A failed list is an error, never "nothing there". */
export async function lookHeld(lost: LostWithId, ctx: ItemContext): Promise<Looked> {
  const key = keyOf(lost.appName, lost.credentialType);
  // Comms filters `startDate` on its own clock: without knowing it yet, the list is not narrowed
  // (an App holds at most 10 credentials) and the answer's Date places the window.
  const start = onServerClock(lost, ctx);
  // The earlier of the two clocks' starts: the answers' `Date` may be the one that is wrong.
  const since = start.serverStartedAt === undefined ? undefined : new Date(Math.min(Date.parse(start.serverStartedAt), Date.parse(start.startedAt)) - (ctx.window.skewMs ?? RECONCILE_CLOCK_SKEW_MS)).toISOString();
  try {
    const listed = await ctx.deps.comms.list({ appName: lost.appName, credentialType: lost.credentialType, ...(since ? { startDate: since } : {}) });
    const rivals = [...(ctx.lost.get(key)?.entries() ?? [])].filter(([id]) => id !== lost.attemptId).map(([, a]) => onServerClock(a, ctx));
    const found = reconcileLost(onServerClock(lost, ctx), listed, ctx.claimed, rivals, ctx.window);
    if (found.kind === "one") ctx.claimed.add(found.credential.id);
    return found;
  } catch (err) {
    ctx.log.warn({ err: describe(err) }, "reconciliation list failed; trying again");
    return { kind: "error", message: describe(err) };
  }
}

/**
 * The attempt with its start on Comms' clock: as journalled, or else by the difference this run's
 * answers show (an attempt made before any answer, or journalled by an older version).
 */
function onServerClock<A extends LostAttempt>(a: A, ctx: ItemContext): A {
  if (a.serverStartedAt !== undefined) return a;
  const onServer = ctx.clock.toServer(Date.parse(a.startedAt));
  return onServer === undefined || Number.isNaN(onServer) ? a : { ...a, serverStartedAt: new Date(onServer).toISOString() };
}

export async function adopt(item: PlanItem, found: CommsCredential, lost: LostWithId, warnings: string[], sends: number, ctx: ItemContext): Promise<AppliedItem> {
  await ctx.deps.ledger.append({ event: "accepted", legacySid: item.legacySid, attemptId: lost.attemptId, commsCredentialId: found.id, reconciled: true, runId: ctx.runId });
  await ctx.deps.ledger.append({ event: "confirmed", legacySid: item.legacySid, commsCredentialId: found.id, runId: ctx.runId });
  untrack(ctx.lost, lost.attemptId, lost);
  // The report says where the credential actually is (an earlier attempt may have gone elsewhere).
  const target = item.target ? { ...item.target, appName: found.appName, credentialType: found.credentialType } : undefined;
  return { ...item, ...(target ? { target } : {}), commsCredentialId: found.id, warnings, status: "confirmed", attempts: sends };
}
