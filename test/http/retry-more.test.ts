import { describe, expect, it } from "vitest";
import { UnknownOutcomeError } from "../../src/errors.js";
import { classifyHttp, failedBeforeSending, networkErrorCode, parseRetryAfterMs, withRetry } from "../../src/http/retry.js";
import { RETRY_AFTER_MAX_MS } from "../../src/limits.js";

describe("parseRetryAfterMs: what counts as a delay", () => {
  it.each([
    [null, undefined],
    [undefined, undefined],
    ["", undefined],
    [" 2 ", 2_000],
    ["1.25", 1_250],
    ["abc2", undefined],
    ["2 seconds", undefined],
  ])("%j → %j", (header, ms) => {
    expect(parseRetryAfterMs(header as string | null | undefined, 0)).toBe(ms);
  });
});

describe("withRetry: Retry-After limits", () => {
  const retryAfter = (value: string) => () => ({ kind: "retry" as const, reason: "HTTP 429", retryAfter: value });

  it("waits a Retry-After of exactly the maximum, and gives up on a longer one without waiting", async () => {
    const slept: number[] = [];
    const sleep = async (ms: number) => void slept.push(ms);
    let calls = 0;
    await expect(withRetry(async () => ++calls, retryAfter(String(RETRY_AFTER_MAX_MS / 1000)), { maxAttempts: 2, sleep, now: () => 0 })).resolves.toBe(2);
    expect(slept).toEqual([RETRY_AFTER_MAX_MS]);
    calls = 0;
    await expect(withRetry(async () => ++calls, retryAfter(String(RETRY_AFTER_MAX_MS / 1000 + 1)), { maxAttempts: 3, sleep, now: () => 0 })).resolves.toBe(1);
    expect(slept).toEqual([RETRY_AFTER_MAX_MS]);
  });

  it("retries without an onRetry callback", async () => {
    let calls = 0;
    await expect(withRetry(async () => ++calls, retryAfter("0"), { maxAttempts: 3, sleep: async () => {} })).resolves.toBe(3);
  });

  it("a lost answer is never retried and keeps the error as its cause", async () => {
    const cause = new Error("socket hang up");
    const err = await withRetry(async () => { throw cause; }, () => ({ kind: "unknown-outcome", reason: "ECONNRESET" }), { description: "POST /x" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnknownOutcomeError);
    expect((err as Error).message).toBe("POST /x: outcome unknown (ECONNRESET); not re-sent");
    expect((err as Error).cause).toBe(cause);
  });
});

describe("networkErrorCode and failedBeforeSending", () => {
  const nest = (depth: number, code: string): unknown => (depth === 0 ? { code } : { cause: nest(depth - 1, code) });

  it("follows causes up to five levels, skipping empty codes", () => {
    expect(networkErrorCode(nest(4, "ECONNREFUSED"))).toBe("ECONNREFUSED");
    expect(networkErrorCode(nest(5, "ECONNREFUSED"))).toBeUndefined();
    expect(networkErrorCode({ code: "", cause: { code: "ENOTFOUND" } })).toBe("ENOTFOUND");
    expect(networkErrorCode({ code: 42 })).toBeUndefined();
    expect(networkErrorCode("ECONNREFUSED")).toBeUndefined();
    expect(networkErrorCode(undefined)).toBeUndefined();
  });

  it("only connection failures count as not sent", () => {
    expect(failedBeforeSending(nest(1, "ECONNREFUSED"))).toBe(true);
    expect(failedBeforeSending({ code: "ECONNRESET" })).toBe(false);
    expect(failedBeforeSending(new Error("no code"))).toBe(false);
  });
});

describe("classifyHttp: edges", () => {
  it("a network error without a code is named as such; sent once it is unknown", () => {
    expect(classifyHttp(false, { networkError: new Error("boom") })).toEqual({ kind: "unknown-outcome", reason: "network error" });
    expect(classifyHttp(true, { networkError: new Error("boom") })).toEqual({ kind: "retry", reason: "network error" });
  });

  it("501 and 505 are final answers even for a create; 500 is unknown for a create and retried for a read", () => {
    expect(classifyHttp(false, { status: 501 })).toEqual({ kind: "done" });
    expect(classifyHttp(false, { status: 505 })).toEqual({ kind: "done" });
    expect(classifyHttp(false, { status: 500 })).toEqual({ kind: "unknown-outcome", reason: "HTTP 500" });
    expect(classifyHttp(true, { status: 500, retryAfter: "1" })).toEqual({ kind: "retry", reason: "HTTP 500", retryAfter: "1" });
    expect(classifyHttp(false, { status: 499 })).toEqual({ kind: "done" });
  });
});
