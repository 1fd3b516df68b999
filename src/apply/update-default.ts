import type { PlanItem } from "../plan/types.js";
import { describe, failed, notStarted, statusOf, writeRefused, writesStoppedItem, type ItemContext } from "./context.js";
import type { AppliedItem } from "./types.js";

export async function updateDefault(item: PlanItem, ctx: ItemContext): Promise<AppliedItem> {
  const id = item.commsCredentialId;
  if (!id || !item.target) return failed(item, "update-default item without a Comms credential id");
  if (ctx.signal.aborted) return notStarted(item);
  try {
    const sent = await ctx.serialised(`${item.target.appName}|${item.target.credentialType}`, async () => {
      if (ctx.signal.aborted) return false;
      if (ctx.writesStopped.reason) return "stopped";
      try {
        // Stopped while the client held this write back (behind its first write): not sent.
        await ctx.deps.comms.setDefault(id, true, {
          onSend: async () => {
            if (ctx.signal.aborted) throw new NotSent();
          },
        });
      } catch (err) {
        if (err instanceof NotSent) return false;
        throw err;
      }
      return true;
    });
    if (!sent) return notStarted(item);
    if (sent === "stopped") return writesStoppedItem(ctx, item);
  } catch (err) {
    if (writeRefused(ctx, err)) return writesStoppedItem(ctx, item, describe(err));
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

/** Thrown from `onSend` when the run stopped before the change left: nothing was sent. */
class NotSent extends Error {}
