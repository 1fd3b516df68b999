import { AdaptiveLimiter, describeConcurrency, FIRST, type LimiterOptions } from "../apply/adaptive.js";
import type { AppliedItem, ApplyResult } from "../apply/types.js";
import type { CommsClient } from "../comms/types.js";
import type { CommsCredential } from "../domain.js";
import type { Ledger, LedgerEntry } from "../ledger/types.js";
import type { Logger } from "../log.js";
import { ApiError, WritesStoppedError } from "../errors.js";
import { CONFIRM_INITIAL_DELAY_MS, CONFIRM_MAX_DELAY_MS, CONFIRM_TIMEOUT_MS } from "../limits.js";
import { sleepUnlessAborted } from "../sleep.js";

export interface RollbackCandidate {
  legacySid: string;
  commsCredentialId: string;
  appName: string;
  credentialType: CommsCredential["credentialType"];
  /** An earlier rollback's DELETE of it was accepted (202) and it was not yet seen gone. */
  deletePending?: true;
}

/** An App a rollback would delete (with its last credential), and its device registrations. */
export interface AppDeletion {
  appName: string;
  /** Device registrations Comms deletes with the App; absent when they could not be counted. */
  registrations?: number;
  /** Why they could not be counted. */
  countError?: string;
}

export interface RollbackPlan {
  deletes: RollbackCandidate[];
  /** Per App: deleting these would remove its last credential (and the App and its device registrations). */
  refused: ({ appName: string; candidates: RollbackCandidate[]; deletesPending?: string[] } & Omit<AppDeletion, "appName">)[];
  /**
   * The ledger's credential is already gone from Comms; with `deletePending`, it is what an earlier
   * rollback's accepted delete did (journalled `deleted` now).
   */
  gone: RollbackCandidate[];
  /**
   * Apps whose last credential these deletes remove (with `allowAppDeletion`): Comms deletes the
   * App and its device registrations with it. `countAppRegistrations` fills in how many.
   */
  appDeletions?: AppDeletion[];
  /** Ledger entries rollback cannot act on (an attempt with an unknown outcome). */
  warnings: string[];
}

/**
 * Pure: what rollback would delete. Only ids the ledger says cr2comms created are ever candidates.
 * `onlyIds` narrows to the credentials of one apply report.
 */
