import { AsyncLocalStorage } from "node:async_hooks";
import {
  ADAPTIVE_ASSUMED_PROBE_COST_MS,
  ADAPTIVE_MAX_CONCURRENCY,
  ADAPTIVE_MIN_CONCURRENCY,
  ADAPTIVE_PROBE_WINDOWS,
  ADAPTIVE_START_CONCURRENCY,
  ADAPTIVE_START_GROWTH,
} from "../limits.js";

/** The priority of requests that finish work already sent (reads that confirm, the default App's step): ahead of every write. */
export const FIRST = Number.MAX_SAFE_INTEGER;

/** What a run's limiter did, for the apply report and the log. */
export interface ConcurrencyStats {
  mode: "adaptive" | "fixed";
  /** The limit at the start and at the end of the run. */
  start: number;
  final: number;
  /** The highest limit reached, and the most requests (slots) actually held at once. */
  peak: number;
  peakInFlight: number;
  /** 429 answers seen while the limiter was in use (each was retried after its Retry-After). */
  throttled: number;
  /** Times the limit was cut because of a 429. */
  decreases: number;
  /** Probes above a level that drew a 429 not sent because the work left could not repay a failed one. */
  skippedProbes?: number;
}

/** The log's line for a run's concurrency (apply and rollback). */
export function describeConcurrency(c: ConcurrencyStats): string {
  return c.mode === "adaptive"
    ? `concurrency: adaptive, started at ${c.start}, reached ${c.peak}, ended at ${c.final}; ${c.throttled} 429 answer(s) seen` +
        (c.skippedProbes ? `; ${c.skippedProbes} probe(s) not sent (too little work left to repay a Retry-After)` : "")
    : `concurrency: fixed at ${c.start}; ${c.throttled} 429 answer(s) seen`;
}

export interface LimiterOptions {
  start?: number;
  min?: number;
  max?: number;
  /** Clean windows at the last throttled level before probing one above it again. */
  probeWindows?: number;
  /**
   * Until the first 429, each clean window multiplies the limit by this (at least +1); after it,
   * growth is +1 a window. 1 grows by one from the start.
   */
  startGrowth?: number;
  /**
   * The slot-uses still to come (the writer's unfinished writes). With it, a probe above a level
   * that drew a 429 is sent only while the work left could repay what a failed probe costs: the
   * time one slot more would save (work left × time a slot is held × (1/n − 1/(n+1))) against the
   * last retry wait (a Retry-After), or `ADAPTIVE_ASSUMED_PROBE_COST_MS` before one was seen.
   */
  workLeft?: () => number;
  /** Milliseconds clock for the slot hold times and retry waits (default `performance.now`). */
  now?: () => number;
}

/** What the request a slot runs was sent under, and where that slot stands in the queue. */
interface SlotState {
  level: number;
  cuts: number;
  priority: number;
  seq: number;
  /** False while the slot is given back (a retry wait, see `outside`). */
  holding: boolean;
  /** True once its run has settled: a wait still under way then neither gives back nor takes a slot. */
  closed: boolean;
  /** The slot being taken again after a wait (shared by every wait of this slot that ends meanwhile). */
  regaining?: Promise<void>;
  /** Since when the slot is held, and for how long it was held before its last wait. */
  heldSince: number;
  heldMs: number;
}

interface Queued {
  priority: number;
  seq: number;
  start: () => void;
}

