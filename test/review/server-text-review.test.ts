/**
 * Server text is cleaned by one function on every path that shows or stores it, and every secret a
 * run sends (a credential's content, the auth token, an API secret) is among what it removes.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { createCommsClient } from "../../src/comms/index.js";
import { ApiError } from "../../src/errors.js";
import { cleanServerText } from "../../src/http/server-text.js";
import { createLegacyReader } from "../../src/legacy/index.js";
import { createLogger } from "../../src/log.js";
import { ROOT } from "../e2e/harness.js";
import { startLocalServer, type Reply, type SeenRequest } from "../comms/local-server.js";

const ACCOUNT = "AC00000000000000000000000000000000";
/** An auth token as Twilio issues them (32 hex) and an API secret (32 letters and digits). */
const TOKEN = "5f0c3a9e71d24b86a0e9c4f1b7d26e83";
const API_SECRET = "q8ZrT2vLm4WxN7cYb1KfH6sJd9PgA3eU";
const KEY_LINES = readFileSync(join(ROOT, "mappings", "examples", "secrets", "limonade-ios-prod.key.pem"), "utf8")
  .split("\n")
  .filter((l) => l.length === 64);

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

function windows(secret: string, size = 12): string[] {
  const out: string[] = [];
  for (let i = 0; i + size <= secret.length; i += 4) out.push(secret.slice(i, i + size));
  return out;
}
const leaked = (text: string, secret: string) => windows(secret).filter((w) => text.includes(w));

async function serve(handler: (req: SeenRequest, i: number) => Reply) {
  const server = await startLocalServer(handler);
  cleanups.push(() => server.close());
  return server;
}

function comms(url: string, password: string, logs?: string[]) {
  const logger = logs
    ? createLogger("debug", {
        format: "json",
        destination: new Writable({
          write(chunk: Buffer, _enc, done) {
            logs.push(chunk.toString());
            done();
          },
        }),
      })
    : undefined;
  const client = createCommsClient({ baseUrl: url, apiVersion: "v1", username: ACCOUNT, password, accountSid: ACCOUNT, sleep: async () => undefined, ...(logger ? { logger } : {}) });
  cleanups.push(() => client.close());
  return client;
}

describe("the URL-path exemption", () => {
  it("does not keep a key line whose /-separated pieces each start with a letter", () => {
    const line = "Mk9dQw3Rt7Yp/Zx4Lm8Nb2Vc6Hq/Wd5Fg9Jk3SaTy/Ue2Io6Pa4Sd8/Fg1Hj5Kl9";
    expect(line.length).toBe(64);
    expect(line.split("/").every((p) => /^[A-Za-z]/.test(p))).toBe(true);
    expect(leaked(cleanServerText(`bad request near ${line}`), line)).toEqual([]);
  });

  it("still keeps the paths of the Twilio APIs", () => {
    for (const path of [
      "/v1/PushNotifications/Credentials/comms_credential_01h9krwprkeee8fzqspvwy6nq8",
      "/preview/PushNotifications/DeviceRegistrations",
      "/v1/Credentials/CR00000000000000000000000000000001",
      "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Calls",
    ]) {
      expect(cleanServerText(`not found: ${path}`)).toBe(`not found: ${path}`);
    }
  });
});

describe("paths taken from answers", () => {
  it("a Comms list page's next path is cleaned in the invalid-JSON message and the debug log", async () => {
    const line = KEY_LINES[2]!;
    const server = await serve((_req, i) => (i === 0 ? { status: 200, json: { credentials: [{ id: "comms_credential_01h9krwprkeee8fzqspvwy6nq8", appName: "a", credentialType: "FCM" }], pagination: { next: `/v1/PushNotifications/${line}` } } } : { status: 200, text: "<html>" }));
    const logs: string[] = [];
    const error = await comms(server.url, "local-token", logs).list().catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/invalid JSON/);
    expect(server.requests[1]?.path).toContain(line.slice(0, 20));
    expect(leaked((error as Error).message, line)).toEqual([]);
    expect(leaked(logs.join(""), line)).toEqual([]);
  });

  it("a legacy next_page_url path is cleaned in the invalid-JSON message", async () => {
    const line = KEY_LINES[3]!;
    const server = await serve((_req, i) =>
      i === 0 ? { status: 200, json: { credentials: [{ sid: "CR00000000000000000000000000000001", type: "apn" }], meta: { key: "credentials", next_page_url: `/v1/${line}?Page=1` } } } : { status: 200, text: "not json" },
    );
    const reader = createLegacyReader({ accountSid: ACCOUNT, username: ACCOUNT, password: "local-token", baseUrl: server.url, sleep: async () => undefined });
    cleanups.push(() => reader.close());
    const error = await reader.listAll().catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/invalid JSON/);
    expect(leaked((error as Error).message, line)).toEqual([]);
  });
});

describe("the credentials a run sends are secrets too", () => {
  const split = (s: string) => `access denied for ${s.slice(0, 16)} ${s.slice(16)}`;

  it("a Comms 403 echoing the auth token split in two shows neither half", async () => {
    const server = await serve(() => ({ status: 403, json: { code: 20403, message: split(TOKEN) } }));
    const error = await comms(server.url, TOKEN).list().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as Error).message).not.toContain(TOKEN.slice(0, 16));
    expect((error as Error).message).not.toContain(TOKEN.slice(16));
  });

  it("a legacy 403 echoing the API secret split in two shows neither half", async () => {
    const server = await serve(() => ({ status: 403, json: { code: 20403, message: split(API_SECRET) } }));
    const reader = createLegacyReader({ accountSid: ACCOUNT, username: "SK00000000000000000000000000000000", password: API_SECRET, baseUrl: server.url });
    cleanups.push(() => reader.close());
    const error = await reader.listAll().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as Error).message).not.toContain(API_SECRET.slice(0, 16));
    expect((error as Error).message).not.toContain(API_SECRET.slice(16));
  });
});