export function planRollback(
  entries: ReadonlyMap<string, LedgerEntry>,
  comms: readonly CommsCredential[],
  opts: { onlyIds?: ReadonlySet<string>; allowAppDeletion: boolean },
): RollbackPlan {
  const live = new Map(comms.map((c) => [c.id, c]));
  // Deletes Comms accepted (202) but not yet seen gone, from earlier rollbacks: on their way out.
  const pending = new Set([...entries.values()].flatMap((e) => e.pendingDeletes ?? []));
  // So are credentials a replacement deleted (Comms accepted the delete): listed for a while, they
  // must not count as what stays in their App.
  const leaving = new Set([...pending, ...[...entries.values()].flatMap((e) => e.replacedIds ?? [])]);
  const candidates: RollbackCandidate[] = [];
  const gone: RollbackCandidate[] = [];
  const warnings: string[] = [];
  for (const entry of [...entries.values()].sort((a, b) => a.legacySid.localeCompare(b.legacySid))) {
    if (entry.state === "pending") {
      warnings.push(`${entry.legacySid}: an attempt has no recorded outcome; run apply (or status) first so it is reconciled`);
    }
    // Every live credential the ledger says cr2comms created for this sid — the current one and any
    // earlier one that came back (e.g. accepted but visible only later).
    for (const id of entry.createdIds) {
      if (opts.onlyIds && !opts.onlyIds.has(id)) continue;
      const current = live.get(id);
      const deletePending = pending.has(id) ? { deletePending: true as const } : {};
      if (current) {
        // A pending delete still listed is sent again (a 404 then says it is gone).
        candidates.push({ legacySid: entry.legacySid, commsCredentialId: id, appName: current.appName, credentialType: current.credentialType, ...deletePending });
      } else if (pending.has(id) || (id === entry.commsCredentialId && entry.state === "confirmed")) {
        // Gone: an earlier rollback's accepted delete took effect, or it was deleted outside cr2comms.
        gone.push({ legacySid: entry.legacySid, commsCredentialId: id, appName: entry.appName ?? "", credentialType: entry.credentialType ?? "APN", ...deletePending });
      } else if (id === entry.commsCredentialId && (entry.state === "accepted" || entry.state === "unconfirmed")) {
        // Accepted but never seen: it may still appear. Not deleted, not forgotten.
        warnings.push(`${entry.legacySid}: ${id} was accepted but is not visible in Comms yet; not deleted — run rollback again once it is (status shows it)`);
      }
    }
  }
  const byApp = new Map<string, RollbackCandidate[]>();
  for (const c of candidates) byApp.set(c.appName, [...(byApp.get(c.appName) ?? []), c]);
  const deletes: RollbackCandidate[] = [];
  const refused: RollbackPlan["refused"] = [];
  const appDeletions: AppDeletion[] = [];
  for (const [appName, list] of byApp) {
    // What stays once these go: a credential whose delete Comms already accepted does not stay.
    const going = new Set(list.map((c) => c.commsCredentialId));
    const remaining = comms.filter((c) => c.appName === appName && !going.has(c.id) && !leaving.has(c.id)).length;
    if (remaining <= 0 && !opts.allowAppDeletion) {
      const deletesPending = comms.filter((c) => c.appName === appName && !going.has(c.id) && leaving.has(c.id)).map((c) => c.id);
      refused.push({ appName, candidates: list, ...(deletesPending.length ? { deletesPending } : {}) });
    } else {
      deletes.push(...list);
      if (remaining <= 0) appDeletions.push({ appName });
    }
  }
  return { deletes, refused, gone, warnings, ...(appDeletions.length ? { appDeletions } : {}) };
}

/**
 * Counts the device registrations of every App the plan would delete, before anything is deleted,
 * so that the confirmation and the report can say what goes with it. A count that fails is said so
 * (`countError`); it does not stop the rollback the user allowed.
 */
export async function countAppRegistrations(plan: RollbackPlan, comms: Pick<CommsClient, "countDeviceRegistrations">): Promise<RollbackPlan> {
  const count = async (appName: string): Promise<Omit<AppDeletion, "appName">> => {
    try {
      return { registrations: await comms.countDeviceRegistrations(appName) };
    } catch (err) {
      return { countError: err instanceof Error ? err.message : String(err) };
    }
  };
  // Refused Apps are counted too: the refusal can then say what the deletion would take.
  const [appDeletions, refused] = await Promise.all([
    Promise.all((plan.appDeletions ?? []).map(async (d): Promise<AppDeletion> => ({ appName: d.appName, ...(await count(d.appName)) }))),
    Promise.all(plan.refused.map(async (r) => ({ ...r, ...(await count(r.appName)) }))),
  ]);
  return { ...plan, refused, ...(appDeletions.length ? { appDeletions } : {}) };
}

/** "(and its 1,204 device registrations)" for a refusal; "" when not counted. */
export function registrationsNote(d: Omit<AppDeletion, "appName">): string {
  if (d.registrations === undefined) return "";
  return ` (and its ${d.registrations.toLocaleString("en-US")} device registration${d.registrations === 1 ? "" : "s"})`;
}

/** "deletes App x and its 1,204 device registrations" (or says the number is not known). */
export function describeAppDeletion(d: AppDeletion): string {
  if (d.registrations === undefined) {
    return `deletes App ${d.appName} and all its device registrations (they could not be counted${d.countError ? `: ${d.countError}` : ""})`;
  }
  const n = d.registrations;
  return `deletes App ${d.appName} and its ${n.toLocaleString("en-US")} device registration${n === 1 ? "" : "s"}`;
}

