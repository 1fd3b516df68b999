import type { CommsCredential, CredentialType, LegacyCredential, SecretFingerprint, SecretResult, Target } from "../domain.js";
import type { LedgerEntry } from "../ledger/types.js";
import { MAX_APPS_PER_ACCOUNT, MAX_CREDENTIALS_PER_APP } from "../limits.js";
import { reconcileLost, type LostAttempt } from "./reconcile.js";
import type { Mapping, MappingEntry } from "../mapping/types.js";
import { mapCredential } from "./mapper.js";
import { planDefaultApp } from "./account.js";
import { fingerprintObservation, fingerprintParts } from "./planfile.js";
import { escapeControl } from "../text.js";
import type { Plan, PlanItem, Snapshot } from "./types.js";

/** Inputs the pure planner would otherwise take from the environment. */
export interface PlanOptions {
  now: Date;
}

/** A plan item while it is being decided, with what later passes need. */
interface Draft {
  item: PlanItem;
  entry?: MappingEntry;
  /** The item was (or, before it was blocked, would have been) a `create`: it needs a valid secret. */
  creates: boolean;
}

/**
 * Ledger states whose Comms id, when still listed, means the sid is already migrated.
 * `failed` and `pending` are included: a failed or lost re-create attempt leaves the earlier id,
 * and if that credential is listed after all, creating another would be a duplicate.
 */
const HOLDS_CREDENTIAL: ReadonlySet<LedgerEntry["state"]> = new Set(["confirmed", "accepted", "unconfirmed", "failed", "pending"]);

function liveCredential(entry: LedgerEntry | undefined, commsById: ReadonlyMap<string, CommsCredential>): CommsCredential | undefined {
  if (!entry?.commsCredentialId || !HOLDS_CREDENTIAL.has(entry.state)) return undefined;
  return commsById.get(entry.commsCredentialId);
}

function secretFingerprint(result: SecretResult | undefined): SecretFingerprint | undefined {
  return result?.secret?.fingerprint ?? result?.fingerprint;
}

function entriesBySid(mapping: Mapping): Map<string, MappingEntry[]> {
  const bySid = new Map<string, MappingEntry[]>();
  for (const e of mapping.credentials) {
    const list = bySid.get(e.sid);
    if (list) list.push(e);
    else bySid.set(e.sid, [e]);
  }
  return bySid;
}

/**
 * The mapping entries whose secrets the plan needs: mapped, not skipped, apn/fcm, present in the
 * account, listed once, mappable, and not already migrated to a credential that is still in Comms.
 * `target` is the type the secret is validated against.
 */
export function secretsNeeded(snapshot: Snapshot, mapping: Mapping): { entry: MappingEntry; target: CredentialType }[] {
  const legacyBySid = new Map(snapshot.legacy.map((c) => [c.sid, c]));
  const commsById = new Map(snapshot.comms.map((c) => [c.id, c]));
  const bySid = entriesBySid(mapping);
  const out: { entry: MappingEntry; target: CredentialType }[] = [];
  for (const entry of mapping.credentials) {
    if (entry.skip || bySid.get(entry.sid)?.length !== 1) continue;
    const legacy = legacyBySid.get(entry.sid);
    if (!legacy || (legacy.type !== "apn" && legacy.type !== "fcm")) continue;
    const { target } = mapCredential(legacy, entry);
    if (!target || liveCredential(snapshot.ledger.get(entry.sid), commsById)) continue;
    out.push({ entry, target: target.credentialType });
  }
  return out;
}

/**
 * The pure planner: one item per legacy credential, in snapshot order, each with the action
 * `apply` will take, plus global problems (unknown or duplicate sids in the mapping).
 */
