import type { CommsClient } from "../comms/types.js";
import type { CommsCredential } from "../domain.js";
import { CONFIRM_HOLD_MAX_MS, CONFIRM_INITIAL_DELAY_MS, CONFIRM_MAX_DELAY_MS, CONFIRM_TIMEOUT_MS } from "../limits.js";

export interface ConfirmerOptions {
  timeoutMs?: number;
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** How long the first look at an App may be held back while more of its writes are still coming. */
  holdMaxMs?: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
  /** Runs each read; the writer passes its concurrency limiter so reads count against the same limit. */
  schedule?: <T>(fn: () => Promise<T>) => Promise<T>;
}

/** A promise that a waiter for this App will be registered (or released). */
export interface Ticket {
  appName: string;
  settled: boolean;
}

interface Waiter {
  id: string;
  location?: string;
  arrivedAt: number;
  /** When the write was accepted (at most `arrivedAt`): a write's age counts from here. */
  since: number;
  deadline: number;
  /** When this waiter next needs a look, and its current backoff. */
  due: number;
  delay: number;
  maxDelay: number;
  /** Extra condition on the visible credential (e.g. a PATCHed default). */
  accept: (c: CommsCredential) => boolean;
  resolve: (c: CommsCredential | null) => void;
}

/**
 * Confirms that accepted writes became visible. Waiters are grouped per App: one poll loop per App
 * looks at all of its pending ids with a single list call (or one GET when only one is pending).
 * While the writer still has writes coming for an App (tickets not yet settled), the first look
 * is held back — up to `holdMaxMs` — so one list confirms many creates: 100 creates in 10 Apps are
 * confirmed with a few list calls instead of 100 GETs. Each waiter backs off on its own from
 * `initialDelayMs` to `maxDelayMs` until `timeoutMs`. Its first look waits at least as long as the
 * youngest write any look has found visible so far in this run, plus an eighth (a look sooner has not
 * been seen to find anything), and a write a look missed is looked at again once it is that old,
 * if that comes before its backoff: with Comms's visibility delay of a fraction of a second, a
 * write is looked at about when it can be there, not once too early and again after a backoff.
 */
export class Confirmer {
  private readonly pending = new Map<string, Waiter[]>();
  private readonly loops = new Map<string, Promise<void>>();
  private readonly outstanding = new Map<string, number>();
  private readonly wakers = new Map<string, () => void>();
  private readonly timeoutMs: number;
  private readonly initialDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly holdMaxMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly injectedSleep: boolean;
  private readonly now: () => number;
  private readonly schedule: <T>(fn: () => Promise<T>) => Promise<T>;
  /** The least age (ms since its write was accepted) at which a look has found a write visible. */
  private fastestSeenMs: number | undefined;

  constructor(
    private readonly comms: CommsClient,
    opts: ConfirmerOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? CONFIRM_TIMEOUT_MS;
    this.initialDelayMs = opts.initialDelayMs ?? CONFIRM_INITIAL_DELAY_MS;
    this.maxDelayMs = opts.maxDelayMs ?? CONFIRM_MAX_DELAY_MS;
    this.holdMaxMs = opts.holdMaxMs ?? CONFIRM_HOLD_MAX_MS;
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.injectedSleep = opts.sleep !== undefined;
    this.now = opts.now ?? Date.now;
    this.schedule = opts.schedule ?? ((fn) => fn());
  }

  /** Announces a write that will (probably) be confirmed in this App. Settle it with `waitFor` or `release`. */
  expect(appName: string): Ticket {
    this.outstanding.set(appName, (this.outstanding.get(appName) ?? 0) + 1);
    return { appName, settled: false };
  }

  /** The announced write will not be confirmed here (it failed, or was adopted). Idempotent. */
  release(ticket: Ticket): void {
    if (ticket.settled) return;
    ticket.settled = true;
    const left = Math.max(0, (this.outstanding.get(ticket.appName) ?? 0) - 1);
    this.outstanding.set(ticket.appName, left);
    if (left === 0) this.wakers.get(ticket.appName)?.();
  }

  /**
   * The age at which a write is likely visible: the youngest age a look found one at, plus an
   * eighth — that was the earliest any look was lucky, so a look exactly then misses about as often
   * as it hits, and a miss costs a whole backoff step. Writes found at the first look
   * (`initialDelayMs`) teach nothing to wait for.
   */
  private get likelyVisibleMs(): number | undefined {
    const fastest = this.fastestSeenMs;
    return fastest === undefined || fastest <= this.initialDelayMs ? fastest : Math.ceil(fastest * 1.125);
  }