export interface RollbackDeps {
  comms: CommsClient;
  ledger: Ledger;
  /**
   * Requests in flight: fixed (`--concurrency N`), or "adaptive" (the default), as apply does. A
   * slot is held for each DELETE and for each read that checks it is gone; not while waiting
   * between reads, nor for the journal line (written once the credential is seen gone).
   */
  concurrency: number | "adaptive";
  /** The adaptive limiter's bounds and steps (tests). */
  adaptive?: Omit<LimiterOptions, "workLeft">;
  logger?: Pick<Logger, "info">;
  runId: string;
  accountSid: string;
  now?: () => Date;
  sleep?: (ms: number) => Promise<void>;
  confirmTimeoutMs?: number;
  onItem?: (item: AppliedItem) => void;
  /** Aborting (Ctrl-C, SIGTERM, SIGHUP) stops new deletes from starting; those in flight finish and are journalled. */
  signal?: AbortSignal;
}

/** Deletes what the plan says, journals each deletion, and returns a report-ready result. */
export async function rollback(plan: RollbackPlan, deps: RollbackDeps): Promise<ApplyResult> {
  const now = deps.now ?? (() => new Date());
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const startedAt = now().toISOString();
  // The deletes not yet sent: what a probe above a limit that drew a 429 would have to repay.
  let deletesLeft = plan.deletes.length;
  const limit = deps.concurrency === "adaptive" ? new AdaptiveLimiter({ ...deps.adaptive, workLeft: () => deletesLeft }) : AdaptiveLimiter.fixed(deps.concurrency);
  const item = (c: RollbackCandidate, action: AppliedItem["action"]): AppliedItem => ({
    legacySid: c.legacySid,
    friendlyName: null,
    legacyType: c.credentialType === "FCM" ? "fcm" : "apn",
    sandbox: c.credentialType === "APN_SANDBOX" ? true : c.credentialType === "APN" ? false : null,
    action,
    target: { appName: c.appName, credentialType: c.credentialType, isDefault: false },
    commsCredentialId: c.commsCredentialId,
    warnings: [],
    problems: [],
    status: "planned",
  });

  // A ledger that can no longer be written stops the run like a signal: nothing new starts.
  const stop = new AbortController();
  if (deps.signal?.aborted) stop.abort();
  deps.signal?.addEventListener("abort", () => stop.abort(), { once: true });
  const problems: string[] = [];
  let writesStopped: string | undefined;

  // Every answer steers the limit; a request sleeping out a Retry-After gives its slot back meanwhile.
  const unwatch = deps.comms.watchAnswers?.((status) => limit.answer(status));
  const unwrap = deps.comms.aroundRetryWaits?.((wait) => limit.outside(wait));
  const notStarted = (result: AppliedItem): AppliedItem => {
    result.warnings.push(deps.signal?.aborted ? "not started: the run was interrupted" : "not started: the ledger could not be written");
    deps.onItem?.(result);
    return result;
  };
  const deleteOne = async (c: RollbackCandidate): Promise<AppliedItem> => {
    const result = item(c, "delete");
    const app = plan.appDeletions?.find((d) => d.appName === c.appName);
    if (app) result.warnings.push(`the last credential(s) of App ${c.appName}: Comms ${describeAppDeletion(app)}`);
    let t0: Date | undefined;
    // Only the DELETE holds a slot. Once the run is stopped nothing more is sent: not a new delete,
    // and not a delete again after a 429 (the 429 means Comms did nothing).
    const sent = await limit
      .run(async (): Promise<"sent" | "gone" | "not-started" | "not-resent" | "writes-stopped"> => {
        if (stop.signal.aborted) return "not-started";
        if (writesStopped) return "writes-stopped";
        t0 = now();
        deletesLeft--;
        try {
          await deps.comms.delete(c.commsCredentialId, {
            // Checked as it leaves: a delete held back behind the client's first write may only go
            // once the run is already stopped.
            onSend: async (n) => {
              if (stop.signal.aborted) throw n > 1 ? new NotResent() : new NotSent();
            },
          });
          return "sent";
        } catch (err) {
          if (err instanceof NotResent) return "not-resent";
          if (err instanceof NotSent) return "not-started";
          // A 403 to a delete: the key lacks write permission; the client sends no write after it.
          if (err instanceof WritesStoppedError) {
            writesStopped ??= err.message;
            return "writes-stopped";
          }
          if (err instanceof ApiError && err.status === 403) writesStopped ??= err.message;
          // Already gone: what rollback wanted (an earlier run's delete, or someone else's).
          if (err instanceof ApiError && err.status === 404) return "gone";
          throw err;
        }
      })
      .catch((err: unknown) => {
        result.status = "failed";
        result.error = (err as Error).message;
        return undefined;
      });
    if (sent === "not-started") return notStarted(result);
    if (sent === "writes-stopped") {
      result.warnings.push(`not started: no delete is sent after ${writesStopped ?? "a 403"}`);
      deps.onItem?.(result);
      return result;
    }
    if (sent === "not-resent") {
      result.warnings.push(`not deleted: Comms answered 429 (too many requests) and the run stopped (${deps.signal?.aborted ? "interrupted" : "the ledger could not be written"}) before it was sent again`);
    } else if (sent !== undefined) {
      if (sent === "gone") result.warnings.push("Comms answered 404 to the delete: it was already gone");
      // Accepted (202): journalled at once as pending, so that this credential counts as gone for the
      // last-credential guard of any later rollback even if it is not seen gone in this one.
      let unjournalled: string | undefined;
      if (sent === "sent") {
        try {
          await deps.ledger.append({ event: "delete-accepted", legacySid: c.legacySid, commsCredentialId: c.commsCredentialId, reason: "rollback", runId: deps.runId });
        } catch (err) {
          stop.abort();
          unjournalled = (err as Error).message;
          if (problems.length === 0) problems.push(`stopped: the delete of ${c.commsCredentialId} was accepted by Comms, but the ledger could not be written: ${unjournalled}; no new delete was started after it`);
        }
      }
      // Journalled only once seen gone: the ledger never says deleted while the credential exists
      // (a rerun of rollback checks again, and deletes it again if it is still there).
      const seen: GoneCheck = sent === "gone" ? { kind: "gone" } : await waitGone((fn) => limit.run(fn, FIRST), deps.comms, c.commsCredentialId, { sleep, now, timeoutMs: deps.confirmTimeoutMs ?? CONFIRM_TIMEOUT_MS, signal: stop.signal });
      if (seen.kind === "gone") {
        try {
          // The ledger already failed for this delete: not tried again, the failure is said.
          if (unjournalled !== undefined) throw new Error(unjournalled);
          await deps.ledger.append({ event: "deleted", legacySid: c.legacySid, commsCredentialId: c.commsCredentialId, reason: "rollback", runId: deps.runId });
          result.status = "confirmed";
        } catch (err) {
          stop.abort();
          const message = `deleted in Comms, but the ledger could not be written: ${(err as Error).message}`;
          if (problems.length === 0) problems.push(`stopped: ${message}; no new delete was started after it`);
          result.status = "failed";
          result.error = message;
        }
      } else if (unjournalled !== undefined) {
        result.status = "failed";
        result.error = `the delete was accepted (202), but the ledger could not be written: ${unjournalled}; it is not yet seen gone — rerun rollback (it checks it, and deletes it again if it is still there)`;
      } else {
        result.status = "accepted-unconfirmed";
        const why =
          seen.kind === "visible"
            ? "the credential was still visible at the timeout"
            : seen.kind === "stopped"
              ? "the run was stopped before it was seen gone"
              : `checking that it is gone failed: ${seen.message}`;
        result.warnings.push(`the delete was accepted (202) but ${why}; the ledger records it as pending, so a rerun of rollback checks it again (and deletes it if it is still there)`);
      }
    }
    const t1 = now();
    const from = t0 ?? t1;
    result.timings = { startedAt: from.toISOString(), finishedAt: t1.toISOString(), ms: t1.getTime() - from.getTime() };
    deps.onItem?.(result);
    return result;
  };
  const deleted = await Promise.all(plan.deletes.map(deleteOne)).finally(() => {
    unwatch?.();
    unwrap?.();
  });
  if (writesStopped) problems.push(`stopped deleting: ${writesStopped}; the credentials not deleted stay listed`);
  const refused = plan.refused.flatMap((r) =>
    r.candidates.map((c) => {
      const i = item(c, "refused");
      i.status = "skipped";
      const counted = r.registrations === undefined ? "" : ` (${r.registrations.toLocaleString("en-US")})`;
      const pendingNote = r.deletesPending?.length ? `; Comms already accepted the delete of ${r.deletesPending.join(", ")}, which counts as gone` : "";
      i.problems.push(
        `not deleted: it would remove the last credential of App ${r.appName}, which deletes the App and its device registrations${counted} (pass --allow-app-deletion to allow)${pendingNote}`,
      );
      return i;
    }),
  );
  const gone: AppliedItem[] = [];
  for (const g of plan.gone) {
    const i = g.deletePending ? item(g, "delete") : item(g, "already-gone");
    i.status = "skipped";
    i.warnings.push(g.deletePending ? "gone from Comms: the delete an earlier rollback sent (accepted, then pending) has taken effect" : "already gone from Comms");
    gone.push(i);
    let unjournalled = problems.length > 0 ? "the ledger could not be written" : undefined;
    if (unjournalled === undefined) {
      try {
        const reason = g.deletePending ? "rollback (its accepted delete was seen gone)" : "already gone from Comms at rollback";
        await deps.ledger.append({ event: "deleted", legacySid: g.legacySid, commsCredentialId: g.commsCredentialId, reason, runId: deps.runId });
      } catch (err) {
        unjournalled = `the ledger could not be written: ${(err as Error).message}`;
        problems.push(unjournalled);
      }
    }
    if (g.deletePending) {
      i.status = unjournalled === undefined ? "confirmed" : "failed";
      if (unjournalled !== undefined) i.error = `gone from Comms, but not recorded (${unjournalled}); a rerun of rollback records it`;
    }
  }
  const stats = limit.stats();
  deps.logger?.info({ concurrency: stats }, describeConcurrency(stats));
  return {
    kind: "rollback",
    runId: deps.runId,
    startedAt,
    finishedAt: now().toISOString(),
    accountSid: deps.accountSid,
    items: [...deleted, ...refused, ...gone],
    problems: [...problems, ...plan.refused.map((r) => `refused to delete the last credential(s) of App ${r.appName} without --allow-app-deletion`)],
    warnings: [...(plan.appDeletions ?? []).map((d) => `rollback ${describeAppDeletion(d)} (--allow-app-deletion)`), ...plan.warnings],
    interrupted: deps.signal?.aborted ?? false,
    requests: { ...deps.comms.stats.byKind, retries: deps.comms.stats.retries },
    concurrency: stats,
  };
}

