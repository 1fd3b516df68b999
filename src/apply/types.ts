import type { AccountAction, PlanAction, PlanItem } from "../plan/types.js";
import type { ConcurrencyStats } from "./adaptive.js";

/** What `rollback` does with one credential the ledger says this tool created. */
export type RollbackAction = "delete" | "refused" | "already-gone";

/** Per-item outcome in an applied (or rollback) report. */
export type ItemStatus = "planned" | "confirmed" | "accepted-unconfirmed" | "failed" | "skipped";

export interface AppliedItem extends Omit<PlanItem, "action"> {
  action: PlanAction | RollbackAction;
  status: ItemStatus;
  /** The API's error message (or ours) when `status` is `failed`. */
  error?: string;
  /** Wall-clock facts for the report (never asserted by tests). */
  timings?: { startedAt: string; finishedAt: string; ms: number };
  /** Create requests sent for this item (0 when adopted by reconciliation). */
  attempts?: number;
}

/** What became of a plan's account-level action (the default App). */
export interface AppliedAccountAction extends AccountAction {
  status: ItemStatus;
  error?: string;
  warnings: string[];
  /** True when a PATCH was sent; false when Comms made the App the default by itself (first App). */
  patched?: boolean;
}

/** What `apply` (or `rollback`) did. Reports render it; they never compute. */
export interface ApplyResult {
  kind: "apply" | "rollback";
  runId: string;
  startedAt: string;
  finishedAt: string;
  accountSid: string;
  mappingPath?: string;
  /** The mapping path as reports show it (relative to the working directory). */
  mappingDisplayPath?: string;
  items: AppliedItem[];
  /** The plan's account-level actions and what became of them; absent when there were none. */
  accountActions?: AppliedAccountAction[];
  problems: string[];
  warnings: string[];
  /** Ctrl-C stopped the run after in-flight work was recorded. */
  interrupted: boolean;
  /** HTTP requests sent to Comms during the run, by kind (for the report and the benchmark). */
  requests?: Record<string, number>;
  /** The run-wide concurrency limit: fixed or adaptive, how high it went, the 429s it saw. */
  concurrency?: ConcurrencyStats;
}