export function plan(snapshot: Snapshot, mapping: Mapping, secrets: ReadonlyMap<string, SecretResult>, opts: PlanOptions): Plan {
  const problems: string[] = [];
  const warnings: string[] = [...(snapshot.warnings ?? [])];
  const legacySids = new Set(snapshot.legacy.map((c) => c.sid));
  const bySid = entriesBySid(mapping);

  for (const e of mapping.credentials) {
    if (legacySids.has(e.sid)) continue;
    const msg = `mapping entry #${e.index + 1}: ${e.sid} does not exist in account ${snapshot.accountSid}`;
    if (e.skip) warnings.push(`${msg} (skip: true, ignored)`);
    else problems.push(msg);
  }
  for (const [sid, list] of bySid) {
    if (list.length > 1) problems.push(`${sid} is listed ${list.length} times in the mapping (${entryNumbers(list)})`);
  }

  const commsById = new Map(snapshot.comms.map((c) => [c.id, c]));
  // Ids the ledger knows this tool created; a pending attempt may only adopt an id outside this set.
  const knownIds = new Set<string>();
  for (const e of snapshot.ledger.values()) for (const id of e.createdIds) knownIds.add(id);
  const claimed = new Set(knownIds);
  // Every attempt with no recorded outcome: a lone new credential inside two of their windows is neither's to take.
  const lost = [...snapshot.ledger.values()].flatMap((e) => (e.state === "pending" && e.lastAttempt ? [e.lastAttempt] : []));

  const drafts = snapshot.legacy.map((legacy) =>
    decide(legacy, bySid.get(legacy.sid) ?? [], snapshot.ledger.get(legacy.sid), secrets.get(legacy.sid), commsById, snapshot.comms, claimed, lost),
  );

  recordLostAttemptsOfIdleItems(drafts, snapshot, claimed, lost);
  const accountProblems = [...blockDefaultConflicts(drafts)];
  for (const d of drafts) if (d.creates) applySecret(d, secrets.get(d.item.legacySid));
  warnSharedCertificates(drafts);
  accountProblems.push(...enforceLimits(drafts, snapshot.comms));
  warnUnknownCredentials(drafts, snapshot.comms, knownIds);
  const defaultApp = planDefaultApp(snapshot, mapping, drafts.map((d) => d.item));
  accountProblems.push(...defaultApp.accountProblems);
  warnings.push(...defaultApp.warnings);
  problems.push(...accountProblems, ...defaultApp.problems);

  return {
    schemaVersion: 1,
    generatedAt: opts.now.toISOString(),
    accountSid: snapshot.accountSid,
    mappingPath: mapping.path,
    ...(mapping.displayPath !== undefined ? { mappingDisplayPath: mapping.displayPath } : {}),
    problems,
    accountProblems,
    warnings,
    items: drafts.map((d) => d.item),
    ...(defaultApp.actions.length > 0 ? { accountActions: defaultApp.actions } : {}),
    observedFingerprint: fingerprintObservation(snapshot, mapping, secrets),
    observedParts: fingerprintParts(snapshot, mapping, secrets),
  };
}

/** `entries #2, #5`: mapping entries as a person counts them, from 1. */
function entryNumbers(entries: readonly MappingEntry[]): string {
  return `entries #${entries.map((e) => e.index + 1).join(", #")}`;
}

/**
 * A sid that is no longer migrated (skipped, unmapped, blocked early…) may still have a lost create
 * from an earlier run. If exactly one credential can be its result, the item carries it so that the
 * writer records it in the ledger — then status and rollback know it as cr2comms's own.
 */
function recordLostAttemptsOfIdleItems(drafts: Draft[], snapshot: Snapshot, claimed: Set<string>, lost: readonly LostAttempt[]): void {
  for (const { item } of drafts) {
    const ledger = snapshot.ledger.get(item.legacySid);
    const attempt = ledger?.lastAttempt;
    if (ledger?.state !== "pending" || !attempt || item.reconcileFrom) continue;
    if (item.action === "create" || item.action === "already-migrated" || item.action === "update-default") continue;
    const found = reconcileLost(attempt, snapshot.comms, claimed, lost);
    const only = found.kind === "one" ? found.credential : undefined;
    if (only) {
      claimed.add(only.id);
      item.commsCredentialId = only.id;
      item.liveDefault = only.isDefault;
      item.reconcileFrom = reconcileFromAttempt(attempt);
      item.warnings.push(
        `an earlier create attempt (${attempt.attemptId}) made ${only.id} in ${only.appName}; it is recorded in the ledger as cr2comms's (rollback can delete it)`,
      );
    } else {
      item.warnings.push(
        `an earlier create attempt (${attempt.attemptId}) for ${attempt.appName} ${attempt.credentialType} has no recorded outcome${found.kind === "ambiguous" ? ` and ${found.reason}` : ""}; check Comms`,
      );
    }
  }
}

function block(item: PlanItem, problem: string): void {
  item.action = "blocked";
  item.problems.push(problem);
}

