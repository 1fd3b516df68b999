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
 * runs; `answer(status)` is told every HTTP answer. A 429 halves the limit at once (the other
 * answers of the same wave, already in flight when it was cut, neither cut nor grow it). After a
 * window of clean answers — as many as the limit — while every slot was wanted, the limit grows
 * by one, up to the level just below the last 429; above it only after `probeWindows` clean
 * windows there, since each 429 costs its request a whole Retry-After. `fixed(n)` never moves.
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
  private clean = 0;
  private windowsAtCeiling = 0;
  /** One below the level that last drew a 429: growth stops there for a while. */
  private ceiling: number;
  /** Answers still expected from the wave that was in flight when the limit was last cut. */
  private sameWave = 0;
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
    this.ceiling = this.max;
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
      return await fn();
    } finally {
      this.active--;
      this.wake();
    }
  }

  /** Told every HTTP answer: 429 cuts the limit; a 5xx changes nothing; anything else is clean. */
  answer(status: number): void {
    const ofCutWave = this.sameWave > 0;
    if (ofCutWave) this.sameWave--;
    if (status === 429) {
      this.throttledCount++;
      if (ofCutWave || this.mode === "fixed") return;
      this.decreaseCount++;
      this.ceiling = Math.max(this.min, this.limitNow - 1);
      this.limitNow = Math.max(this.min, Math.floor(this.limitNow / 2));
      this.clean = 0;
      this.windowsAtCeiling = 0;
      // Every request already holding a slot was sent at the old level; their 429s are this one's.
      this.sameWave = Math.max(0, this.active - 1);
      return;
    }
    if (ofCutWave || status >= 500 || this.mode === "fixed") return;
    // Growth is earned only while the limit is what holds the run back.
    if (this.active < this.limitNow && this.waiting.length === 0) return;
    if (++this.clean < this.limitNow) return;
    this.clean = 0;
    if (this.limitNow >= this.max) return;
    if (this.limitNow >= this.ceiling) {
      if (++this.windowsAtCeiling < this.probeWindows) return;
      this.windowsAtCeiling = 0;
      this.ceiling = this.max;
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
