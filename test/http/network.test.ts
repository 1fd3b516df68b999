/** Only real network failures are retried as such, by both clients. */
import type { Dispatcher } from "undici";
import { describe, expect, it } from "vitest";
import { createCommsClient } from "../../src/comms/index.js";
import { NetworkError } from "../../src/http/errors.js";
import { NETWORK_ERROR_CODES, isNetworkError } from "../../src/http/network.js";
import { createLegacyReader } from "../../src/legacy/index.js";
import { RETRY_MAX_ATTEMPTS } from "../../src/limits.js";

const ACCOUNT = "AC11111111111111111111111111111111";
const coded = (code: string) => Object.assign(new Error(`failed with ${code}`), { code });

/** A dispatcher whose every request fails with `error`; `calls` counts them. */
function failingDispatcher(error: () => Error): Dispatcher & { calls: number } {
  const fake = {
    calls: 0,
    dispatch(_opts: unknown, handler: { onError?: (e: Error) => void; onResponseError?: (c: unknown, e: Error) => void }) {
      fake.calls++;
      const e = error();
      if (handler.onResponseError) handler.onResponseError(null, e);
      else handler.onError?.(e);
      return true;
    },
    async close() {},
    async destroy() {},
  };
  return fake as unknown as Dispatcher & { calls: number };
}

function clients(dispatcher: Dispatcher) {
  const opts = { accountSid: ACCOUNT, username: ACCOUNT, password: "t", baseUrl: "http://127.0.0.1:9", dispatcher, sleep: async () => {}, random: () => 0 };
  return { comms: createCommsClient({ ...opts, apiVersion: "v1" }), legacy: createLegacyReader(opts) };
}

describe("isNetworkError", () => {
  it("matches socket, DNS and undici transport codes, also nested in a cause", () => {
    for (const code of ["ECONNRESET", "ECONNREFUSED", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EAI_AGAIN", "UND_ERR_SOCKET", "UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT", "UND_ERR_CLOSED"]) {
      expect(NETWORK_ERROR_CODES.has(code)).toBe(true);
      expect(isNetworkError(coded(code))).toBe(true);
    }
    expect(isNetworkError(new TypeError("fetch failed", { cause: coded("ECONNRESET") }))).toBe(true);
  });

  it("does not match programming errors that merely start with E", () => {
    for (const code of ["ERR_INVALID_ARG_TYPE", "ERR_INVALID_URL", "EACCES", "UND_ERR_INVALID_ARG", "UND_ERR_ABORTED"]) {
      expect(isNetworkError(coded(code))).toBe(false);
    }
    expect(isNetworkError(new Error("no code"))).toBe(false);
    expect(isNetworkError("ECONNRESET")).toBe(false);
  });
});

describe("both clients retry network errors only", () => {
  it("ERR_INVALID_ARG_TYPE is sent once and surfaces as is", async () => {
    for (const which of ["comms", "legacy"] as const) {
      const dispatcher = failingDispatcher(() => coded("ERR_INVALID_ARG_TYPE"));
      const { comms, legacy } = clients(dispatcher);
      const error = await (which === "comms" ? comms.list() : legacy.listAll()).catch((e: unknown) => e);
      expect(dispatcher.calls).toBe(1);
      expect(error).not.toBeInstanceOf(NetworkError);
      expect((error as { code?: string }).code).toBe("ERR_INVALID_ARG_TYPE");
    }
  });

  it("ECONNRESET on a read is retried and then reported as NetworkError", async () => {
    for (const which of ["comms", "legacy"] as const) {
      const dispatcher = failingDispatcher(() => coded("ECONNRESET"));
      const { comms, legacy } = clients(dispatcher);
      const error = await (which === "comms" ? comms.list() : legacy.listAll()).catch((e: unknown) => e);
      expect(dispatcher.calls).toBe(RETRY_MAX_ATTEMPTS);
      expect(error).toBeInstanceOf(NetworkError);
    }
  });
});