/** The per-credential decision, from the mapping, the ledger and the live Comms list. */
function decide(
  legacy: LegacyCredential,
  entries: MappingEntry[],
  ledger: LedgerEntry | undefined,
  secret: SecretResult | undefined,
  commsById: ReadonlyMap<string, CommsCredential>,
  comms: readonly CommsCredential[],
  claimed: Set<string>,
  lost: readonly LostAttempt[],
): Draft {
  const sid = legacy.sid;
  const item: PlanItem = {
    legacySid: sid,
    friendlyName: legacy.friendlyName,
    legacyType: legacy.type,
    sandbox: legacy.sandbox,
    action: "unmapped",
    warnings: [],
    problems: [],
  };
  const entry = entries[0];

  if (legacy.type === "gcm") {
    item.action = "drop";
    item.warnings.push("gcm credential: GCM was shut down by Google and Comms has no equivalent; it is dropped");
    return { item, entry, creates: false };
  }
  const known = legacy.type === "apn" || legacy.type === "fcm";
  if (!known) item.warnings.push(`legacy type "${escapeControl(legacy.type)}" is not one cr2comms knows; it is not migrated`);
  if (!entry) {
    if (known) item.warnings.push("not in the mapping; it is not migrated");
    return { item, creates: false };
  }
  if (entry.skip && entries.length === 1) {
    item.action = "skip";
    return { item, entry, creates: false };
  }
  if (!known) {
    if (entries.length > 1) block(item, `listed ${entries.length} times in the mapping (${entryNumbers(entries)})`);
    else block(item, `mapped, but its legacy type "${escapeControl(legacy.type)}" cannot be migrated`);
    return { item, entry, creates: false };
  }
  if (entries.length > 1) {
    block(item, `listed ${entries.length} times in the mapping (${entryNumbers(entries)})`);
    return { item, entry, creates: false };
  }

  const mapped = mapCredential(legacy, entry);
  item.warnings.push(...mapped.warnings);
  if (!mapped.target) {
    item.action = "blocked";
    item.problems.push(...mapped.problems);
    return { item, entry, creates: false };
  }
  const target = mapped.target;
  item.target = target;

  const live = liveCredential(ledger, commsById);
  if (ledger && live) {
    migratedTo(item, live, target, ledger, secret, entry);
    return { item, entry, creates: false };
  }

  item.action = "create";
  if (!ledger) return { item, entry, creates: true };
  const id = ledger.commsCredentialId;
  const attempt = ledger.lastAttempt;

  if (ledger.state === "confirmed" && id) {
    item.recreate = true;
    item.warnings.push(`was migrated as ${id} but no longer exists in Comms; it will be recreated`);
  } else if ((ledger.state === "accepted" || ledger.state === "unconfirmed") && id) {
    item.commsCredentialId = id;
    if (attempt) item.reconcileFrom = reconcileFromAttempt(attempt);
    // The credential exists (202) where the earlier attempt put it, even if the mapping moved since.
    const where = ledger.appName && ledger.credentialType ? { appName: ledger.appName, credentialType: ledger.credentialType } : target;
    item.target = { ...target, ...where };
    warnMoved(item, where, target);
    item.warnings.push(`was accepted as ${id} by an earlier run but is not visible in Comms yet; apply waits for it before creating anything`);
  } else if (ledger.state === "pending" && attempt) {
    item.reconcileFrom = reconcileFromAttempt(attempt);
    const found = reconcileLost(attempt, comms, claimed, lost);
    if (found.kind === "ambiguous") {
      item.action = "blocked";
      item.problems.push(
        `an earlier create attempt (${attempt.attemptId}) has no recorded outcome and ${found.reason} (${found.ids.join(", ")}); Comms cannot tell which holds this certificate — delete the ones that are not yours in Comms, then rerun`,
      );
      return { item, entry, creates: false };
    }
    const adopted = found.kind === "one" ? found.credential : undefined;
    if (adopted) {
      claimed.add(adopted.id);
      item.action = "already-migrated";
      item.commsCredentialId = adopted.id;
      item.liveDefault = adopted.isDefault;
      item.target = { ...target, appName: adopted.appName, credentialType: adopted.credentialType };
      item.warnings.push(
        `an earlier create attempt (${attempt.attemptId}) has no recorded outcome; ${adopted.id} found in Comms was adopted as its result`,
      );
      warnMoved(item, adopted, target);
      if (target.isDefault && !adopted.isDefault) {
        item.warnings.push(`${adopted.id} is not the default for ${adopted.appName} ${adopted.credentialType}; rerun apply to make it the default`);
      }
      warnRotated(item, ledger, secret);
      item.secret = secretFingerprint(secret) ?? ledger.secret;
      return { item, entry, creates: false };
    }
    item.warnings.push(
      `an earlier create attempt (${attempt.attemptId}) has no recorded outcome and nothing matching is in Comms yet; apply checks again before creating`,
    );
  }
  return { item, entry, creates: true };
}

