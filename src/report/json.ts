import type { ConcurrencyStats } from "../apply/adaptive.js";
import type { AppliedAccountAction, ApplyResult, AppliedItem, ItemStatus } from "../apply/types.js";
import type { SecretFingerprint, Target } from "../domain.js";
import { summarize, type AccountAction, type Plan, type PlanItem } from "../plan/types.js";
import { TOOL_NAME, TOOL_VERSION } from "../version.js";

/** Version of the JSON report format (docs/reports.md). Bumped on any incompatible change. */
export const REPORT_SCHEMA_VERSION = 1;

/** Non-secret facts about the secret used for an item (docs/reports.md, "secret"). */
export interface ReportSecretJson {
  kind: "apn" | "fcm";
  contentSha256: string;
  certSha256?: string;
  subject?: string;
  notAfter?: string;
  environment?: string;
  projectId?: string;
  clientEmail?: string;
  keyId?: string;
}

/** What a `replace` item replaces (docs/reports.md, "replaces"). */
export interface ReportReplacesJson {
  /** The Comms credential being replaced; deleted once the new one is in place. */
  commsCredentialId: string;
  /** The fingerprint recorded for it (absent when it was migrated before fingerprints were kept). */
  secret?: ReportSecretJson;
  /** It was its App's default for the type: the new credential is made the default. */
  wasDefault: boolean;
  /** `apply --replace` asked for it. */
  forced?: true;
}

/** One legacy credential in a report. Every legacy credential appears in exactly one item. */
export interface ReportItemJson {
  legacySid: string;
  friendlyName: string | null;
  legacyType: string;
  sandbox: boolean | null;
  action: string;
  /** Where it lands in Comms; null when it has no target (unmapped, skip, drop, some blocked). */
  target: Target | null;
  commsCredentialId?: string;
  /** The ledger says it was migrated before but it is gone from Comms: it is created again. */
  recreate?: true;
  /** Whether Comms listed `commsCredentialId` as its App's default for the type when observed. */
  liveDefault?: boolean;
  /** `replace` items: the credential replaced and its old fingerprint (`secret` is the new one). */
  replaces?: ReportReplacesJson;
  /** Applied reports only. */
  status?: ItemStatus;
  error?: string;
  timings?: { startedAt: string; finishedAt: string; ms: number };
  attempts?: number;
  warnings: string[];
  problems: string[];
  secret?: ReportSecretJson;
}

/** A change to the account itself (docs/reports.md, "accountActions"): today only the default App. */
export interface ReportAccountActionJson {
  action: "set-default-app";
  appName: string;
  /** The default App when observed; absent when the account had no App. */
  from?: string;
  via: "first-create" | "patch";
  appCreated?: true;
  /** Applied reports only. */
  status?: ItemStatus;
  patched?: boolean;
  error?: string;
  warnings?: string[];
}

interface ReportHeaderJson {
  schemaVersion: 1;
  generatedAt: string;
  accountSid: string;
  tool: { name: string; version: string };
  /** Counts per action (plan) or per status and per action (applied); the keys never collide. */
  summary: Record<string, number>;
  /** Problems not tied to one legacy credential. */
  problems: string[];
  warnings: string[];
  items: ReportItemJson[];
  /** Present only when there is one. */
  accountActions?: ReportAccountActionJson[];
}

/** `reports/plan-<stamp>.json`. */
export interface PlanReportJson extends ReportHeaderJson {
  kind: "plan";
  mode: "dry-run";
  /** Relative to the working directory when the mapping is inside it (never a local home path then). */
  mappingPath: string;
  /** Digest of what the plan was computed from (see `Plan.observedFingerprint`). */
  observedFingerprint: string;
}

/** `reports/apply-<stamp>.json` and `reports/rollback-<stamp>.json`. */
export interface ApplyReportJson extends ReportHeaderJson {
  kind: "apply" | "rollback";
  mode: "applied";
  mappingPath?: string;
  runId: string;
  startedAt: string;
  finishedAt: string;
  interrupted: boolean;
  /** HTTP requests sent to Comms during the run, by kind. */
  requests: Record<string, number>;
  /** The run-wide concurrency limit (fixed or adaptive), the highest it reached, the 429s seen. */
  concurrency?: ConcurrencyStats;
}

function secretJson(fp: SecretFingerprint): ReportSecretJson {
  // Field by field, so that nothing but these facts can ever reach a report.
  const out: ReportSecretJson = { kind: fp.kind, contentSha256: fp.contentSha256 };
  if (fp.certSha256 !== undefined) out.certSha256 = fp.certSha256;
  if (fp.subject !== undefined) out.subject = fp.subject;
  if (fp.notAfter !== undefined) out.notAfter = fp.notAfter;
  if (fp.environment !== undefined) out.environment = fp.environment;
  if (fp.projectId !== undefined) out.projectId = fp.projectId;
  if (fp.clientEmail !== undefined) out.clientEmail = fp.clientEmail;
  if (fp.keyId !== undefined) out.keyId = fp.keyId;
  return out;
}

