import type { CommsApp, CommsClient } from "../comms/types.js";
import { WritesStoppedError } from "../errors.js";
import type { Ledger } from "../ledger/types.js";
import type { AccountAction } from "../plan/types.js";
import type { AppliedAccountAction, AppliedItem } from "./types.js";

/**
 * Opens once the first create into the `defaultApp` is confirmed (`true`), or once every one of
 * them has finished without a confirmation (`false`). On an account without Apps the other Apps'
 * creates wait for it, so that Comms makes the `defaultApp` the account's default App; a PATCH
 * into an App this run creates waits for it too (the App must exist first).
 */
export class FirstCreateGate {
  readonly ready: Promise<boolean>;
  private open!: (confirmed: boolean) => void;
  private left: number;

  constructor(
    readonly appName: string,
    creates: number,
  ) {
    this.left = creates;
    this.ready = new Promise((resolve) => (this.open = resolve));
    if (creates === 0) this.open(false);
  }

  /** One create into the App finished (any status). */
  report(item: AppliedItem): void {
    if (item.status === "confirmed") this.open(true);
    else if (--this.left <= 0) this.open(false);
  }
}

export interface DefaultAppDeps {
  comms: CommsClient;
  /** The run's ledger; an append that fails throws, and the caller stops the run. */
  ledger: Ledger;
  runId: string;
  now: () => Date;
  sleep: (ms: number) => Promise<void>;
  /** Aborted: no PATCH is started. */
  signal: AbortSignal;
  /** The run's concurrency limit: every request takes one slot. */
  schedule: <T>(fn: () => Promise<T>) => Promise<T>;
  /** The App's first create (present when this run creates the App). */
  gate?: FirstCreateGate;
  /** How long a read-back waits for the App to show as the default (CONFIRM_TIMEOUT_MS). */
  timeoutMs: number;
  initialDelayMs: number;
  maxDelayMs: number;
}

/**
 * Makes `a.appName` the account's default App and journals it: `app-default-requested` before the
 * PATCH, `app-default-set` once a read shows it. On an account that had no Apps, the App's first
 * create made it the default already: that is read back and journalled without a PATCH (a PATCH
 * follows only if another App got there first). A PATCH is idempotent, so a crash anywhere is
 * resolved by a rerun: it reads the Apps again and sends the PATCH only if it is still needed.
 */
export async function carryOutDefaultApp(a: AccountAction, d: DefaultAppDeps): Promise<AppliedAccountAction> {
  const out = (status: AppliedAccountAction["status"], extra: Partial<AppliedAccountAction> = {}): AppliedAccountAction => ({
    ...a,
    warnings: [],
    status,
    ...extra,
  });
  if (a.appCreated) {
    const created = d.gate ? await d.gate.ready : false;
    if (!created) {
      if (d.signal.aborted) return out("planned", { warnings: [`not started: the run was interrupted before ${a.appName} was created`] });
      return out("failed", { error: `${a.appName} was not created in this run, so it cannot become the account's default App yet; fix its credentials and rerun apply` });
    }
  }
  let from = a.from;
  if (a.via === "first-create") {
    const app = await readBack(a.appName, d, (x) => x !== null);
    if (app?.isDefault) {
      await d.ledger.append({ event: "app-default-set", appName: a.appName, patched: false, runId: d.runId });
      return out("confirmed", { patched: false });
    }
    if (!app) return out("accepted-unconfirmed", { warnings: [`${a.appName} was created but is not visible as an App yet; a rerun makes it the default App if it is not`] });
    // Another App became the first (created outside this run meanwhile): switch explicitly.
    from = undefined;
  }
  if (d.signal.aborted) return out("planned", { warnings: ["not started: the run was interrupted"] });
  await d.ledger.append({ event: "app-default-requested", appName: a.appName, ...(from ? { from } : {}), runId: d.runId });
  try {
    await d.schedule(() =>
      d.comms.setDefaultApp(a.appName, {
        // Stopped while the client held this write back (behind its first write): not sent.
        onSend: async () => {
          if (d.signal.aborted) throw new NotSent();
        },
      }),
    );
  } catch (err) {
    if (err instanceof NotSent) return out("planned", { warnings: ["not started: the run was interrupted"] });
    if (err instanceof WritesStoppedError) return out("planned", { warnings: [err.message] });
    return out("failed", { error: err instanceof Error ? err.message : String(err), patched: true });
  }
  const seen = await readBack(a.appName, d, (x) => x?.isDefault === true);
  if (!seen?.isDefault) {
    return out("accepted-unconfirmed", { patched: true, warnings: ["the default App change was accepted (202) but not yet visible; a rerun confirms it (sending the PATCH again only if needed)"] });
  }
  await d.ledger.append({ event: "app-default-set", appName: a.appName, ...(from ? { from } : {}), patched: true, runId: d.runId });
  return out("confirmed", { patched: true });
}

/**
 * Reads the App until `done` holds or the timeout passes; the last read (null: not there). A failed
 * read counts as not there. The deadline is inclusive: a read landing exactly on it is the last one.
 */
async function readBack(appName: string, d: DefaultAppDeps, done: (app: CommsApp | null) => boolean): Promise<CommsApp | null> {
  const deadline = d.now().getTime() + d.timeoutMs;
  let delay = d.initialDelayMs;
  for (;;) {
    let app: CommsApp | null = null;
    try {
      app = await d.schedule(() => d.comms.fetchApp(appName));
    } catch {
      app = null;
    }
    if (done(app) || d.now().getTime() >= deadline || d.signal.aborted) return app;
    await d.sleep(delay);
    delay = Math.min(delay * 2, d.maxDelayMs);
  }
}

/** Thrown from `onSend` when the run stopped before the change left: nothing was sent. */
class NotSent extends Error {}
