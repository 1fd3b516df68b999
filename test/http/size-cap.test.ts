/** Both clients stop reading an answer past the size cap, without buffering it first. */
import { afterEach, describe, expect, it } from "vitest";
import { createCommsClient } from "../../src/comms/index.js";
import { ResponseTooLargeError } from "../../src/http/agent.js";
import { createLegacyReader } from "../../src/legacy/index.js";
import { MAX_RESPONSE_BYTES } from "../../src/limits.js";
import { startEndlessServer } from "../support/hostile.js";

const ACCOUNT = "AC11111111111111111111111111111111";
const CAP = 64 * 1024;
/** What the server may get into socket buffers before the client hangs up. */
const SLACK = 8 * 1024 * 1024;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function clients(opts: { contentLength?: number } = {}) {
  const server = await startEndlessServer(opts);
  const comms = createCommsClient({ baseUrl: server.url, apiVersion: "v1", accountSid: ACCOUNT, username: ACCOUNT, password: "t", maxResponseBytes: CAP, sleep: async () => {} });
  const legacy = createLegacyReader({ accountSid: ACCOUNT, username: ACCOUNT, password: "t", baseUrl: server.url, maxResponseBytes: CAP, sleep: async () => {} });
  cleanups.push(() => server.close(), () => comms.close(), () => legacy.close());
  return { server, comms, legacy };
}

describe("response size cap", () => {
  it("the cap is a few MiB: well above a full page of either API", () => {
    expect(MAX_RESPONSE_BYTES).toBeGreaterThanOrEqual(1024 * 1024);
    expect(MAX_RESPONSE_BYTES).toBeLessThanOrEqual(16 * 1024 * 1024);
  });

  it("Comms: an endless body fails fast with a clear error, once, with bounded reading", async () => {
    const { server, comms } = await clients();
    const error = await comms.list().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ResponseTooLargeError);
    expect((error as Error).message).toBe(`Comms API answer (HTTP 200) larger than ${CAP} bytes; stopped reading`);
    expect(server.requests()).toBe(1);
    expect(server.sent()).toBeLessThan(CAP + SLACK);
  });

  it("Conversations: an endless body fails fast with a clear error, once, with bounded reading", async () => {
    const { server, legacy } = await clients();
    const error = await legacy.listAll().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ResponseTooLargeError);
    expect((error as Error).message).toBe(`Conversations API answer (HTTP 200) larger than ${CAP} bytes; stopped reading`);
    expect(server.requests()).toBe(1);
    expect(server.sent()).toBeLessThan(CAP + SLACK);
  });

  it("a declared Content-Length above the cap fails before reading the body", async () => {
    const { comms, legacy } = await clients({ contentLength: 2 * 1024 * 1024 * 1024 });
    await expect(comms.list()).rejects.toBeInstanceOf(ResponseTooLargeError);
    await expect(legacy.listAll()).rejects.toBeInstanceOf(ResponseTooLargeError);
  });
});
