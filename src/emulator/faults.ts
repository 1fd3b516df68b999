/** A fault the emulator can inject into one request. */
/** "403" is scripted only: a key or account without the permission (nothing is carried out). */
export type FaultKind = "429" | "503" | "403" | "drop-before-commit" | "drop-after-commit" | "500-after-commit";

/** One deterministic fault, applied to the next `times` requests that match. */
export interface ScriptedFault {
  /** HTTP method to match (case-insensitive); any when absent. */
  method?: string;
  /** Path to match: a RegExp, or a substring of the path; any when absent. */
  path?: RegExp | string;
  kind: FaultKind;
  /** Only requests signed by this account; any when absent. */
  account?: string;
  /** How many matching requests get it (default 1). */
  times?: number;
}

/** Fault injection settings. Scripted faults are matched first, then random ones by `rate`. */
export interface FaultOptions {
  /** 0..1: probability per request of a random fault among `kinds`. */
  rate?: number;
  /** Default ["429", "503", "drop-after-commit"]. */
  kinds?: FaultKind[];
  /** PRNG seed so random faults are reproducible (default 1). */
  seed?: number;
  /** Retry-After on injected 429/503, in seconds (default 1; 0 allowed). */
  retryAfterSeconds?: number;
  /** Deterministic faults, consumed in order as requests match. */
  script?: ScriptedFault[];
}

export const DEFAULT_FAULT_KINDS: readonly FaultKind[] = ["429", "503", "drop-after-commit"];

/** mulberry32: tiny, fast, good enough for reproducible fault sequences. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Decides, in request arrival order, which fault (if any) a request gets. */
export class FaultInjector {
  private readonly random: () => number;
  private readonly remaining: number[];

  constructor(private readonly options: FaultOptions = {}) {
    this.random = mulberry32(options.seed ?? 1);
    this.remaining = (options.script ?? []).map((s) => s.times ?? 1);
  }

  get retryAfterSeconds(): number {
    return this.options.retryAfterSeconds ?? 1;
  }

  /** The fault for this request, consuming a scripted entry or a random draw. */
  next(method: string, path: string, account?: string): FaultKind | undefined {
    const script = this.options.script ?? [];
    for (let i = 0; i < script.length; i++) {
      const s = script[i];
      const left = this.remaining[i] ?? 0;
      if (!s || left <= 0) continue;
      if (s.method && s.method.toUpperCase() !== method.toUpperCase()) continue;
      if (s.account !== undefined && s.account !== account) continue;
      if (s.path !== undefined && !matchesPath(s.path, path)) continue;
      this.remaining[i] = left - 1;
      return s.kind;
    }
    const rate = this.options.rate ?? 0;
    if (rate <= 0) return undefined;
    // Two draws per request keep the sequence independent of which kinds are configured.
    const hit = this.random() < rate;
    const pick = this.random();
    if (!hit) return undefined;
    const kinds = this.options.kinds && this.options.kinds.length > 0 ? this.options.kinds : DEFAULT_FAULT_KINDS;
    return kinds[Math.floor(pick * kinds.length)];
  }
}

function matchesPath(pattern: RegExp | string, path: string): boolean {
  if (typeof pattern === "string") return path.includes(pattern);
  pattern.lastIndex = 0; // a /g or /y RegExp keeps state between calls
  return pattern.test(path);
}