/**
 * A run-wide concurrency limit that adjusts itself: `run(fn)` holds one slot while `fn` runs;
 * `answer(status)` is told every HTTP answer, from inside the slot that sent the request.
 *
 * - **Growth.** After a window of clean answers — as many as the limit — while every slot was
 *   wanted, the level is proven and the limit grows. Until the first 429 it grows by
 *   `startGrowth` (×1.5 by default), and only answers to requests sent at the current limit count
 *   towards the window, so the answer to the first request above the server's limit comes back
 *   before the limit grows again (at most half again as many requests too many). After a 429 it
 *   grows by one.
 * - **Cuts.** A 429 cuts the limit at once: to the proven level when it answers a probe above it
 *   (the server takes that many, not more), by half when it comes at or below it, or before
 *   anything was proven (the account's room shrank, e.g. another client started). After a 429
 *   growth stops at the level below the one that drew it, and probes one above only after
 *   `probeWindows` clean windows, and (with `workLeft`) only while the work left could repay the
 *   Retry-After a failed probe costs its request. 429s to requests sent before a cut belong to
 *   that cut and change nothing more.
 * - **Order.** Queued requests start by `priority` (higher first; the writer gives a create the
 *   number of creates its (App, type) still has to send, so the longest chain goes first), then in
 *   arrival order.
 * - **Retry waits.** `outside(wait)`, called from inside a slot, gives the slot back while the
 *   request sleeps out its Retry-After: a request that is not in flight does not hold a slot. It
 *   takes one again before it is sent again, by its own priority: ahead of every request of that
 *   priority or lower queued after it, behind a higher one (the critical path). Adaptive
 *   only: the 429 has already cut the limit, so the slot goes to work the server can take; a fixed
 *   limit above the server's would hand it to a request that draws the next 429.
 *
 * `fixed(n)` never moves. Deterministic but for `workLeft`'s cost estimate: no timers, only the
 * order of calls.
 */
/**
 * What each slot's next request is sent under (refreshed at each answer), and its place in the
 * queue, by limiter. One storage for every limiter: on Node 20 each AsyncLocalStorage in use is
 * copied into every promise made afterwards, so one per limiter (two per account, hundreds over
 * many accounts) made every promise of the process slower and larger. Keyed by a token of the
 * limiter, not the limiter: a promise made in a run and kept by something long-lived (a client's
 * gate, a shared timer) keeps that slot's state, not the limiter and the run state it closes over.
 */
const sending = new AsyncLocalStorage<ReadonlyMap<object, SlotState>>();

export class AdaptiveLimiter {
  private limitNow: number;
  private readonly min: number;
  private readonly max: number;
  private readonly probeWindows: number;
  private readonly startGrowth: number;
  private readonly workLeft: (() => number) | undefined;
  private readonly clock: () => number;
  private readonly mode: "adaptive" | "fixed";
  private readonly startLimit: number;
  /** This limiter's key in `sending`. */
  private readonly key = {};
  private active = 0;
  private readonly waiting = new SlotQueue();
  private arrivals = 0;
  private cleanAnswers = 0;
  private windowsAtCeiling = 0;
  /** One below the level that last drew a 429 (the last level known good): growth stops there for a while. */
  private ceiling: number | undefined;
  /** The highest level that completed a clean window since the limit was last halved. */
  private proven: number | undefined;
  /** How many times the limit has been cut; a request sent before the last cut belongs to its wave. */
  private cuts = 0;
  /** How long a slot is held, on average (ms), and what the last retry wait cost (ms). */
  private holdMs: number | undefined;
  private lastWaitMs: number | undefined;
  private peakLimit: number;
  private peakActive = 0;
  private throttledCount = 0;
  private decreaseCount = 0;
  private skippedProbes = 0;

  constructor(opts: LimiterOptions = {}, mode: "adaptive" | "fixed" = "adaptive") {
    this.min = Math.max(1, opts.min ?? ADAPTIVE_MIN_CONCURRENCY);
    this.max = Math.max(this.min, opts.max ?? ADAPTIVE_MAX_CONCURRENCY);
    this.limitNow = clamp(opts.start ?? ADAPTIVE_START_CONCURRENCY, this.min, this.max);
    this.startLimit = this.limitNow;
    this.peakLimit = this.limitNow;
    this.probeWindows = opts.probeWindows ?? ADAPTIVE_PROBE_WINDOWS;
    this.startGrowth = Math.max(1, opts.startGrowth ?? ADAPTIVE_START_GROWTH);
    this.workLeft = opts.workLeft;
    this.clock = opts.now ?? (() => performance.now());
    this.mode = mode;
  }

  /** A limit that never moves (`--concurrency N`); it still counts 429s for the report. */
  static fixed(n: number): AdaptiveLimiter {
    const at = Math.max(1, Math.floor(n));
    return new AdaptiveLimiter({ start: at, min: at, max: at }, "fixed");
  }

  get limit(): number {
    return this.limitNow;
  }

  get inFlight(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiting.size;
  }

