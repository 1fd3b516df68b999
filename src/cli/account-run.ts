/**
 * One account's run inside a fleet. The fleet runs each account through the same command function
 * a single-account run uses; what differs is given here: the account's runtime (its own clients,
 * ledger and lock over the fleet's one HTTP agent), the fleet's stop signal, no terminal, and
 * where the command's result goes. Outside a fleet there is no account run and nothing changes.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { SecretResult } from "../domain.js";
import type { Runtime } from "./runtime.js";
import type { StopWatch } from "./signals.js";

/** What a command says about its run, besides its exit code. */
export interface AccountResult {
  /** Action or status counts, as in the command's report. */
  summary: Record<string, number>;
  /** The command's JSON report, when it wrote one. */
  report?: string;
  /** One line each. */
  problems: string[];
  /** plan/apply: the plan has something to do; status: drift; init: a file was written. */
  changes?: boolean;
  /** plan/apply: blocking problems. */
  blocked?: boolean;
  /** inventory/init: the account holds no legacy credential. */
  empty?: boolean;
}

export interface AccountRun {
  runtime: Runtime;
  stop: StopWatch;
  /** Shared by every account of the run: a secret file many accounts use is read and validated once. */
  secrets: Map<string, Promise<SecretResult>>;
  /** The account's friendly name, as the Accounts API lists it. */
  accountName?: string | null;
  result?: AccountResult;
}

const store = new AsyncLocalStorage<AccountRun>();

export function runAsAccount<T>(run: AccountRun, f: () => Promise<T>): Promise<T> {
  return store.run(run, f);
}

/** The account run this code is part of, if any. */
export function currentAccountRun(): AccountRun | undefined {
  return store.getStore();
}

/** The process's context outside every account run (this module loads before any runs). */
const outsideRuns = AsyncLocalStorage.snapshot();

/**
 * A promise with `p`'s outcome made outside the account run, for what outlives the account (the
 * fleet's shared secrets): every promise keeps what each async context store held where it was
 * made (the account run, the account's output sink), and with it the account's clients, ledger and
 * run state, until the promise itself is dropped.
 */
export function outlivingAccount<T>(p: Promise<T>): Promise<T> {
  return outsideRuns(() => {
    const out = p.then((value) => value);
    // Whoever awaits it sees a rejection; unawaited, it is not an unhandled one.
    out.catch(() => undefined);
    return out;
  });
}

/** Records the command's result for the fleet's roll-up (nothing outside a fleet). */
export function reportResult(result: AccountResult): void {
  const run = store.getStore();
  if (run) run.result = result;
}
