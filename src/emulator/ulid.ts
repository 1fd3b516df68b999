import { randomBytes } from "node:crypto";

/** Crockford base32, lowercase (no i, l, o, u), as in Comms ids. */
const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";

/**
 * Monotonic ULID factory: 10 characters of millisecond time + 16 of randomness, lowercase.
 * Within one millisecond the random part is incremented, so ids sort in creation order.
 */
export function ulidFactory(): (now?: number) => string {
  let lastTime = -1;
  let lastRandom: number[] = [];
  return (now = Date.now()) => {
    if (now <= lastTime) {
      increment(lastRandom);
    } else {
      lastTime = now;
      lastRandom = Array.from(randomBytes(16), (b) => b % 32);
      // Leave headroom so increments within one millisecond cannot overflow.
      lastRandom[0] = (lastRandom[0] ?? 0) & 0x0f;
    }
    return encodeTime(lastTime) + lastRandom.map((d) => ALPHABET[d]).join("");
  };
}

function encodeTime(ms: number): string {
  let out = "";
  let t = ms;
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[t % 32] + out;
    t = Math.floor(t / 32);
  }
  return out;
}

function increment(digits: number[]): void {
  for (let i = digits.length - 1; i >= 0; i--) {
    const d = (digits[i] ?? 0) + 1;
    if (d < 32) {
      digits[i] = d;
      return;
    }
    digits[i] = 0;
  }
}