function replacesJson(r: NonNullable<PlanItem["replace"]>): ReportReplacesJson {
  return {
    commsCredentialId: r.oldId,
    ...(r.oldSecret ? { secret: secretJson(r.oldSecret) } : {}),
    wasDefault: r.oldWasDefault,
    ...(r.forced ? { forced: true as const } : {}),
  };
}

function itemJson(item: PlanItem | AppliedItem): ReportItemJson {
  const target = item.target;
  const applied = "status" in item ? item : undefined;
  // Built field by field in the documented order; internal fields (e.g. reconcileFrom) stay out.
  return {
    legacySid: item.legacySid,
    friendlyName: item.friendlyName,
    legacyType: item.legacyType,
    sandbox: item.sandbox,
    action: item.action,
    target: target ? { appName: target.appName, credentialType: target.credentialType, isDefault: target.isDefault } : null,
    ...(item.commsCredentialId !== undefined ? { commsCredentialId: item.commsCredentialId } : {}),
    ...(item.recreate === true ? { recreate: true as const } : {}),
    ...(item.liveDefault !== undefined ? { liveDefault: item.liveDefault } : {}),
    ...(item.replace !== undefined ? { replaces: replacesJson(item.replace) } : {}),
    ...(applied ? { status: applied.status } : {}),
    ...(applied?.error !== undefined ? { error: applied.error } : {}),
    ...(applied?.timings !== undefined ? { timings: { ...applied.timings } } : {}),
    ...(applied?.attempts !== undefined ? { attempts: applied.attempts } : {}),
    warnings: [...item.warnings],
    problems: [...item.problems],
    ...(item.secret !== undefined ? { secret: secretJson(item.secret) } : {}),
  };
}

function accountActionJson(a: AccountAction | AppliedAccountAction): ReportAccountActionJson {
  const applied = "status" in a ? a : undefined;
  return {
    action: a.action,
    appName: a.appName,
    ...(a.from !== undefined ? { from: a.from } : {}),
    via: a.via,
    ...(a.appCreated ? { appCreated: true as const } : {}),
    ...(applied ? { status: applied.status } : {}),
    ...(applied?.patched !== undefined ? { patched: applied.patched } : {}),
    ...(applied?.error !== undefined ? { error: applied.error } : {}),
    ...(applied ? { warnings: [...applied.warnings] } : {}),
  };
}

/** Account actions as report fields: the list, and their count in the summary. */
function accountFields(actions: readonly (AccountAction | AppliedAccountAction)[] | undefined, summary: Record<string, number>) {
  if (!actions?.length) return { summary };
  return { summary: { ...summary, ...summarize(actions) }, accountActions: actions.map(accountActionJson) };
}

/** The JSON dry-run report for a plan (SPEC "Reports"). Renders only; computes nothing but counts. */
export function planReport(plan: Plan): PlanReportJson {
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    kind: "plan",
    mode: "dry-run",
    generatedAt: plan.generatedAt,
    accountSid: plan.accountSid,
    tool: { name: TOOL_NAME, version: TOOL_VERSION },
    mappingPath: plan.mappingDisplayPath ?? plan.mappingPath,
    observedFingerprint: plan.observedFingerprint,
    ...accountFields(plan.accountActions, summarize(plan.items)),
    problems: [...plan.problems],
    warnings: [...plan.warnings],
    items: plan.items.map(itemJson),
  };
}

/** Counts per status, then per action, in one flat object (statuses and actions never share a name). */
export function applySummary(items: readonly AppliedItem[]): Record<string, number> {
  return { ...summarize(items.map((i) => ({ action: i.status }))), ...summarize(items) };
}

/** The JSON applied report for an apply or rollback run. `mappingDisplayPath`, when given, is shown as `mappingPath`. */
export function applyReport(result: ApplyResult & { mappingDisplayPath?: string }): ApplyReportJson {
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    kind: result.kind,
    mode: "applied",
    generatedAt: result.finishedAt,
    accountSid: result.accountSid,
    tool: { name: TOOL_NAME, version: TOOL_VERSION },
    ...(result.mappingPath !== undefined ? { mappingPath: result.mappingDisplayPath ?? result.mappingPath } : {}),
    runId: result.runId,
    startedAt: result.startedAt,
    finishedAt: result.finishedAt,
    interrupted: result.interrupted,
    requests: { ...(result.requests ?? {}) },
    ...(result.concurrency !== undefined ? { concurrency: { ...result.concurrency } } : {}),
    ...accountFields(result.accountActions, applySummary(result.items)),
    problems: [...result.problems],
    warnings: [...result.warnings],
    items: result.items.map(itemJson),
  };
}
