import { describe, expect, it } from "vitest";
import { UnknownOutcomeError } from "../../src/errors.js";
import {
  classifyHttp,
  parseRetryAfterMs,
  retryDelayMs,
  withRetry,
  type AttemptOutcome,
  type HttpAttempt,
} from "../../src/http/retry.js";
import { RETRY_AFTER_MAX_MS, RETRY_BASE_DELAY_MS, RETRY_MAX_ATTEMPTS, RETRY_MAX_DELAY_MS } from "../../src/limits.js";

function netError(code: string): Error {
  return Object.assign(new Error(code), { code });
}

/** Runs `withRetry` over a scripted list of HTTP attempts; returns what happened. */
async function run(idempotent: boolean, script: HttpAttempt[], random = () => 0.5) {
  const sleeps: number[] = [];
  const retries: string[] = [];
  let calls = 0;
  const promise = withRetry<{ status: number; retryAfter?: string | null }>(
    async () => {
      const step = script[Math.min(calls, script.length - 1)]!;
      calls++;
      if ("networkError" in step) throw step.networkError;
      return step;
    },
    (outcome: AttemptOutcome<{ status: number; retryAfter?: string | null }>) =>
      outcome.ok ? classifyHttp(idempotent, outcome.value) : classifyHttp(idempotent, { networkError: outcome.error }),
    {
      sleep: async (ms) => {
        sleeps.push(ms);
      },
      random,
      now: () => Date.parse("2030-01-01T00:00:00Z"),
      onRetry: (info) => retries.push(info.reason),
      description: "POST /v1/PushNotifications/Credentials",
    },
  );
  const result = await promise.then(
    (value) => ({ value, error: undefined as unknown }),
    (error: unknown) => ({ value: undefined, error }),
  );
  return { ...result, sleeps, retries, calls: () => calls };
}

describe("retryDelayMs", () => {
  it("uses Retry-After seconds", () => {
    expect(retryDelayMs(0, "2")).toBe(2000);
    expect(retryDelayMs(3, "0")).toBe(0);
  });

  it("uses a Retry-After HTTP-date relative to now", () => {
    const now = Date.parse("2030-01-01T00:00:00Z");
    expect(retryDelayMs(0, "Tue, 01 Jan 2030 00:00:05 GMT", { now })).toBe(5000);
    expect(retryDelayMs(0, "Mon, 31 Dec 2029 23:00:00 GMT", { now })).toBe(0);
  });

  it("caps Retry-After at RETRY_AFTER_MAX_MS", () => {
    expect(retryDelayMs(0, String(RETRY_AFTER_MAX_MS / 1000 + 3600))).toBe(RETRY_AFTER_MAX_MS);
  });

  it("falls back to exponential full jitter, capped", () => {
    expect(retryDelayMs(0, undefined, { random: () => 0.999999 })).toBe(RETRY_BASE_DELAY_MS - 1);
    expect(retryDelayMs(2, undefined, { random: () => 0.5 })).toBe(RETRY_BASE_DELAY_MS * 2);
    expect(retryDelayMs(30, undefined, { random: () => 0.5 })).toBe(RETRY_MAX_DELAY_MS / 2);
    expect(retryDelayMs(5, undefined, { random: () => 0 })).toBe(0);
    expect(retryDelayMs(1, "not a date", { random: () => 0.5 })).toBe(RETRY_BASE_DELAY_MS);
  });

  it("parses only sane Retry-After values", () => {
    expect(parseRetryAfterMs(undefined)).toBeUndefined();
    expect(parseRetryAfterMs("")).toBeUndefined();
    expect(parseRetryAfterMs("soon")).toBeUndefined();
    expect(parseRetryAfterMs("1.5")).toBe(1500);
  });
});

