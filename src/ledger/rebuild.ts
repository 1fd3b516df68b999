import { lstat, readdir, readFile, rename } from "node:fs/promises";
import { join } from "node:path";
import { CREDENTIAL_TYPES, type CredentialType, type SecretFingerprint } from "../domain.js";
import { BlockedError, LedgerWriteError, UsageError } from "../errors.js";
import { writeFileAtomic } from "../report/atomic.js";
import { reportStamp } from "../report/write.js";
import { escapeControl } from "../text.js";
import { replay } from "./ledger.js";
import { acquireLock, type HeldLock } from "./lock.js";
import { describeOsError, osCode } from "./oserror.js";
import { LEDGER_VERSION, REPLACED_REASON, type LedgerEvent } from "./types.js";

/** The parts of an apply or rollback report (`docs/reports.md`) that prove ledger events. */
export interface RunReport {
  path: string;
  kind: "apply" | "rollback";
  accountSid: string;
  runId: string;
  startedAt: string;
  finishedAt: string;
  items: RunReportItem[];
  /** Apps a run confirmed as the account's default App (`accountActions`); absent in older reports. */
  defaultApps?: { appName: string; patched: boolean }[];
}

export interface RunReportItem {
  legacySid: string;
  action: string;
  status: string;
  commsCredentialId?: string;
  target: { appName: string; credentialType: CredentialType; isDefault: boolean } | null;
  finishedAt?: string;
  secret?: SecretFingerprint;
  /** A `replace` item: the credential it replaced (deleted once the replacement was confirmed). */
  replacedId?: string;
  /** A `replace` item: the replaced credential was its App's default (the new one is made the default). */
  replacedWasDefault?: boolean;
  /** When the item began (`timings.startedAt`). */
  startedAt?: string;
}

/** `apply-<stamp>[-n].json` and `rollback-<stamp>[-n].json`, as `writeReport` names them. */
const RUN_REPORT_NAME = /^(apply|rollback)-\d{8}T\d{6}Z(-\d+)?\.json$/;

/** Status of an apply item whose Comms credential exists (or was accepted with a 202). */
const CREATED = new Set(["confirmed", "accepted-unconfirmed"]);

/**
 * Every apply and rollback report in `reportsDir`, oldest run first. Files that are not readable
 * reports are listed in `skipped` with the reason, never guessed at.
 */
export async function readRunReports(reportsDir: string): Promise<{ reports: RunReport[]; skipped: { path: string; reason: string }[] }> {
  let names: string[];
  try {
    names = await readdir(reportsDir);
  } catch (err) {
    if (osCode(err) === "ENOENT") return { reports: [], skipped: [] };
    throw new BlockedError(`cannot list the reports dir ${reportsDir}: ${describeOsError(err)}`, { cause: err });
  }
  const reports: RunReport[] = [];
  const skipped: { path: string; reason: string }[] = [];
  for (const name of names.filter((n) => RUN_REPORT_NAME.test(n)).sort()) {
    const path = join(reportsDir, name);
    try {
      reports.push(parseRunReport(path, JSON.parse(await readFile(path, "utf8"))));
    } catch (err) {
      skipped.push({ path, reason: escapeControl((err as Error).message) });
    }
  }
  reports.sort((a, b) => (a.startedAt < b.startedAt ? -1 : a.startedAt > b.startedAt ? 1 : a.path < b.path ? -1 : 1));
  return { reports, skipped };
}

