import type { CommsCredential, CredentialType, LegacyCredential, SecretFingerprint, SecretResult, Target } from "../domain.js";
import { recordedSecret } from "../ledger/ledger.js";
import type { LedgerEntry } from "../ledger/types.js";
import { MAX_APPS_PER_ACCOUNT, MAX_CREDENTIALS_PER_APP, RECONCILE_CLOCK_SKEW_MS } from "../limits.js";
import { reconcileLost, type LostAttempt, type WindowOptions } from "./reconcile.js";
import type { Mapping, MappingEntry } from "../mapping/types.js";
import { mapCredential } from "./mapper.js";
import { planDefaultApp } from "./account.js";
import { fingerprintObservation, fingerprintParts } from "./planfile.js";
import { escapeControl } from "../text.js";
import type { Plan, PlanItem, Snapshot } from "./types.js";

/** Inputs the pure planner would otherwise take from the environment. */
export interface PlanOptions {
  now: Date;
  /** How far this machine's clock and Comms' may be apart (default `RECONCILE_CLOCK_SKEW_MS`). */
  clockSkewMs?: number;
  /** `apply --replace <sid>`: replace these sids' live credentials even without a fingerprint difference. */
  replace?: ReadonlySet<string>;
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

/**
 * The sid's credential that Comms lists: the ledger's current one, or else the latest other one the
 * ledger knows cr2comms made for the sid — a superseded id that is still listed is not gone, and
 * creating beside it would make a duplicate. Not while an attempt has no recorded outcome: that is
 * reconciled first, so that what it made is never left unclaimed.
 */
function liveCredential(entry: LedgerEntry | undefined, commsById: ReadonlyMap<string, CommsCredential>): CommsCredential | undefined {
  if (!entry) return undefined;
  const current = entry.commsCredentialId && HOLDS_CREDENTIAL.has(entry.state) ? commsById.get(entry.commsCredentialId) : undefined;
  if (current || entry.state === "pending") return current;
  for (const id of [...entry.createdIds].reverse()) {
    // A replaced credential's delete was accepted: still listed for a while, it is on its way out.
    if (entry.replacedIds?.includes(id)) continue;
    const known = commsById.get(id);
    if (known) return known;
  }
  return undefined;
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
 * account, listed once and mappable — also those already migrated, whose secret is compared with
 * the fingerprint the ledger recorded to notice a renewal (`replace`). `target` is the type the
 * secret is validated against (where a migrated credential is, the type it has in Comms).
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
    if (!target) continue;
    const live = liveCredential(snapshot.ledger.get(entry.sid), commsById);
    out.push({ entry, target: live?.credentialType || target.credentialType });
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

  const commsById = new Map(snapshot.comms.map((c) => [c.id, c]));
  const gone = legacyGoneItems(snapshot, legacySids, commsById);
  for (const e of mapping.credentials) {
    if (legacySids.has(e.sid)) continue;
    const goneItem = gone.find((i) => i.legacySid === e.sid);
    if (goneItem) {
      goneItem.warnings.push(
        goneItem.action === "replace"
          ? `mapping entry #${e.index + 1} still lists it; remove the entry once the replacement is finished (nothing more is done for it then)`
          : `mapping entry #${e.index + 1} still lists it; it is left as is (remove the entry, or keep it: nothing is done either way)`,
      );
      continue;
    }
    const msg = `mapping entry #${e.index + 1}: ${e.sid} does not exist in account ${snapshot.accountSid}`;
    if (e.skip) warnings.push(`${msg} (skip: true, ignored)`);
    else problems.push(msg);
  }
  for (const [sid, list] of bySid) {
    if (list.length > 1) problems.push(`${sid} is listed ${list.length} times in the mapping (${entryNumbers(list)})`);
  }

  // Ids the ledger knows this tool created; a pending attempt may only adopt an id outside this set.
  const knownIds = new Set<string>();
  for (const e of snapshot.ledger.values()) for (const id of e.createdIds) knownIds.add(id);
  const claimed = new Set(knownIds);
  // Every attempt with no recorded outcome, and every one given up on: a lone new credential inside
  // two of their windows is neither's to take, and one inside a given-up attempt's window is no one else's.
  const pending = [...snapshot.ledger.values()].flatMap((e) => (e.state === "pending" && e.lastAttempt ? [{ ...e.lastAttempt, legacySid: e.legacySid }] : []));
  const abandoned = [...snapshot.ledger.values()].flatMap((e) => (e.abandonedAttempts ?? []).map((a) => ({ sid: e.legacySid, attempt: { ...a, legacySid: e.legacySid } })));
  const lost: LostAttempt[] = [...pending, ...abandoned.map((a) => a.attempt)];
  const window = { skewMs: opts.clockSkewMs ?? RECONCILE_CLOCK_SKEW_MS };
  const surfaced = findSurfaced(abandoned, snapshot.comms, claimed, lost, window);
  const live: LiveView = { commsById, comms: snapshot.comms, claimed, lost, window };

  const drafts = snapshot.legacy.map((legacy) =>
    decide(legacy, bySid.get(legacy.sid) ?? [], snapshot.ledger.get(legacy.sid), secrets.get(legacy.sid), live, opts.replace?.has(legacy.sid) ?? false),
  );
  problems.push(...forcedWithoutEffect(opts.replace, drafts, gone));
  for (const d of drafts) {
    const mine = surfaced.get(d.item.legacySid);
    if (!mine) continue;
    d.item.surfaced = mine;
    for (const s of mine) {
      d.item.warnings.push(
        `${s.commsCredentialId} appeared in Comms after the create attempt ${s.attemptId} was given up and sent again: it is cr2comms's duplicate for this credential — it is recorded, status shows it as orphaned and rollback can delete it`,
      );
    }
  }

  recordLostAttemptsOfIdleItems(drafts, snapshot, claimed, lost, window);
  const accountProblems = [...blockDefaultConflicts(drafts)];
  for (const d of drafts) if (d.creates) applySecret(d, secrets.get(d.item.legacySid));
  warnSharedCertificates(drafts);
  accountProblems.push(...enforceLimits(drafts, snapshot.comms));
  // `claimed`: the ledger's ids and those this plan records as cr2comms's (adopted, surfaced).
  warnUnknownCredentials(drafts, snapshot.comms, claimed);
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
    items: [...drafts.map((d) => d.item), ...gone],
    ...(defaultApp.actions.length > 0 ? { accountActions: defaultApp.actions } : {}),
    observedFingerprint: fingerprintObservation(snapshot, mapping, secrets),
    observedParts: fingerprintParts(snapshot, mapping, secrets),
  };
}

