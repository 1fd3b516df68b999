/**
 * An answer that drips one byte at a time never trips a header or body timeout (they measure
 * gaps); every request has an overall deadline, with the retry rules of a timeout.
 */
import { afterEach, describe, expect, it } from "vitest";
import { createCommsClient } from "../../src/comms/index.js";
import { UnknownOutcomeError } from "../../src/errors.js";
import { NetworkError } from "../../src/http/errors.js";
import { createDispatcher, sendHttp } from "../../src/http/agent.js";
import { REQUEST_DEADLINE_MS, REQUEST_TIMEOUT_MS, RETRY_MAX_ATTEMPTS } from "../../src/limits.js";
import { createLegacyReader } from "../../src/legacy/index.js";
import { startDripServer } from "../support/hostile.js";

const ACCOUNT = "AC00000000000000000000000000000000";
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function drip(where: "headers" | "body") {
  const server = await startDripServer({ where, everyMs: 20 });
  cleanups.push(() => server.close());
  return server;
}

function comms(url: string) {
  const client = createCommsClient({
    baseUrl: url,
    apiVersion: "v1",
    username: ACCOUNT,
    password: "local-token",
    accountSid: ACCOUNT,
    requestDeadlineMs: 150,
    sleep: async () => undefined,
  });
  cleanups.push(() => client.close());
  return client;
}

describe("request deadline", () => {
  it("is a named limit, longer than the gap timeout", () => {
    expect(REQUEST_DEADLINE_MS).toBeGreaterThan(REQUEST_TIMEOUT_MS);
  });

  for (const where of ["headers", "body"] as const) {
    it(`a GET whose ${where} drip is cut at the deadline and retried like a timeout, then fails as unreachable`, async () => {
      const server = await drip(where);
      const error = await comms(server.url).list().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NetworkError);
      expect((error as NetworkError).message).toMatch(/deadline/);
      expect(server.requests()).toBe(RETRY_MAX_ATTEMPTS);
    });

    it(`a create whose ${where} drip is cut at the deadline is an unknown outcome, sent once`, async () => {
      const server = await drip(where);
      const error = await comms(server.url)
        .create({ appName: "app_a", credentialType: "FCM", content: { privateKey: "c2VjcmV0LXNlY3JldC1zZWNyZXQ=" } })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UnknownOutcomeError);
      expect((error as Error).message).toMatch(/deadline/);
      expect(server.requests()).toBe(1);
    });
  }

  it("the legacy reader's page drip is cut at the deadline", async () => {
    const server = await drip("body");
    const reader = createLegacyReader({
      accountSid: ACCOUNT,
      username: ACCOUNT,
      password: "local-token",
      baseUrl: server.url,
      requestDeadlineMs: 150,
      sleep: async () => undefined,
    });
    cleanups.push(() => reader.close());
    const error = await reader.listAll().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NetworkError);
    expect(server.requests()).toBe(RETRY_MAX_ATTEMPTS);
  });

  it("a deadline set on the shared dispatcher applies to every request sent through it", async () => {
    const server = await drip("body");
    const dispatcher = createDispatcher({ proxy: false, deadlineMs: 150 });
    cleanups.push(() => dispatcher.close());
    const error = await sendHttp({ dispatcher, api: "Accounts", method: "GET", url: `${server.url}/2010-04-01/Accounts.json`, headers: {} }).catch((e: unknown) => e);
    expect((error as { code?: string }).code).toBe("CR2COMMS_REQUEST_DEADLINE");
  });
});
