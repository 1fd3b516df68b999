import { AsyncLocalStorage } from "node:async_hooks";
import {
  ADAPTIVE_MAX_CONCURRENCY,
  ADAPTIVE_MIN_CONCURRENCY,
  ADAPTIVE_PROBE_WINDOWS,
  ADAPTIVE_START_CONCURRENCY,
} from "../limits.js";

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
}

export interface LimiterOptions {
  start?: number;
  min?: number;
  max?: number;
  /** Clean windows at the last throttled level before probing one above it again. */
  probeWindows?: number;
}

/**
 * A run-wide concurrency limit that adjusts itself (AIMD): `run(fn)` holds one slot while `fn`
 * runs; `answer(status)` is told every HTTP answer, from inside the slot that sent the request.
 * After a window of clean answers — as many as the limit — while every slot was wanted, the level
 * is proven and the limit grows by one (a probe). A 429 cuts the limit at once: to the proven
 * level when it answers a probe above it (the server takes that many, not one more), by half when
 * it comes at or below it, or before anything was proven (the account's room shrank, e.g. another
 * client started). After a 429 growth stops at the level below the one that drew it, and probes
 * one above only after `probeWindows` clean windows (each 429 costs its request a whole
 * Retry-After). 429s to requests sent before a cut belong to that cut and change nothing more.
 * `fixed(n)` never moves.
 *
 * Deterministic: no timers, only the order of calls.
 */
export class AdaptiveLimiter {
  private limitNow: number;
  private readonly min: number;
  private readonly max: number;
  private readonly probeWindows: number;
  private readonly mode: "adaptive" | "fixed";
  private readonly startLimit: number;
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  private cleanAnswers = 0;
  private windowsAtCeiling = 0;
  /** One below the level that last drew a 429 (the last level known good): growth stops there for a while. */
  private ceiling: number | undefined;
  /** The highest level that completed a clean window since the limit was last halved. */
  private proven: number | undefined;
  /** How many times the limit has been cut; a request sent before the last cut belongs to its wave. */
  private cuts = 0;
  /** What each slot's next request is sent under: the limit and the cuts so far (refreshed at each answer). */
  private readonly sending = new AsyncLocalStorage<{ level: number; cuts: number }>();
  private peakLimit: number;
  private peakActive = 0;
  private throttledCount = 0;
  private decreaseCount = 0;

  constructor(opts: LimiterOptions = {}, mode: "adaptive" | "fixed" = "adaptive") {
    this.min = Math.max(1, opts.min ?? ADAPTIVE_MIN_CONCURRENCY);
    this.max = Math.max(this.min, opts.max ?? ADAPTIVE_MAX_CONCURRENCY);
    this.limitNow = clamp(opts.start ?? ADAPTIVE_START_CONCURRENCY, this.min, this.max);
    this.startLimit = this.limitNow;
    this.peakLimit = this.limitNow;
    this.probeWindows = opts.probeWindows ?? ADAPTIVE_PROBE_WINDOWS;
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
    return this.waiting.length;
  }

  /** Runs `fn` once a slot is free; the slot is held until `fn` settles. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limitNow) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.take();
    try {
      return await this.sending.run({ level: this.limitNow, cuts: this.cuts }, fn);
    } finally {
      this.active--;
      this.wake();
    }
  }

  /**
   * Told every HTTP answer, from inside the slot whose request it answers: a 429 cuts the limit; a
   * 5xx changes nothing; anything else is clean. A 429 to a request sent before the last cut is
   * part of that cut's wave and cuts nothing more; one to a probe above the last known good level
   * goes back to that level; any other halves the limit.
   */
  answer(status: number): void {
    const sent = this.sending.getStore() ?? { level: this.limitNow, cuts: this.cuts };
    const ofCutWave = sent.cuts < this.cuts;
    try {
      if (status === 429) this.throttled(sent.level, ofCutWave);
      else if (status < 500 && !ofCutWave) this.clean(status);
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
    // A probe above a proven level failed: back to that level at once. A 429 at or below it
    // (or before anything was proven) means the account's room shrank: halve.
    if (this.proven !== undefined && sentAt > this.proven) {
      this.limitNow = this.proven;
      this.ceiling = this.proven;
      return;
    }
    this.ceiling = Math.max(this.min, sentAt - 1);
    this.limitNow = Math.max(this.min, Math.floor(this.limitNow / 2));
    this.proven = undefined;
  }

  private clean(_status: number): void {
    if (this.mode === "fixed") return;
    // Growth is earned only while the limit is what holds the run back.
    if (this.active < this.limitNow && this.waiting.length === 0) return;
    if (++this.cleanAnswers < this.limitNow) return;
    this.cleanAnswers = 0;
    this.proven = Math.max(this.proven ?? 0, this.limitNow);
    // A clean window above the last known good level makes this level known good.
    if (this.ceiling !== undefined && this.limitNow > this.ceiling) this.ceiling = this.limitNow;
    if (this.limitNow >= this.max) return;
    if (this.ceiling !== undefined && this.limitNow >= this.ceiling) {
      if (++this.windowsAtCeiling < this.probeWindows) return;
      this.windowsAtCeiling = 0;
    }
    this.limitNow++;
    this.peakLimit = Math.max(this.peakLimit, this.limitNow);
    this.wake();
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
    };
  }

  private take(): void {
    this.active++;
    this.peakActive = Math.max(this.peakActive, this.active);
  }

  private wake(): void {
    while (this.active < this.limitNow && this.waiting.length > 0) {
      this.take();
      this.waiting.shift()!();
    }
  }
}

function clamp(n: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, Math.floor(n)));
}
