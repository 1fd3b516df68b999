import type { CommsClient } from "../comms/types.js";
import type { CommsCredential } from "../domain.js";
import { CONFIRM_INITIAL_DELAY_MS, CONFIRM_MAX_DELAY_MS, CONFIRM_TIMEOUT_MS } from "../limits.js";

export interface ConfirmerOptions {
  timeoutMs?: number;
  initialDelayMs?: number;
  maxDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

interface Waiter {
  id: string;
  location?: string;
  deadline: number;
  /** When this waiter next needs a look, and its current backoff. */
  due: number;
  delay: number;
  /** Extra condition on the visible credential (e.g. a PATCHed default). */
  accept: (c: CommsCredential) => boolean;
  resolve: (c: CommsCredential | null) => void;
}

/**
 * Confirms that accepted writes became visible. Waiters are grouped per App: one poll loop per App
 * checks all of its pending ids with a single list call (or one GET when only one is pending),
 * backing off from `initialDelayMs` to `maxDelayMs` — 100 creates in 10 Apps are confirmed with
 * a handful of list calls instead of 100+ GETs.
 */
export class Confirmer {
  private readonly pending = new Map<string, Waiter[]>();
  private readonly loops = new Map<string, Promise<void>>();
  private readonly timeoutMs: number;
  private readonly initialDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;

  constructor(
    private readonly comms: CommsClient,
    opts: ConfirmerOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? CONFIRM_TIMEOUT_MS;
    this.initialDelayMs = opts.initialDelayMs ?? CONFIRM_INITIAL_DELAY_MS;
    this.maxDelayMs = opts.maxDelayMs ?? CONFIRM_MAX_DELAY_MS;
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.now = opts.now ?? Date.now;
  }

  /** Resolves with the credential once visible (and `accept`ed), or null after the timeout. */
  waitFor(
    appName: string,
    id: string,
    opts: { location?: string; accept?: (c: CommsCredential) => boolean; timeoutMs?: number } = {},
  ): Promise<CommsCredential | null> {
    return new Promise((resolve) => {
      const now = this.now();
      const waiter: Waiter = {
        id,
        deadline: now + (opts.timeoutMs ?? this.timeoutMs),
        due: now + this.initialDelayMs,
        delay: this.initialDelayMs,
        accept: opts.accept ?? (() => true),
        resolve,
      };
      if (opts.location) waiter.location = opts.location;
      const list = this.pending.get(appName) ?? [];
      list.push(waiter);
      this.pending.set(appName, list);
      if (!this.loops.has(appName)) {
        const loop = this.poll(appName).finally(() => this.loops.delete(appName));
        this.loops.set(appName, loop);
      }
    });
  }

  /**
   * One loop per App. Each waiter keeps its own backoff schedule; when any is due, a single
   * request looks at every pending id of the App, so later waiters ride along for free.
   */
  private async poll(appName: string): Promise<void> {
    for (;;) {
      const waiters = this.pending.get(appName) ?? [];
      if (waiters.length === 0) {
        this.pending.delete(appName);
        return;
      }
      const nextDue = Math.min(...waiters.map((w) => Math.min(w.due, w.deadline)));
      const wait = nextDue - this.now();
      if (wait > 0) await this.sleep(wait);
      const looking = [...(this.pending.get(appName) ?? [])];
      let visible: Map<string, CommsCredential>;
      try {
        visible = await this.look(appName, looking);
      } catch {
        // Reads are retried inside the client; one that still failed is tried again next round.
        visible = new Map();
      }
      const now = this.now();
      const done = new Set<Waiter>();
      for (const w of looking) {
        const found = visible.get(w.id);
        if (found && w.accept(found)) {
          w.resolve(found);
          done.add(w);
        } else if (now >= w.deadline) {
          w.resolve(null);
          done.add(w);
        } else if (now >= w.due) {
          w.delay = Math.min(w.delay * 2, this.maxDelayMs);
          w.due = now + w.delay;
        }
      }
      this.pending.set(appName, (this.pending.get(appName) ?? []).filter((w) => !done.has(w)));
    }
  }

  private async look(appName: string, waiters: Waiter[]): Promise<Map<string, CommsCredential>> {
    const out = new Map<string, CommsCredential>();
    const only = waiters.length === 1 ? waiters[0] : undefined;
    if (only) {
      const c = only.location ? await this.comms.fetchLocation(only.location) : await this.comms.fetch(only.id);
      if (c) out.set(c.id, c);
      return out;
    }
    for (const c of await this.comms.list({ appName })) out.set(c.id, c);
    return out;
  }
}
