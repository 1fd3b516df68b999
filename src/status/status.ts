import type { CommsCredential } from "../domain.js";
import type { CommsApp } from "../comms/types.js";
import { recordedSecret, replayLedger } from "../ledger/ledger.js";
import type { LedgerEntry, LedgerEvent } from "../ledger/types.js";
import { CERT_EXPIRY_WARNING_DAYS } from "../limits.js";

export type StatusKind =
  | "in-sync"
  | "missing"
  | "default-changed"
  | "unconfirmed"
  | "pending"
  | "failed"
  | "rolled-back"
  | "orphaned"
  | "replacing"
  | "delete-pending"
  | "legacy-gone";

/** Kinds that mean the ledger and Comms disagree (exit 2). */
export const DRIFT_KINDS: readonly StatusKind[] = ["missing", "default-changed", "unconfirmed", "pending", "orphaned", "replacing", "delete-pending"];

const DAY_MS = 86_400_000;

export interface StatusRow {
  legacySid: string;
  kind: StatusKind;
  appName?: string;
  credentialType?: string;
  commsCredentialId?: string;
  detail: string;
  /** For a live credential whose certificate's expiry the ledger recorded: when it expires. */
  notAfter?: string;
  /** Whole days from now until `notAfter` (negative once expired). */
  daysLeft?: number;
}

export interface StatusOptions {
  now: Date;
  /** Legacy sids the legacy API lists now; when given, a migrated sid missing from it is `legacy-gone`. */
  legacySids?: ReadonlySet<string>;
  /** `--expiring-within <days>`: rows whose certificate expires within this many days are `expiring`. */
  expiringWithinDays?: number;
}

export interface StatusResult {
  rows: StatusRow[];
  /** Comms credentials no ledger entry claims: listed, never touched. */
  foreign: CommsCredential[];
  drift: boolean;
  /** With `expiringWithinDays`: the live credentials whose certificate expires within that many days. */
  expiring: StatusRow[];
  summary: Record<string, number>;
}

/** Pure: the ledger's view against the live Comms list (and, when given, the legacy sids). */
export function computeStatus(entries: ReadonlyMap<string, LedgerEntry>, comms: readonly CommsCredential[], opts: StatusOptions = { now: new Date() }): StatusResult {
  const live = new Map(comms.map((c) => [c.id, c]));
  const claimed = new Set<string>();
  const rows: StatusRow[] = [];
  for (const entry of [...entries.values()].sort((a, b) => a.legacySid.localeCompare(b.legacySid))) {
    for (const id of entry.createdIds) claimed.add(id);
    const base = {
      legacySid: entry.legacySid,
      ...(entry.appName ? { appName: entry.appName } : {}),
      ...(entry.credentialType ? { credentialType: entry.credentialType } : {}),
      ...(entry.commsCredentialId ? { commsCredentialId: entry.commsCredentialId } : {}),
    };
    const id = entry.commsCredentialId;
    const current = id ? live.get(id) : undefined;
    const replacing = entry.replacing;
    const expiry = (forId: string | undefined) => expiryOf(entry, forId, live, opts.now);
    // A rollback's DELETE that Comms accepted (202) and that was not seen gone yet: neither in sync nor orphaned.
    const deletePending = (forId: string): StatusRow => ({
      ...base,
      ...expiry(forId),
      commsCredentialId: forId,
      kind: "delete-pending",
      detail: live.has(forId)
        ? "rollback's delete was accepted (202) but Comms still lists it; rerun rollback to confirm it (it checks again, and deletes it again if it is still there)"
        : "rollback's delete was accepted (202) and Comms no longer lists it; rerun rollback to confirm it (it records it as deleted)",
    });
    if (id && entry.pendingDeletes?.includes(id)) rows.push(deletePending(id));
    else {
      switch (entry.state) {
        case "confirmed":
          if (!current) rows.push({ ...base, kind: "missing", detail: `${id} was deleted in Comms outside cr2comms; apply recreates it` });
          else if (entry.isDefault && !current.isDefault && !replacing) rows.push({ ...base, ...expiry(id), kind: "default-changed", detail: "cr2comms made it the default; it no longer is" });
          else rows.push({ ...base, ...expiry(id), kind: "in-sync", detail: "confirmed and present" });
          break;
        case "accepted":
        case "unconfirmed":
          if (current) rows.push({ ...base, ...expiry(id), kind: "unconfirmed", detail: "present in Comms but not yet confirmed in the ledger; apply records it" });
          else rows.push({ ...base, kind: "unconfirmed", detail: "accepted (202) but not visible in Comms; apply waits for it or recreates it" });
          break;
        case "pending":
          if (replacing && live.has(replacing.oldId)) {
            rows.push({ ...base, ...expiry(replacing.oldId), commsCredentialId: replacing.oldId, kind: "replacing", detail: "a replacement was begun and its create has no recorded outcome (interrupted run); apply carries it on" });
          } else {
            rows.push({ ...base, kind: "pending", detail: "an attempt has no recorded outcome (interrupted run); apply reconciles it" });
          }
          break;
        case "failed":
          rows.push({ ...base, kind: "failed", detail: "the last attempt failed (see the apply report)" });
          break;
        case "deleted":
          rows.push({ ...base, kind: "rolled-back", detail: "deleted by cr2comms rollback" });
          break;
      }
    }
    for (const old of entry.createdIds) {
      if (old === id) continue;
      if (entry.pendingDeletes?.includes(old)) {
        rows.push(deletePending(old));
        continue;
      }
      if (!live.has(old)) continue;
      if (entry.replacedIds?.includes(old)) {
        // Deleted by a finished replacement (Comms accepted the delete); listed for a while yet.
        rows.push({ ...base, ...expiry(old), commsCredentialId: old, kind: "delete-pending", detail: `replaced by ${id ?? "a new credential"}; Comms accepted its delete (202) but still lists it: it goes once Comms catches up (rerun status to check)` });
        continue;
      }
      if (replacing?.oldId === old && replacing.newId === id) {
        // Mid-replacement: the new credential is in place, the old one is not deleted yet.
        rows.push({ ...base, ...expiry(old), commsCredentialId: old, kind: "replacing", detail: `being replaced by ${id}; apply finishes the replacement (deletes it)` });
      } else {
        // A credential cr2comms created for this sid earlier that is live but no longer the sid's own
        // (it surfaced after being given up on, or the replacement that superseded it was rolled
        // back): a duplicate to clean up with rollback.
        rows.push({ ...base, ...expiry(old), commsCredentialId: old, kind: "orphaned", detail: `created by cr2comms for this sid but superseded by ${id ?? "nothing"}; rollback deletes it` });
      }
    }
  }
  if (opts.legacySids) {
    for (const row of rows) {
      if (opts.legacySids.has(row.legacySid) || !row.commsCredentialId || !live.has(row.commsCredentialId)) continue;
      const note = "its legacy credential no longer exists (deleted in Conversations); the Comms credential is kept";
      if (row.kind === "in-sync") {
        row.kind = "legacy-gone";
        row.detail = note;
      } else {
        row.detail = `${row.detail}; ${note}`;
      }
    }
  }
  for (const row of rows) {
    if (row.daysLeft !== undefined && row.daysLeft <= CERT_EXPIRY_WARNING_DAYS) {
      row.detail = `${row.detail}; ${row.daysLeft < 0 ? `its certificate expired ${-row.daysLeft} day(s) ago` : `its certificate expires in ${row.daysLeft} day(s)`} — renew it, then apply replaces it`;
    }
  }
  const within = opts.expiringWithinDays;
  const expiring =
    within === undefined ? [] : rows.filter((r) => r.notAfter !== undefined && Date.parse(r.notAfter) <= opts.now.getTime() + within * DAY_MS);
  const foreign = comms.filter((c) => !claimed.has(c.id));
  const summary: Record<string, number> = {};
  for (const r of rows) summary[r.kind] = (summary[r.kind] ?? 0) + 1;
  if (foreign.length) summary["not-created-by-cr2comms"] = foreign.length;
  if (within !== undefined) summary[`expiring-within-${within}-days`] = expiring.length;
  return { rows, foreign, drift: rows.some((r) => DRIFT_KINDS.includes(r.kind)), expiring, summary };
}

