import { ApiError } from "../errors.js";
import { REPLACED_REASON } from "../ledger/types.js";
import type { PlanItem } from "../plan/types.js";
import { describe, failed, keyOf, statusOf, writeRefused, type ItemContext } from "./context.js";
import { create } from "./create.js";
import type { AppliedItem } from "./types.js";

/**
 * A rotation, in the order that never leaves the App without a credential of the type (so the
 * App-deletion cascade cannot happen): create the new credential and confirm it (exactly as a
 * create: a lost answer is reconciled, never re-sent blindly), make it the default when the old
 * one was (or the mapping says so), then delete the old one. Each step is journalled before the
 * next; a rerun after a crash carries on from the plan's `replace` (a new credential made earlier
 * is never made again). Until the last step the old credential is kept.
 */
export async function replace(item: PlanItem, ctx: ItemContext): Promise<AppliedItem> {
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
    // A confirmed create always counts its sends; `?? 0` only satisfies the optional field's type.
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
    if (ctx.writesStopped.reason) return stopped(`not moving the default: no write is sent after ${ctx.writesStopped.reason.replace(/^not sent: /, "")}`);
    try {
      await ctx.serialised(key, () => ctx.deps.comms.setDefault(newId, true));
    } catch (err) {
      if (writeRefused(ctx, err)) return stopped(describe(err));
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
    if (ctx.writesStopped.reason) return stopped(`not deleting the old credential: no write is sent after ${ctx.writesStopped.reason.replace(/^not sent: /, "")}`);
    try {
      await ctx.serialised(key, () => ctx.deps.comms.delete(r.oldId));
    } catch (err) {
      if (writeRefused(ctx, err)) return stopped(describe(err));
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