/**
 * Credentials that an attempt given up on made after all (they became visible late): the only
 * unclaimed candidate in its window, with no rival that could have made it. Claimed here, so no
 * other attempt can take it; the writer records it for its sid.
 */
function findSurfaced(
  abandoned: readonly { sid: string; attempt: LostAttempt & { attemptId: string } }[],
  comms: readonly CommsCredential[],
  claimed: Set<string>,
  lost: readonly LostAttempt[],
  window: WindowOptions,
): Map<string, { attemptId: string; commsCredentialId: string }[]> {
  const out = new Map<string, { attemptId: string; commsCredentialId: string }[]>();
  for (const { sid, attempt } of abandoned) {
    const found = reconcileLost(attempt, comms, claimed, lost, window);
    if (found.kind !== "one") continue;
    claimed.add(found.credential.id);
    out.set(sid, [...(out.get(sid) ?? []), { attemptId: attempt.attemptId, commsCredentialId: found.credential.id }]);
  }
  return out;
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
function recordLostAttemptsOfIdleItems(drafts: Draft[], snapshot: Snapshot, claimed: Set<string>, lost: readonly LostAttempt[], window: WindowOptions): void {
  for (const { item } of drafts) {
    const ledger = snapshot.ledger.get(item.legacySid);
    const attempt = ledger?.lastAttempt;
    if (ledger?.state !== "pending" || !attempt || item.reconcileFrom) continue;
    if (item.action === "create" || item.action === "already-migrated" || item.action === "update-default" || item.action === "replace") continue;
    const found = reconcileLost({ ...attempt, legacySid: item.legacySid }, snapshot.comms, claimed, lost, window);
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

/** What the per-credential decisions read of Comms, and share: ids claimed so far, open attempts. */
interface LiveView {
  commsById: ReadonlyMap<string, CommsCredential>;
  comms: readonly CommsCredential[];
  /** Ids the ledger or an earlier decision of this plan claims; an adoption takes only others. */
  claimed: Set<string>;
  /** Open and given-up attempts: rivals for a lone new credential (see `reconcileLost`). */
  lost: readonly LostAttempt[];
  window: WindowOptions;
}

/** The per-credential decision, from the mapping, the ledger and the live Comms list. */
function decide(
  legacy: LegacyCredential,
  entries: MappingEntry[],
  ledger: LedgerEntry | undefined,
  secret: SecretResult | undefined,
  view: LiveView,
  forced: boolean,
): Draft {
  const { commsById, comms, claimed, lost, window } = view;
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

  if (ledger?.replacing) return resumeReplacement(item, entry, target, ledger, ledger.replacing, secret, view);
  const live = liveCredential(ledger, commsById);
  if (ledger && live) {
    migratedTo(item, live, target, ledger, secret, entry);
    if (live.id !== ledger.commsCredentialId) {
      item.warnings.push(
        `${ledger.commsCredentialId ?? "the ledger's latest credential for it"} is not in Comms, but ${live.id}, which cr2comms also created for it, is: ${live.id} is kept as its credential (nothing is created beside it)`,
      );
    }
    if (ledger.pendingDeletes?.includes(live.id)) {
      item.warnings.push(`a rollback's delete of ${live.id} was accepted (202) but Comms still lists it; rerun rollback to confirm it (nothing is created beside it meanwhile)`);
    }
    return { item, entry, creates: checkRenewal(item, live, ledger, secret, forced) };
  }

  item.action = "create";
  if (!ledger) return { item, entry, creates: true };
  const id = ledger.commsCredentialId;
  const attempt = ledger.lastAttempt;

  if (ledger.state === "confirmed" && id) {
    item.recreate = true;
    item.warnings.push(
      ledger.pendingDeletes?.includes(id)
        ? `was migrated as ${id}, which a rollback deleted (its delete was accepted and it is no longer listed); it will be created again`
        : `was migrated as ${id} but no longer exists in Comms; it will be recreated`,
    );
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
    const found = reconcileLost({ ...attempt, legacySid: sid }, comms, claimed, lost, window);
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
    ...(attempt.serverStartedAt ? { serverStartedAt: attempt.serverStartedAt } : {}),
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
  item.secret = secretFingerprint(secret) ?? ledger.secret;
}

function warnMoved(item: PlanItem, where: { appName: string; credentialType: CredentialType }, target: Target): void {
  if (where.appName === target.appName && where.credentialType === target.credentialType) return;
  item.warnings.push(
    `was migrated to ${where.appName} ${where.credentialType} but the mapping now says ${target.appName} ${target.credentialType}; it is kept where it is (moving it needs rollback, then apply)`,
  );
}

/**
 * Whether a secret was renewed, judged by its non-secret identity, never by `contentSha256` alone
 * (the same certificate re-exported as .p12, or a re-saved JSON key, is not a renewal): APN by the
 * certificate's SHA-256; FCM by project, client e-mail and key id. `unknown` when the recorded
 * fingerprint lacks what is needed (migrated before it was recorded).
 */
export function compareSecrets(before: SecretFingerprint | undefined, now: SecretFingerprint | undefined): "same" | "renewed" | "unknown" {
  if (!before || !now) return "unknown";
  if (before.kind !== now.kind) return "renewed";
  // The very bytes sent before: the same secret, whatever else the older fingerprint lacks.
  if (before.contentSha256 === now.contentSha256) return "same";
  if (now.kind === "apn") {
    if (!before.certSha256 || !now.certSha256) return "unknown";
    return before.certSha256 === now.certSha256 ? "same" : "renewed";
  }
  if (before.projectId && now.projectId && before.projectId !== now.projectId) return "renewed";
  if (before.clientEmail && now.clientEmail && before.clientEmail !== now.clientEmail) return "renewed";
  if (!before.keyId || !now.keyId) return "unknown";
  return before.keyId === now.keyId ? "same" : "renewed";
}

/**
 * A migrated credential whose mapped secret was renewed (or `--replace`d) becomes a `replace`: a
 * new credential with the new secret, then the old one deleted. Returns true when the item now
 * creates (it needs a valid secret and a free slot).
 */
function checkRenewal(item: PlanItem, live: CommsCredential, ledger: LedgerEntry, secret: SecretResult | undefined, forced: boolean): boolean {
  const recorded = recordedSecret(ledger, live.id);
  if (!secret && !forced) return false;
  const now = secret?.secret?.fingerprint;
  if (secret && !now) {
    if (!forced) {
      item.warnings.push(`could not check whether its secret was renewed: ${secret.problems.join("; ") || "the secret did not validate"}`);
      return false;
    }
  } else if (secret) {
    item.warnings.push(...secret.warnings);
  }
  const verdict = compareSecrets(recorded, now);
  if (!forced && verdict !== "renewed") {
    if (verdict === "unknown" && now) {
      item.warnings.push(
        recorded
          ? `rotation can't be detected for it: the fingerprint recorded when it was migrated lacks ${now.kind === "apn" ? "the certificate digest" : "the key id"}; \`apply --replace ${item.legacySid}\` forces a replacement`
          : `rotation can't be detected for it: no fingerprint was recorded when it was migrated; \`apply --replace ${item.legacySid}\` forces a replacement`,
      );
    }
    return false;
  }
  item.action = "replace";
  item.replace = { oldId: live.id, ...(recorded ? { oldSecret: recorded } : {}), oldWasDefault: live.isDefault, ...(forced ? { forced: true } : {}) };
  delete item.commsCredentialId;
  delete item.liveDefault;
  // `secret` is the new secret of a replace; the recorded one is `replace.oldSecret`.
  if (now) item.secret = now;
  else delete item.secret;
  item.warnings.push(
    forced
      ? `replacement forced (--replace): a new credential is created${live.isDefault || item.target?.isDefault ? " and made the default" : ""}, then ${live.id} is deleted`
      : `its secret was renewed (${describeSecret(recorded)} → ${describeSecret(now)}): a new credential is created${live.isDefault || item.target?.isDefault ? " and made the default" : ""}, then ${live.id} is deleted`,
  );
  return true;
}

/** A short, non-secret description of a fingerprint for messages. */
export function describeSecret(fp: SecretFingerprint | undefined): string {
  if (!fp) return "unrecorded";
  if (fp.kind === "apn") {
    const digest = fp.certSha256 ? `certificate ${fp.certSha256.slice(0, 16)}…` : "certificate";
    return fp.notAfter ? `${digest} (not after ${fp.notAfter})` : digest;
  }
  return [fp.projectId && `project ${fp.projectId}`, fp.keyId && `key ${fp.keyId.slice(0, 12)}…`].filter(Boolean).join(", ") || "service account";
}

/**
 * A replacement an earlier run began and did not finish (its old credential is not yet deleted):
 * carried on from where it stopped. A new credential already made is never made again; a create
 * with no recorded outcome is reconciled first, as any lost create.
 */
function resumeReplacement(
  item: PlanItem,
  entry: MappingEntry,
  target: Target,
  ledger: LedgerEntry,
  r: NonNullable<LedgerEntry["replacing"]>,
  secret: SecretResult | undefined,
  view: LiveView,
): Draft {
  const { commsById, comms, claimed, lost, window } = view;
  const old = commsById.get(r.oldId);
  const where = { appName: ledger.appName ?? old?.appName ?? target.appName, credentialType: ledger.credentialType ?? old?.credentialType ?? target.credentialType };
  item.action = "replace";
  item.target = { ...target, ...where };
  item.replace = { oldId: r.oldId, ...(ledger.secretById?.[r.oldId] ? { oldSecret: ledger.secretById[r.oldId]! } : {}), oldWasDefault: r.oldWasDefault };
  if (r.secret) item.secret = r.secret;
  item.warnings.push(`a replacement of ${r.oldId} begun by an earlier run is not finished; apply carries it on (nothing is created twice)`);
  if (r.newId) {
    const fresh = commsById.get(r.newId);
    item.commsCredentialId = r.newId;
    item.replace.newId = r.newId;
    item.replace.newVisible = fresh !== undefined;
    if (fresh) item.liveDefault = fresh.isDefault;
    if (ledger.lastAttempt) item.reconcileFrom = reconcileFromAttempt(ledger.lastAttempt);
    return { item, entry, creates: false };
  }
  const attempt = ledger.lastAttempt;
  if (ledger.state === "pending" && attempt && attempt.attemptId === r.attemptId) {
    item.reconcileFrom = reconcileFromAttempt(attempt);
    const found = reconcileLost({ ...attempt, legacySid: item.legacySid }, comms, claimed, lost, window);
    if (found.kind === "ambiguous") {
      block(
        item,
        `the replacement's create (${attempt.attemptId}) has no recorded outcome and ${found.reason} (${found.ids.join(", ")}); Comms cannot tell which holds the new secret — delete the ones that are not yours in Comms, then rerun`,
      );
      return { item, entry, creates: false };
    }
    if (found.kind === "one") {
      // Its result is in Comms: adopted (the writer journals it), never created again.
      const made = found.credential;
      claimed.add(made.id);
      item.commsCredentialId = made.id;
      item.liveDefault = made.isDefault;
      item.replace.newId = made.id;
      item.replace.newVisible = true;
      item.warnings.push(`the replacement's create (${attempt.attemptId}) has no recorded outcome; ${made.id} found in Comms was adopted as its result`);
      return { item, entry, creates: false };
    }
  }
  // The new credential may still have to be created: that needs the (renewed) secret.
  return { item, entry, creates: true };
}

/**
 * Migrated sids the legacy API no longer lists: their Comms credential is kept and reported, never
 * deleted (the legacy side going away says nothing about the App that uses it). A rotation that
 * had created its new credential is finished all the same (it needs no secret any more): left
 * half-done it would keep two credentials, and the old one the default, for good.
 */
function legacyGoneItems(snapshot: Snapshot, legacySids: ReadonlySet<string>, commsById: ReadonlyMap<string, CommsCredential>): PlanItem[] {
  const out: PlanItem[] = [];
  for (const entry of [...snapshot.ledger.values()].sort((a, b) => a.legacySid.localeCompare(b.legacySid))) {
    if (legacySids.has(entry.legacySid)) continue;
    const r = entry.replacing;
    const made = r?.newId ? commsById.get(r.newId) : undefined;
    if (r && made) {
      const oldSecret = entry.secretById?.[r.oldId];
      const fp = recordedSecret(entry, made.id);
      out.push({
        legacySid: entry.legacySid,
        friendlyName: null,
        legacyType: made.credentialType === "FCM" ? "fcm" : "apn",
        sandbox: made.credentialType === "APN_SANDBOX" ? true : made.credentialType === "APN" ? false : null,
        action: "replace",
        target: { appName: made.appName, credentialType: made.credentialType, isDefault: r.oldWasDefault },
        commsCredentialId: made.id,
        liveDefault: made.isDefault,
        replace: { oldId: r.oldId, ...(oldSecret ? { oldSecret } : {}), oldWasDefault: r.oldWasDefault, newId: made.id, newVisible: true },
        warnings: [
          `the legacy credential no longer exists (deleted in Conversations) while its replacement was under way; apply finishes the replacement: ${made.id} is kept${r.oldWasDefault ? " and made the default" : ""}, then ${r.oldId} is deleted`,
        ],
        problems: [],
        ...(fp ? { secret: fp } : {}),
      });
      continue;
    }
    const live = liveCredential(entry, commsById) ?? (r ? commsById.get(r.oldId) : undefined);
    if (!live) continue;
    const fp = recordedSecret(entry, live.id);
    out.push({
      legacySid: entry.legacySid,
      friendlyName: null,
      legacyType: live.credentialType === "FCM" ? "fcm" : "apn",
      sandbox: live.credentialType === "APN_SANDBOX" ? true : live.credentialType === "APN" ? false : null,
      action: "legacy-gone",
      target: { appName: live.appName, credentialType: live.credentialType, isDefault: live.isDefault },
      commsCredentialId: live.id,
      liveDefault: live.isDefault,
      warnings: [`the legacy credential no longer exists (deleted in Conversations since it was migrated); its Comms credential ${live.id} is kept`],
      problems: [],
      ...(fp ? { secret: fp } : {}),
    });
  }
  return out;
}

/** `--replace <sid>` that names nothing replaceable is a blocking problem, never ignored silently. */
function forcedWithoutEffect(forced: ReadonlySet<string> | undefined, drafts: readonly Draft[], gone: readonly PlanItem[]): string[] {
  const problems: string[] = [];
  for (const sid of forced ?? []) {
    const item = drafts.find((d) => d.item.legacySid === sid)?.item;
    if (item?.action === "replace" || item?.action === "blocked") continue;
    const why = !item
      ? gone.some((g) => g.legacySid === sid)
        ? "its legacy credential no longer exists; its Comms credential is kept as is"
        : "no such legacy credential in this account"
      : item.action === "create"
        ? "it is not migrated yet (apply creates it)"
        : `it has no live Comms credential created by cr2comms (action ${item.action})`;
    problems.push(`--replace ${sid}: nothing to replace: ${why}`);
  }
  return problems;
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
  // A replacement holds one more slot until its old credential is deleted. Creates come first;
  // replacements take the slots left, one each, so the App never goes over even when they overlap.
  for (const d of drafts) {
    const t = d.item.target;
    if (d.item.action !== "replace" || !t || d.item.replace?.newId) continue;
    const held = (existingPerApp.get(t.appName) ?? 0) + (plannedPerApp.get(t.appName) ?? 0);
    if (held >= MAX_CREDENTIALS_PER_APP) {
      block(
        d.item,
        `App ${t.appName} holds ${held} credentials${plannedPerApp.get(t.appName) ? " (with the planned creates)" : ""}, the Comms limit of ${MAX_CREDENTIALS_PER_APP} per App: a replacement creates the new credential before it deletes ${d.item.replace?.oldId ?? "the old one"}, so it needs one free slot — delete a credential this App no longer needs, then rerun`,
      );
      continue;
    }
    plannedPerApp.set(t.appName, (plannedPerApp.get(t.appName) ?? 0) + 1);
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