  /** Resolves with the credential once visible (and `accept`ed), or null after the timeout. */
  waitFor(
    appName: string,
    id: string,
    opts: {
      location?: string;
      accept?: (c: CommsCredential) => boolean;
      timeoutMs?: number;
      /** Longest pause between looks for this waiter (a long wait need not poll every 2 s). */
      maxDelayMs?: number;
      /** Aborting gives up at once (null). */
      signal?: AbortSignal;
      ticket?: Ticket;
      /** When the write was accepted (this clock), if before now: its age counts from then. */
      since?: number;
    } = {},
  ): Promise<CommsCredential | null> {
    const promise = new Promise<CommsCredential | null>((settle) => {
      const signal = opts.signal;
      // A waiter that settles takes its abort listener with it: one left behind would, on a later
      // Ctrl-C, rewrite this App's waiters long after this one was done.
      const onAbort = () => {
        this.pending.set(appName, (this.pending.get(appName) ?? []).filter((w) => w !== waiter));
        resolve(null);
      };
      const resolve = (c: CommsCredential | null) => {
        signal?.removeEventListener("abort", onAbort);
        settle(c);
      };
      const now = this.now();
      const since = Math.min(now, opts.since ?? now);
      const waiter: Waiter = {
        id,
        arrivedAt: now,
        since,
        deadline: now + (opts.timeoutMs ?? this.timeoutMs),
        due: Math.max(now, since + Math.min(Math.max(this.initialDelayMs, this.likelyVisibleMs ?? 0), opts.maxDelayMs ?? this.maxDelayMs)),
        delay: this.initialDelayMs,
        maxDelay: opts.maxDelayMs ?? this.maxDelayMs,
        accept: opts.accept ?? (() => true),
        resolve,
      };
      if (opts.location) waiter.location = opts.location;
      if (signal?.aborted) return settle(null);
      signal?.addEventListener("abort", onAbort, { once: true });
      this.pending.set(appName, [...(this.pending.get(appName) ?? []), waiter]);
      if (!this.loops.has(appName)) {
        const loop: Promise<void> = this.poll(appName).finally(() => {
          if (this.loops.get(appName) === loop) this.loops.delete(appName);
        });
        this.loops.set(appName, loop);
      }
    });
    if (opts.ticket) this.release(opts.ticket);
    return promise;
  }

  private async poll(appName: string): Promise<void> {
    let afterHold = false;
    for (;;) {
      const waiters = this.pending.get(appName) ?? [];
      if (waiters.length === 0) {
        // Gone from `loops` in the same step as it stops looking: a wait registered from here on
        // (even in the very next microtask) starts a loop of its own rather than join this one.
        this.pending.delete(appName);
        this.loops.delete(appName);
        return;
      }
      const firstDeadline = Math.min(...waiters.map((w) => w.deadline));
      // Right after a hold, wait until the newest write is due too, so one look covers them all.
      let nextDue = Math.min(afterHold ? Math.max(...waiters.map((w) => w.due)) : Math.min(...waiters.map((w) => w.due)), firstDeadline);
      if ((this.outstanding.get(appName) ?? 0) > 0) {
        const oldest = Math.min(...waiters.map((w) => w.arrivedAt));
        nextDue = Math.max(nextDue, Math.min(oldest + this.holdMaxMs, firstDeadline));
      }
      const wait = nextDue - this.now();
      if (wait > 0) {
        const woken = await this.sleepUnlessWoken(appName, wait);
        if (woken) {
          afterHold = true; // every announced write has arrived: recompute without the hold
          continue;
        }
      }
      afterHold = false;
      const looking = [...(this.pending.get(appName) ?? [])];
      // Every waiter was aborted while this loop slept (Ctrl-C): nothing to look for, no request.
      if (looking.length === 0) continue;
      let visible: Map<string, CommsCredential>;
      let lookedAt = this.now();
      try {
        visible = await this.schedule(() => {
          lookedAt = this.now();
          return this.look(appName, looking);
        });
      } catch {
        // Reads are retried inside the client; one that still failed is tried again next round.
        visible = new Map();
      }
      const now = this.now();
      const done = new Set<Waiter>();
      const seen = (w: Waiter): CommsCredential | undefined => {
        const found = visible.get(w.id);
        return found && w.accept(found) ? found : undefined;
      };
      // What this look found teaches first: a write it missed is looked at again once it is as old
      // as the youngest write found so far, if that comes before its backoff.
      for (const w of looking) if (seen(w)) this.fastestSeenMs = Math.min(this.fastestSeenMs ?? Infinity, Math.max(0, lookedAt - w.since));
      for (const w of looking) {
        const found = seen(w);
        if (found) {
          w.resolve(found);
          done.add(w);
        } else if (now >= w.deadline) {
          w.resolve(null);
          done.add(w);
        } else if (now >= w.due) {
          w.delay = Math.min(w.delay * 2, w.maxDelay);
          w.due = now + w.delay;
          const likely = this.likelyVisibleMs === undefined ? undefined : w.since + this.likelyVisibleMs;
          if (likely !== undefined && likely > now) w.due = Math.min(w.due, likely);
        }
      }
      this.pending.set(appName, (this.pending.get(appName) ?? []).filter((w) => !done.has(w)));
    }
  }

  /** Sleeps `ms`, or less if the App's last announced write arrives meanwhile (then returns true). */
  private async sleepUnlessWoken(appName: string, ms: number): Promise<boolean> {
    if ((this.outstanding.get(appName) ?? 0) === 0) {
      await this.sleep(ms);
      return false;
    }
    let woke = false;
    let timer: NodeJS.Timeout | undefined;
    const wake = new Promise<void>((resolve) => this.wakers.set(appName, () => ((woke = true), resolve())));
    // A real timer is cleared when woken, so a finished run does not wait for it to fire.
    const slept = this.injectedSleep ? this.sleep(ms) : new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
    await Promise.race([slept, wake]);
    if (timer) clearTimeout(timer);
    this.wakers.delete(appName);
    return woke;
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