/** Reconciliation looks where the attempt went, which may differ from today's mapping. */
function reconcileFromAttempt(attempt: NonNullable<LedgerEntry["lastAttempt"]>): NonNullable<PlanItem["reconcileFrom"]> {
  return {
    attemptId: attempt.attemptId,
    startedAt: attempt.startedAt,
    appName: attempt.appName,
    credentialType: attempt.credentialType,
    ...(attempt.unknownAt ? { unknownAt: attempt.unknownAt } : {}),
    ...(attempt.lastSentAt ? { lastSentAt: attempt.lastSentAt } : {}),
    ...(attempt.priorIds ? { priorIds: attempt.priorIds } : {}),
  };
}

/**
 * `already-migrated` or `update-default` for a sid whose ledger credential is live in Comms.
 * Comms makes the first credential of a type its App's default, so a live default the mapping is
 * silent about is normal and not warned about; only an explicit `isDefault: false` contradicts it.
 */
function migratedTo(
  item: PlanItem,
  live: CommsCredential,
  target: Target,
  ledger: LedgerEntry,
  secret: SecretResult | undefined,
  entry: MappingEntry | undefined,
): void {
  item.commsCredentialId = live.id;
  item.liveDefault = live.isDefault;
  item.target = { appName: live.appName, credentialType: live.credentialType, isDefault: target.isDefault };
  item.action = target.isDefault && !live.isDefault ? "update-default" : "already-migrated";
  warnMoved(item, { appName: ledger.appName ?? live.appName, credentialType: ledger.credentialType ?? live.credentialType }, target);
  if (entry?.isDefault === false && live.isDefault) {
    item.warnings.push(
      `${live.id} is the default for ${live.appName} ${live.credentialType} although the mapping says isDefault: false; left as is (Comms cannot unset a default: make another credential the default)`,
    );
  }
  warnRotated(item, ledger, secret);
  item.secret = secretFingerprint(secret) ?? ledger.secret;
}

function warnMoved(item: PlanItem, where: { appName: string; credentialType: CredentialType }, target: Target): void {
  if (where.appName === target.appName && where.credentialType === target.credentialType) return;
  item.warnings.push(
    `was migrated to ${where.appName} ${where.credentialType} but the mapping now says ${target.appName} ${target.credentialType}; it is kept where it is (moving it needs rollback, then apply)`,
  );
}

function warnRotated(item: PlanItem, ledger: LedgerEntry, secret: SecretResult | undefined): void {
  const before = ledger.secret?.contentSha256;
  const now = secretFingerprint(secret)?.contentSha256;
  if (before && now && before !== now) {
    item.warnings.push(
      `the secret now resolved differs from the one migrated; cr2comms does not rotate credentials (rollback, then apply, to replace it)`,
    );
  }
}

/**
 * At most one `isDefault: true` per (appName, credentialType) among mapped items. A conflict is an
 * account-level problem: fixing it changes other entries, so it blocks the whole apply.
 */
function blockDefaultConflicts(drafts: Draft[]): string[] {
  const groups = new Map<string, Draft[]>();
  for (const d of drafts) {
    const t = d.item.target;
    if (!t?.isDefault || d.item.action === "blocked") continue;
    const key = `${t.appName} ${t.credentialType}`;
    const group = groups.get(key);
    if (group) group.push(d);
    else groups.set(key, [d]);
  }
  const problems: string[] = [];
  for (const [key, group] of groups) {
    if (group.length < 2) continue;
    for (const d of group) {
      const others = group.filter((o) => o !== d).map((o) => `${o.item.legacySid} (entry #${o.entry ? o.entry.index + 1 : "?"})`);
      block(d.item, `isDefault: true is set for more than one credential of ${key}: also ${others.join(", ")}`);
    }
    problems.push(
      `isDefault: true is set for ${group.length} credentials of ${key} (${group.map((d) => d.item.legacySid).join(", ")}); keep it on one — nothing is applied until then`,
    );
  }
  return problems;
}

function applySecret(d: Draft, result: SecretResult | undefined): void {
  const item = d.item;
  if (!result) {
    block(item, "no secret resolved");
    return;
  }
  item.warnings.push(...result.warnings);
  const fp = secretFingerprint(result);
  if (fp) item.secret = fp;
  if (result.problems.length > 0) {
    item.action = "blocked";
    item.problems.push(...result.problems);
  } else if (!result.secret) {
    block(item, "the secret did not validate");
  }
}