  /** Runs `fn` once a slot is free (higher `priority` first, then first come); the slot is held until `fn` settles. */
  async run<T>(fn: () => Promise<T>, priority = 0): Promise<T> {
    const seq = this.arrivals++;
    await this.acquire(priority, seq);
    const slot: SlotState = { level: this.limitNow, cuts: this.cuts, priority, seq, holding: true, closed: false, heldSince: this.clock(), heldMs: 0 };
    try {
      return await sending.run(new Map(sending.getStore()).set(this.key, slot), fn);
    } finally {
      // A slot is given back once: not again if a wait of this run (one it did not await) gave it
      // back already; that wait takes none when it ends (`regain`).
      slot.closed = true;
      if (slot.holding) {
        slot.holding = false;
        this.noteHold(slot.heldMs + this.clock() - slot.heldSince);
        this.active--;
        this.wake();
      } else this.noteHold(slot.heldMs);
    }
  }

  /**
   * Called from inside a slot around a wait that sends nothing (a Retry-After): the slot is given
   * back for the wait and taken again after it, by the run's priority (ahead of every request of
   * that priority or lower queued after it).
   * Outside any slot, or in one whose run has settled (a continuation it did not await), it just
   * waits. Two waits in one slot: the first gives the slot back, and whichever ends while it is
   * given back takes it again before it goes on (a slot runs its requests one after another).
   */
  async outside<T>(wait: () => Promise<T>): Promise<T> {
    const slot = sending.getStore()?.get(this.key);
    // A fixed limit is not cut by a 429: a slot given back would go straight to a request that
    // draws the next 429. Its N count a request sleeping out its Retry-After, as they always did.
    if (!slot || slot.closed || this.mode === "fixed") return wait();
    const t0 = this.clock();
    if (slot.holding) {
      slot.holding = false;
      slot.heldMs += t0 - slot.heldSince;
      this.active--;
      this.wake();
    }
    try {
      return await wait();
    } finally {
      this.lastWaitMs = this.clock() - t0;
      await this.regain(slot);
    }
  }

  /** Takes a slot given back for a wait again (once, however many of its waits end meanwhile). */
  private regain(slot: SlotState): Promise<void> {
    if (slot.closed || slot.holding) return Promise.resolve();
    slot.regaining ??= this.acquire(slot.priority, slot.seq).then(() => {
      slot.regaining = undefined;
      if (slot.closed) {
        // Its run settled while this wait was queued: the slot goes straight to the next one.
        this.active--;
        this.wake();
        return;
      }
      slot.holding = true;
      slot.heldSince = this.clock();
      slot.level = this.limitNow;
      slot.cuts = this.cuts;
    });
    return slot.regaining;
  }

  /**
   * Told every HTTP answer, from inside the slot whose request it answers: a 429 cuts the limit; a
   * 5xx changes nothing; anything else is clean. A 429 to a request sent before the last cut is
   * part of that cut's wave and cuts nothing more; one to a probe above the last known good level
   * goes back to that level; any other halves the limit.
   */
  answer(status: number): void {
    const sent = sending.getStore()?.get(this.key) ?? { level: this.limitNow, cuts: this.cuts };
    const ofCutWave = sent.cuts < this.cuts;
    try {
      if (status === 429) this.throttled(sent.level, ofCutWave);
      else if (status < 500 && !ofCutWave) this.clean(sent.level);
    } finally {
      // This slot's next request (a retry, or the next piece of work) goes out under today's limit.
      sent.level = this.limitNow;
      sent.cuts = this.cuts;
    }
  }

  private throttled(sentAt: number, ofCutWave: boolean): void {
    this.throttledCount++;
    if (ofCutWave || this.mode === "fixed") return;
    this.decreaseCount++;
    this.cuts++;
    this.cleanAnswers = 0;
    this.windowsAtCeiling = 0;
    // A probe above a proven level failed: back to that level at once. That is also the likeliest
    // cause of a 429 while the limit is above the proven level, whatever level the refused request's
    // slot was taken at: a slot taken just before the probe may send after it (a create journals its
    // attempt first), and is then the one the server refuses. A 429 at or below the proven level
    // with no probe out (or before anything was proven) means the account's room shrank: halve.
    // (A request answered outside a cut's wave was sent at a level no higher than the limit now —
    // the limit falls only in a cut — so a probe's 429 always finds the limit above the proven level.)
    if (this.proven !== undefined && this.limitNow > this.proven) {
      this.limitNow = this.proven;
      this.ceiling = this.proven;
      return;
    }
    this.ceiling = Math.max(this.min, sentAt - 1);
    this.limitNow = Math.max(this.min, Math.floor(this.limitNow / 2));
    this.proven = undefined;
  }