function parseRunReport(path: string, json: unknown): RunReport {
  const r = json as Record<string, unknown>;
  if (r?.schemaVersion !== 1) throw new Error(`not a cr2comms report of schemaVersion 1`);
  if (r.kind !== "apply" && r.kind !== "rollback") throw new Error(`kind is ${JSON.stringify(r.kind)}, not apply or rollback`);
  for (const key of ["accountSid", "runId", "startedAt", "finishedAt"] as const) {
    if (typeof r[key] !== "string") throw new Error(`${key} is missing`);
  }
  if (!Array.isArray(r.items)) throw new Error("items is missing");
  const items: RunReportItem[] = [];
  for (const raw of r.items as Record<string, unknown>[]) {
    if (typeof raw?.legacySid !== "string" || typeof raw.action !== "string" || typeof raw.status !== "string") continue;
    const t = raw.target as Record<string, unknown> | null | undefined;
    const target =
      t && typeof t.appName === "string" && CREDENTIAL_TYPES.includes(t.credentialType as CredentialType)
        ? { appName: t.appName, credentialType: t.credentialType as CredentialType, isDefault: t.isDefault === true }
        : null;
    const timings = raw.timings as { startedAt?: unknown; finishedAt?: unknown } | undefined;
    const secret = raw.secret as SecretFingerprint | undefined;
    const replaces = raw.replaces as { commsCredentialId?: unknown; wasDefault?: unknown } | undefined;
    items.push({
      legacySid: raw.legacySid,
      action: raw.action,
      status: raw.status,
      ...(typeof raw.commsCredentialId === "string" ? { commsCredentialId: raw.commsCredentialId } : {}),
      target,
      ...(typeof timings?.startedAt === "string" ? { startedAt: timings.startedAt } : {}),
      ...(typeof timings?.finishedAt === "string" ? { finishedAt: timings.finishedAt } : {}),
      ...(secret && typeof secret.contentSha256 === "string" && (secret.kind === "apn" || secret.kind === "fcm") ? { secret } : {}),
      ...(typeof replaces?.commsCredentialId === "string" ? { replacedId: replaces.commsCredentialId, replacedWasDefault: replaces.wasDefault === true } : {}),
    });
  }
  const defaultApps = (Array.isArray(r.accountActions) ? (r.accountActions as Record<string, unknown>[]) : [])
    .filter((a) => a?.action === "set-default-app" && a.status === "confirmed" && typeof a.appName === "string")
    .map((a) => ({ appName: a.appName as string, patched: a.patched !== false }));
  return {
    path,
    kind: r.kind,
    accountSid: r.accountSid as string,
    runId: r.runId as string,
    startedAt: r.startedAt as string,
    finishedAt: r.finishedAt as string,
    items,
    ...(defaultApps.length ? { defaultApps } : {}),
  };
}

/**
 * The ledger events a report proves, stamped `rebuilt: true` and timed when the report says:
 * a confirmed apply item → `confirmed` (with where it is and the secret's fingerprint), and for a
 * confirmed `replace` also `deleted` for the credential it replaced; an
 * accepted-unconfirmed one → `accepted` (a later apply waits for it rather than create a duplicate);
 * an unfinished `replace` that made its new credential → its `attempt` (naming the credential it
 * replaces) and `accepted`, so a later apply finishes it and deletes the old one;
 * a rollback delete seen gone (`confirmed`), or a credential rollback found already gone →
 * `deleted`; a delete Comms accepted (202) but not seen gone → `delete-accepted` (pending); a default App the
 * run confirmed (`accountActions`) → `app-default-set`.
 */