/**
 * One certificate (same `certSha256`) mapped to more than one App: each App would push with the
 * same Apple identity, which is almost always a copy-paste slip in the mapping. Both items say so.
 */
function warnSharedCertificates(drafts: Draft[]): void {
  const byCert = new Map<string, Draft[]>();
  for (const d of drafts) {
    const cert = d.item.secret?.certSha256;
    if (!cert || !d.item.target) continue;
    const list = byCert.get(cert);
    if (list) list.push(d);
    else byCert.set(cert, [d]);
  }
  for (const group of byCert.values()) {
    const apps = new Set(group.map((d) => d.item.target!.appName));
    if (apps.size < 2) continue;
    for (const d of group) {
      const others = group.filter((o) => o.item.target!.appName !== d.item.target!.appName);
      d.item.warnings.push(
        `the same certificate is also mapped to ${others.map((o) => `${o.item.target!.appName} (${o.item.legacySid})`).join(", ")}; each App should have its own`,
      );
    }
  }
}

/**
 * Comms' Apps-per-account and Credentials-per-App limits, counting what exists plus the creates
 * before. Going over is an account-level problem: the fix (fewer appNames, another App) changes
 * other entries, so it blocks the whole apply rather than leaving a half-migrated account.
 */
function enforceLimits(drafts: Draft[], comms: readonly CommsCredential[]): string[] {
  const existingPerApp = new Map<string, number>();
  // A credential listed without its appName cannot be placed in an App (observe warns about it).
  for (const c of comms) if (c.appName !== "") existingPerApp.set(c.appName, (existingPerApp.get(c.appName) ?? 0) + 1);
  const apps = new Set(existingPerApp.keys());
  const plannedPerApp = new Map<string, number>();
  const overApps: string[] = [];
  const overCredentials = new Map<string, number>();
  for (const d of drafts) {
    const t = d.item.target;
    if (d.item.action !== "create" || !t) continue;
    if (!apps.has(t.appName) && apps.size >= MAX_APPS_PER_ACCOUNT) {
      const newApps = [...apps].filter((a) => !existingPerApp.has(a)).length;
      block(
        d.item,
        `App ${t.appName} would exceed the Comms limit of ${MAX_APPS_PER_ACCOUNT} Apps per account (${existingPerApp.size} existing + ${newApps} planned)`,
      );
      if (!overApps.includes(t.appName)) overApps.push(t.appName);
      continue;
    }
    const existing = existingPerApp.get(t.appName) ?? 0;
    const planned = plannedPerApp.get(t.appName) ?? 0;
    if (existing + planned >= MAX_CREDENTIALS_PER_APP) {
      block(
        d.item,
        `App ${t.appName} would exceed the Comms limit of ${MAX_CREDENTIALS_PER_APP} Credentials per App (${existing} existing + ${planned} planned)`,
      );
      overCredentials.set(t.appName, (overCredentials.get(t.appName) ?? 0) + 1);
      continue;
    }
    apps.add(t.appName);
    plannedPerApp.set(t.appName, planned + 1);
  }
  const problems: string[] = [];
  if (overApps.length > 0) {
    problems.push(
      `the mapping needs ${apps.size + overApps.length} Apps but Comms allows ${MAX_APPS_PER_ACCOUNT} per account (${existingPerApp.size} exist): merge entries into fewer appNames — nothing is applied until the plan fits`,
    );
  }
  for (const [app, over] of overCredentials) {
    problems.push(
      `App ${app} would hold ${(existingPerApp.get(app) ?? 0) + (plannedPerApp.get(app) ?? 0) + over} credentials but Comms allows ${MAX_CREDENTIALS_PER_APP} per App: move entries to another appName — nothing is applied until the plan fits`,
    );
  }
  return problems;
}

/** A create into an App that already holds credentials of that type which cr2comms did not make. */
function warnUnknownCredentials(drafts: Draft[], comms: readonly CommsCredential[], knownIds: ReadonlySet<string>): void {
  const adopted = new Set(drafts.map((d) => d.item.commsCredentialId).filter((id): id is string => id !== undefined));
  for (const d of drafts) {
    const t = d.item.target;
    if (d.item.action !== "create" || !t) continue;
    const foreign = comms.filter(
      (c) => c.appName === t.appName && c.credentialType === t.credentialType && !knownIds.has(c.id) && !adopted.has(c.id),
    ).length;
    if (foreign > 0) {
      d.item.warnings.push(`App ${t.appName} already has ${foreign} ${t.credentialType} credential(s) not created by cr2comms`);
    }
  }
}