describe("classifyHttp", () => {
  it("retries 429 and 503 for any method, passing Retry-After on", () => {
    expect(classifyHttp(false, { status: 429, retryAfter: "3" })).toEqual({ kind: "retry", reason: "HTTP 429", retryAfter: "3" });
    expect(classifyHttp(false, { status: 503 }).kind).toBe("retry");
    expect(classifyHttp(true, { status: 503 }).kind).toBe("retry");
  });

  it("retries idempotent requests on 5xx and network errors", () => {
    for (const status of [500, 502, 504]) expect(classifyHttp(true, { status }).kind).toBe("retry");
    for (const code of ["ECONNRESET", "UND_ERR_SOCKET", "UND_ERR_HEADERS_TIMEOUT"]) {
      expect(classifyHttp(true, { networkError: netError(code) }).kind).toBe("retry");
    }
  });

  it("never retries a create that may have reached the server", () => {
    for (const status of [500, 502, 504]) expect(classifyHttp(false, { status }).kind).toBe("unknown-outcome");
    for (const code of ["ECONNRESET", "UND_ERR_SOCKET", "UND_ERR_HEADERS_TIMEOUT", "ETIMEDOUT"]) {
      expect(classifyHttp(false, { networkError: netError(code) }).kind).toBe("unknown-outcome");
    }
  });

  it("retries a create that never left (connection refused, DNS)", () => {
    expect(classifyHttp(false, { networkError: netError("ECONNREFUSED") }).kind).toBe("retry");
    const nested = Object.assign(new Error("fetch failed"), { cause: netError("ENOTFOUND") });
    expect(classifyHttp(false, { networkError: nested }).kind).toBe("retry");
  });

  it("does not retry success or client errors", () => {
    for (const status of [200, 202, 400, 401, 404, 409, 501]) {
      expect(classifyHttp(true, { status }).kind).toBe("done");
      expect(classifyHttp(false, { status }).kind).toBe("done");
    }
  });
});

describe("withRetry", () => {
  it("retries 429 on a create, honouring Retry-After, then returns the answer", async () => {
    const r = await run(false, [{ status: 429, retryAfter: "2" }, { status: 429, retryAfter: "1" }, { status: 202 }]);
    expect(r.value).toEqual({ status: 202 });
    expect(r.sleeps).toEqual([2000, 1000]);
    expect(r.retries).toEqual(["HTTP 429", "HTTP 429"]);
    expect(r.calls()).toBe(3);
  });

  it("backs off exponentially without Retry-After", async () => {
    const r = await run(true, [{ status: 503 }, { status: 503 }, { status: 503 }, { status: 200 }], () => 0.5);
    expect(r.sleeps).toEqual([100, 200, 400]);
    expect(r.value).toEqual({ status: 200 });
  });

  it("returns the last answer when attempts run out (bounded)", async () => {
    const r = await run(true, [{ status: 500 }]);
    expect(r.value).toEqual({ status: 500 });
    expect(r.calls()).toBe(RETRY_MAX_ATTEMPTS);
    expect(r.retries).toHaveLength(RETRY_MAX_ATTEMPTS - 1);
  });

  it("rethrows the last network error when attempts run out", async () => {
    const r = await run(true, [{ networkError: netError("ECONNRESET") }]);
    expect((r.error as { code?: string }).code).toBe("ECONNRESET");
    expect(r.calls()).toBe(RETRY_MAX_ATTEMPTS);
  });

  it("throws UnknownOutcomeError for a create reset after sending, after exactly one attempt", async () => {
    const r = await run(false, [{ networkError: netError("ECONNRESET") }, { status: 202 }]);
    expect(r.error).toBeInstanceOf(UnknownOutcomeError);
    expect(String((r.error as Error).message)).toContain("POST /v1/PushNotifications/Credentials");
    expect(((r.error as Error).cause as { code?: string }).code).toBe("ECONNRESET");
    expect(r.calls()).toBe(1);
  });

  it("throws UnknownOutcomeError for a create answered 500, after one 429", async () => {
    const r = await run(false, [{ status: 429 }, { status: 500 }, { status: 202 }]);
    expect(r.error).toBeInstanceOf(UnknownOutcomeError);
    expect(r.calls()).toBe(2);
  });

  it("gives up instead of sleeping on a Retry-After beyond the cap", async () => {
    const r = await run(false, [{ status: 429, retryAfter: String(RETRY_AFTER_MAX_MS / 1000 + 1) }, { status: 202 }]);
    expect(r.value).toEqual({ status: 429, retryAfter: String(RETRY_AFTER_MAX_MS / 1000 + 1) });
    expect(r.sleeps).toEqual([]);
    expect(r.calls()).toBe(1);
  });

  it("does not retry errors the classifier calls done", async () => {
    let calls = 0;
    await expect(
      withRetry(
        async () => {
          calls++;
          throw new TypeError("bug");
        },
        () => ({ kind: "done" }),
        { sleep: async () => {} },
      ),
    ).rejects.toBeInstanceOf(TypeError);
    expect(calls).toBe(1);
  });
});