export function eventsFromReport(report: RunReport): LedgerEvent[] {
  const events: LedgerEvent[] = [];
  for (const item of report.items) {
    const id = item.commsCredentialId;
    if (!id) continue;
    const base = { v: LEDGER_VERSION, ts: item.finishedAt ?? report.finishedAt, legacySid: item.legacySid, runId: report.runId, accountSid: report.accountSid, rebuilt: true } as const;
    if (report.kind === "rollback") {
      const deleted = (item.action === "delete" && item.status === "confirmed") || item.action === "already-gone";
      if (deleted) events.push({ ...base, event: "deleted", commsCredentialId: id, reason: "rebuilt from a rollback report" });
      // Accepted (202), not seen gone: pending, so that it counts as gone for a later rollback's guard.
      else if (item.action === "delete" && item.status === "accepted-unconfirmed") events.push({ ...base, event: "delete-accepted", commsCredentialId: id, reason: "rebuilt from a rollback report" });
      continue;
    }
    // A replacement stopped after its new credential was made (interrupted, or the default or the
    // delete failed, or not yet visible) still made it; its old credential is not deleted yet.
    const replacing = item.action === "replace" && item.replacedId !== undefined && item.replacedId !== id;
    const replacedPart = replacing && (item.status === "planned" || item.status === "failed");
    if ((!CREATED.has(item.status) && !replacedPart) || !item.target) continue;
    const where = {
      appName: item.target.appName,
      credentialType: item.target.credentialType,
      isDefault: item.target.isDefault,
      ...(item.secret ? { secret: item.secret } : {}),
    };
    if (item.status === "confirmed") {
      events.push({ ...base, event: "confirmed", commsCredentialId: id, ...where });
      // A confirmed replace finished: its old credential was deleted after the new one was in place.
      if (replacing) events.push({ ...base, event: "deleted", commsCredentialId: item.replacedId!, reason: `${REPLACED_REASON}${id}` });
    } else if (replacing) {
      // The replace attempt, then its new credential as accepted: a later apply confirms the new one,
      // moves the default and deletes the old one, as after an interrupted run, and never re-creates.
      const attemptId = `rebuilt-${report.runId}-${item.legacySid}`;
      events.push({
        ...base,
        event: "attempt",
        attemptId,
        appName: item.target.appName,
        credentialType: item.target.credentialType,
        isDefault: false,
        startedAt: item.startedAt ?? report.startedAt,
        ...(item.secret ? { secret: item.secret } : {}),
        replaces: item.replacedId!,
        replacesDefault: item.replacedWasDefault === true,
      });
      events.push({ ...base, event: "accepted", attemptId, commsCredentialId: id, ...where });
    } else events.push({ ...base, event: "accepted", attemptId: `rebuilt-${report.runId}`, commsCredentialId: id, ...where });
  }
  // The default App the run set (an account-level event: no legacy sid).
  for (const d of report.defaultApps ?? []) {
    events.push({ v: LEDGER_VERSION, ts: report.finishedAt, runId: report.runId, accountSid: report.accountSid, rebuilt: true, event: "app-default-set", appName: d.appName, patched: d.patched });
  }
  return events;
}

/**
 * Apply reports of `accountSid` that record at least one credential created (confirmed or
 * accepted): when the ledger is missing or empty and this is not, the ledger was lost and an
 * apply would create those credentials a second time.
 */
export async function findEarlierApplyReports(reportsDir: string, accountSid: string): Promise<string[]> {
  const { reports } = await readRunReports(reportsDir);
  return reports
    .filter((r) => r.kind === "apply" && r.accountSid === accountSid && r.items.some((i) => i.commsCredentialId && CREATED.has(i.status)))
    .map((r) => r.path);
}

export interface RebuildResult {
  ledgerPath: string;
  accountSid: string;
  events: number;
  /** Legacy sids whose Comms credential the rebuilt ledger knows. */
  credentials: number;
  /** Each report read, oldest first, with the events it gave. */
  fromReports: { path: string; kind: "apply" | "rollback"; events: number }[];
  /** Reports that could not be read (not used). */
  skipped: { path: string; reason: string }[];
  /** Where `--force` moved the old ledger. */
  movedAside?: string;
  warnings: string[];
}

/**
 * `cr2comms ledger rebuild`: under the lock, writes the ledger from the apply and rollback reports
 * of one account. Refuses a ledger that already holds something unless `force` (which first moves
 * it to `<ledger>.before-rebuild-<stamp>`).
 */