type GoneCheck = { kind: "gone" } | { kind: "visible" } | { kind: "stopped" } | { kind: "error"; message: string };

/** Reads the credential until it is gone, the timeout passes, the run is stopped, or a read fails. */
async function waitGone(
  read: <T>(fn: () => Promise<T>) => Promise<T>,
  comms: CommsClient,
  id: string,
  opts: { sleep: (ms: number) => Promise<void>; now: () => Date; timeoutMs: number; signal: AbortSignal },
): Promise<GoneCheck> {
  const deadline = opts.now().getTime() + opts.timeoutMs;
  let delay = CONFIRM_INITIAL_DELAY_MS;
  // At least one look, also after a signal (a delete in flight when it came may be gone already);
  // none after it beyond that one, and no wait.
  for (;;) {
    try {
      if ((await read(() => comms.fetch(id))) === null) return { kind: "gone" };
    } catch (err) {
      return { kind: "error", message: (err as Error).message };
    }
    if (opts.signal.aborted) return { kind: "stopped" };
    if (opts.now().getTime() >= deadline) return { kind: "visible" };
    await sleepUnlessAborted(opts.sleep, delay, opts.signal);
    delay = Math.min(delay * 2, CONFIRM_MAX_DELAY_MS);
  }
}

/** Thrown from `onSend` to keep a delete from leaving at all once the run stopped. */
class NotSent extends Error {}

/** Thrown from `onSend` to keep a delete answered 429 from being sent again once the run stopped. */
class NotResent extends Error {}