  private clean(sentAt: number): void {
    if (this.mode === "fixed") return;
    // Growth is earned only while the limit is what holds the run back.
    if (this.active < this.limitNow && this.waiting.size === 0) return;
    const starting = this.ceiling === undefined;
    // Before the first 429 a window counts only answers to requests sent at this limit: one sent
    // under a lower limit says nothing of this one.
    if (starting && this.startGrowth > 1 && sentAt < this.limitNow) return;
    if (++this.cleanAnswers < this.limitNow) return;
    this.cleanAnswers = 0;
    this.proven = Math.max(this.proven ?? 0, this.limitNow);
    // A clean window above the last known good level makes this level known good.
    if (this.ceiling !== undefined && this.limitNow > this.ceiling) this.ceiling = this.limitNow;
    if (this.limitNow >= this.max) return;
    if (this.ceiling !== undefined && this.limitNow >= this.ceiling) {
      if (++this.windowsAtCeiling < this.probeWindows) return;
      this.windowsAtCeiling = 0;
      if (!this.probeRepays()) {
        this.skippedProbes++;
        return;
      }
    }
    const next = starting ? Math.max(this.limitNow + 1, Math.ceil(this.limitNow * this.startGrowth)) : this.limitNow + 1;
    this.limitNow = Math.min(this.max, next);
    this.peakLimit = Math.max(this.peakLimit, this.limitNow);
    this.wake();
  }

  /** Whether one slot more could save more time on the work left than a failed probe costs. */
  private probeRepays(): boolean {
    if (!this.workLeft || this.holdMs === undefined) return true;
    const n = this.limitNow;
    const savedMs = (this.workLeft() * this.holdMs) / (n * (n + 1));
    return savedMs > (this.lastWaitMs ?? ADAPTIVE_ASSUMED_PROBE_COST_MS);
  }

  stats(): ConcurrencyStats {
    return {
      mode: this.mode,
      start: this.startLimit,
      final: this.limitNow,
      peak: this.peakLimit,
      peakInFlight: this.peakActive,
      throttled: this.throttledCount,
      decreases: this.decreaseCount,
      ...(this.skippedProbes ? { skippedProbes: this.skippedProbes } : {}),
    };
  }

  private noteHold(ms: number): void {
    // A moving average: recent slots weigh most, one slow request does not swing it.
    this.holdMs = this.holdMs === undefined ? ms : this.holdMs + (ms - this.holdMs) / 8;
  }

  private acquire(priority: number, seq: number): Promise<void> {
    if (this.active < this.limitNow && this.waiting.size === 0) {
      this.take();
      return Promise.resolve();
    }
    return new Promise<void>((start) => {
      this.waiting.push({ priority, seq, start });
      this.wake();
    });
  }

  private take(): void {
    this.active++;
    this.peakActive = Math.max(this.peakActive, this.active);
  }

  private wake(): void {
    while (this.active < this.limitNow && this.waiting.size > 0) {
      this.take();
      this.waiting.pop()!.start();
    }
  }
}

/** The requests waiting for a slot: a binary heap, highest priority first, then lowest arrival number. */
class SlotQueue {
  private readonly heap: Queued[] = [];

  get size(): number {
    return this.heap.length;
  }

  push(q: Queued): void {
    const h = this.heap;
    h.push(q);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  pop(): Queued | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let best = i;
        if (l < h.length && before(h[l]!, h[best]!)) best = l;
        if (r < h.length && before(h[r]!, h[best]!)) best = r;
        if (best === i) break;
        [h[i], h[best]] = [h[best]!, h[i]!];
        i = best;
      }
    }
    return top;
  }
}

function before(a: Queued, b: Queued): boolean {
  return a.priority !== b.priority ? a.priority > b.priority : a.seq < b.seq;
}

function clamp(n: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, Math.floor(n)));
}