export async function rebuildLedger(opts: {
  ledgerPath: string;
  reportsDir: string;
  accountSid?: string;
  force?: boolean;
  now?: () => Date;
  /** Takes the account's lock (see `acquireAccountLock`) once the account is known; `ledgerPath` is the real path. */
  lockAccount?: (accountSid: string, ledgerPath: string) => Promise<HeldLock>;
}): Promise<RebuildResult> {
  const now = opts.now ?? (() => new Date());
  const { ledgerPath, reportsDir } = opts;
  const lock = await acquireLock(ledgerPath, { command: "ledger rebuild", now });
  let accountLock: HeldLock | undefined;
  try {
    const existing = await readFile(ledgerPath, "utf8").catch((err: unknown) => {
      if (osCode(err) === "ENOENT") return "";
      throw new BlockedError(`cannot read the ledger ${ledgerPath}: ${describeOsError(err)}`, { cause: err });
    });
    const holdsSomething = existing.trim() !== "";
    if (holdsSomething && !opts.force) {
      throw new BlockedError(
        `the ledger ${ledgerPath} already holds ${existing.trim().split("\n").length} line(s); rebuild replaces a ledger only with --force (which moves the old one to ${ledgerPath}.before-rebuild-<time> first) — for damaged lines use \`cr2comms ledger repair\``,
      );
    }
    const { reports, skipped } = await readRunReports(reportsDir);
    const accounts = [...new Set(reports.map((r) => r.accountSid))];
    const accountSid = opts.accountSid ?? accounts[0];
    if (!opts.accountSid && accounts.length > 1) {
      throw new UsageError(`the reports in ${reportsDir} are of ${accounts.length} accounts (${accounts.map(escapeControl).join(", ")}): say which with --account-sid`);
    }
    const mine = reports.filter((r) => r.accountSid === accountSid);
    if (!accountSid || mine.length === 0) {
      throw new BlockedError(`no apply or rollback reports${opts.accountSid ? ` of ${opts.accountSid}` : ""} in ${reportsDir}: nothing to rebuild the ledger from`);
    }
    accountLock = await opts.lockAccount?.(accountSid, lock.ledgerPath);
    const fromReports = mine.map((r) => ({ path: r.path, kind: r.kind, list: eventsFromReport(r) }));
    const events = fromReports.flatMap((r) => r.list);
    if (events.length === 0) {
      throw new BlockedError(`the ${mine.length} apply/rollback report(s) of ${accountSid} in ${reportsDir} record no credential created or deleted: nothing to rebuild`);
    }
    let movedAside: string | undefined;
    if (holdsSomething) movedAside = await moveAside(ledgerPath, `${ledgerPath}.before-rebuild-${reportStamp(now())}`);
    try {
      await writeFileAtomic(ledgerPath, events.map((e) => `${JSON.stringify(e)}\n`).join(""), { overwrite: true });
    } catch (err) {
      throw new LedgerWriteError(`cannot write the ledger ${ledgerPath}: ${describeOsError(err)}`, ledgerPath, osCode(err), { cause: err });
    }
    return {
      ledgerPath,
      accountSid,
      events: events.length,
      credentials: [...replay(events).values()].filter((e) => e.commsCredentialId !== undefined).length,
      fromReports: fromReports.map((r) => ({ path: r.path, kind: r.kind, events: r.list.length })),
      skipped,
      ...(movedAside ? { movedAside } : {}),
      warnings: [...lock.warnings, ...(accountLock?.warnings ?? [])],
    };
  } finally {
    await accountLock?.release();
    await lock.release();
  }
}

/** Renames `path` to `base` (or `base-2`, …) without replacing anything there. */
async function moveAside(path: string, base: string): Promise<string> {
  for (let n = 1; ; n++) {
    const candidate = n === 1 ? base : `${base}-${n}`;
    try {
      // Any entry is a name taken, a symlink too (dangling or looping: rename would replace it).
      // A name that cannot even be looked at (too long, …) is an error: the next one fails alike.
      const taken = await lstat(candidate).then(
        () => true,
        (err: unknown) => {
          if (osCode(err) === "ENOENT") return false;
          throw err;
        },
      );
      if (taken) continue;
      await rename(path, candidate);
      return candidate;
    } catch (err) {
      throw new LedgerWriteError(`cannot move the old ledger ${path} aside to ${candidate}: ${describeOsError(err)}`, path, osCode(err), { cause: err });
    }
  }
}

/**
 * For `apply` before it sends anything: a missing or empty ledger beside apply reports of this
 * account that created credentials means the ledger was lost, and an apply now would create
 * every one of them a second time. Throws `BlockedError` (exit 1) saying to rebuild it.
 */
export async function assertLedgerNotLost(opts: { ledgerPath: string; reportsDir: string; accountSid: string }): Promise<void> {
  const text = await readFile(opts.ledgerPath, "utf8").catch((err: unknown) => {
    if (osCode(err) === "ENOENT") return undefined;
    throw new BlockedError(`cannot read the ledger ${opts.ledgerPath}: ${describeOsError(err)}`, { cause: err });
  });
  if (text !== undefined && text.trim() !== "") return;
  const earlier = await findEarlierApplyReports(opts.reportsDir, opts.accountSid);
  if (earlier.length === 0) return;
  throw new BlockedError(
    `the ledger ${opts.ledgerPath} is ${text === undefined ? "missing" : "empty"} but ${opts.reportsDir} holds ${earlier.length} apply report(s) for ${opts.accountSid} that created credentials: run \`cr2comms ledger rebuild\` first (an apply now would create them a second time)`,
  );
}
