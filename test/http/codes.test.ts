/** Which codes count as the network's fault, and which mean a create never left this machine. */
import { describe, expect, it } from "vitest";
import { isNetworkError } from "../../src/http/network.js";
import { UnknownOutcomeError } from "../../src/errors.js";
import { classifyHttp, failedBeforeSending, networkErrorCode, withRetry } from "../../src/http/retry.js";

const coded = (code: string) => Object.assign(new Error(`failed with ${code}`), { code });

describe("network and not-sent codes, each one", () => {
  it("every socket, DNS and undici transport code is a network error", () => {
    for (const code of [
      "ECONNRESET", "ECONNREFUSED", "ETIMEDOUT", "ECONNABORTED", "EPIPE", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH",
      "EHOSTDOWN", "ENETUNREACH", "ENETDOWN", "UND_ERR_SOCKET", "UND_ERR_CONNECT_TIMEOUT", "UND_ERR_HEADERS_TIMEOUT",
      "UND_ERR_BODY_TIMEOUT", "UND_ERR_CLOSED",
    ]) {
      expect(isNetworkError(coded(code)), code).toBe(true);
    }
  });

  it("a create is re-sent only for failures before the first byte left: refused, DNS, unreachable, connect timeout", () => {
    for (const code of ["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "UND_ERR_CONNECT_TIMEOUT"]) {
      expect(failedBeforeSending(coded(code)), code).toBe(true);
      expect(classifyHttp(false, { networkError: coded(code) }), code).toEqual({ kind: "retry", reason: code });
    }
    for (const code of ["ECONNRESET", "ETIMEDOUT", "ECONNABORTED", "EPIPE", "EHOSTDOWN", "ENETDOWN", "UND_ERR_SOCKET", "UND_ERR_CLOSED", "UND_ERR_BODY_TIMEOUT"]) {
      expect(failedBeforeSending(coded(code)), code).toBe(false);
      expect(classifyHttp(false, { networkError: coded(code) }), code).toEqual({ kind: "unknown-outcome", reason: code });
    }
  });

  it("a network failure without a code is named as such", () => {
    expect(classifyHttp(true, { networkError: new Error("socket hang up") })).toEqual({ kind: "retry", reason: "network error" });
    expect(classifyHttp(false, { networkError: new Error("socket hang up") })).toEqual({ kind: "unknown-outcome", reason: "network error" });
  });

  it("501 and 505 say the server will never do it: not retried, not an unknown outcome; other 5xx keep Retry-After", () => {
    for (const status of [501, 505]) {
      expect(classifyHttp(true, { status }), String(status)).toEqual({ kind: "done" });
      expect(classifyHttp(false, { status }), String(status)).toEqual({ kind: "done" });
    }
    expect(classifyHttp(true, { status: 500, retryAfter: "7" })).toEqual({ kind: "retry", reason: "HTTP 500", retryAfter: "7" });
    expect(classifyHttp(false, { status: 502 })).toEqual({ kind: "unknown-outcome", reason: "HTTP 502" });
    expect(classifyHttp(false, { status: 499 })).toEqual({ kind: "done" });
  });
});

describe("odd errors and messages", () => {
  it("an error whose cause is null has no code (and classifying it does not throw)", () => {
    expect(networkErrorCode({ message: "x", cause: null })).toBeUndefined();
    expect(classifyHttp(true, { networkError: { cause: null } })).toEqual({ kind: "retry", reason: "network error" });
  });

  it("an unknown outcome without a description says just that", async () => {
    const err = await withRetry(
      async () => {
        throw coded("ECONNRESET");
      },
      () => ({ kind: "unknown-outcome", reason: "ECONNRESET" }),
      { sleep: async () => {} },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnknownOutcomeError);
    expect((err as Error).message).toBe("outcome unknown (ECONNRESET); not re-sent");
  });
});