/** The certificate expiry the ledger recorded for a live credential, with whole days left. */
function expiryOf(entry: LedgerEntry, id: string | undefined, live: ReadonlyMap<string, CommsCredential>, now: Date): { notAfter?: string; daysLeft?: number } {
  if (!id || !live.has(id)) return {};
  const notAfter = recordedSecret(entry, id)?.notAfter;
  const at = notAfter === undefined ? NaN : Date.parse(notAfter);
  if (Number.isNaN(at)) return {};
  return { notAfter: notAfter!, daysLeft: Math.floor((at - now.getTime()) / DAY_MS) };
}

/** The account's default App as `status` shows it. */
export interface DefaultAppStatus {
  /** The live default App; undefined when no App is the default (or the Apps could not be read: `error`). */
  live?: string;
  /** The App cr2comms last made the default (the ledger's last `app-default-set`), if it ever did. */
  setByCr2comms?: string;
  /** cr2comms made an App the default and another one is now. */
  drift: boolean;
  detail: string;
  /** Why the Apps could not be read. */
  error?: string;
}

/** Pure: the live default App against the last one cr2comms set (the ledger's account events). */
export function computeDefaultApp(events: readonly LedgerEvent[], apps: readonly CommsApp[] | { error: string }): DefaultAppStatus {
  let setByCr2comms: string | undefined;
  // A copy of an old line (stale) does not undo a later one.
  const stale = new Set(replayLedger(events).stale.map((s) => s.index));
  for (const [i, e] of events.entries()) if (e.event === "app-default-set" && !stale.has(i)) setByCr2comms = e.appName;
  const set = setByCr2comms !== undefined ? { setByCr2comms } : {};
  if (!Array.isArray(apps)) {
    const error = (apps as { error: string }).error;
    return { ...set, drift: false, detail: `the Comms Apps could not be read: ${error}`, error };
  }
  const live = apps.find((a) => a.isDefault)?.name;
  const drift = setByCr2comms !== undefined && live !== setByCr2comms;
  const detail =
    live === undefined
      ? "no App is the default (the account has no Apps)"
      : drift
        ? `${live} is the default App; cr2comms made ${setByCr2comms} the default — apply (with defaultApp: ${setByCr2comms}) switches it back`
        : setByCr2comms !== undefined
          ? `${live} (made the default by cr2comms)`
          : live;
  return { ...(live !== undefined ? { live } : {}), ...set, drift, detail };
}
