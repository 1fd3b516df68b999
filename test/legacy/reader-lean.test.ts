/** The legacy reader pages with our own HTTP: lean records, cleaned errors, next pages aimed at baseUrl. */
import { afterEach, describe, expect, it } from "vitest";
import { ApiError } from "../../src/errors.js";
import { createLegacyReader } from "../../src/legacy/index.js";
import { startLocalServer, type Reply, type SeenRequest } from "../comms/local-server.js";

const ACCOUNT = "AC11111111111111111111111111111111";
const sid = (n: number) => `CR${n.toString(16).padStart(32, "0")}`;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function setup(handler: (req: SeenRequest, i: number) => Reply) {
  const server = await startLocalServer(handler);
  const reader = createLegacyReader({ accountSid: ACCOUNT, username: ACCOUNT, password: "t", baseUrl: server.url, sleep: async () => {} });
  cleanups.push(() => server.close(), () => reader.close());
  return { server, reader };
}

describe("legacy reader without the twilio library", () => {
  it("keeps only a LegacyCredential's fields from each record", async () => {
    const bulky = { sid: sid(1), account_sid: ACCOUNT, friendly_name: "a", type: "APN", sandbox: true, date_created: "2020-01-01T00:00:00Z", date_updated: "not a date", url: "u", links: { x: "y".repeat(1000) }, certificate: "c".repeat(1000) };
    const { reader } = await setup(() => ({ status: 200, json: { credentials: [bulky], meta: { key: "credentials", next_page_url: null } } }));
    const [c] = await reader.listAll();
    expect(c).toEqual({
      sid: sid(1),
      accountSid: ACCOUNT,
      friendlyName: "a",
      type: "apn",
      sandbox: true,
      sandboxRaw: "true",
      dateCreated: "2020-01-01T00:00:00.000Z",
      dateUpdated: "not a date",
      url: "u",
    });
  });

  it("follows a relative next_page_uri at the top level (older answers), aimed at baseUrl", async () => {
    const { server, reader } = await setup((_req, i) => ({
      status: 200,
      json: i === 0 ? { credentials: [{ sid: sid(1) }], next_page_uri: "/v1/Credentials?PageSize=100&Page=1" } : { credentials: [{ sid: sid(2) }], meta: {} },
    }));
    expect((await reader.listAll()).map((c) => c.sid)).toEqual([sid(1), sid(2)]);
    expect(server.requests.map((r) => r.url)).toEqual(["/v1/Credentials?PageSize=100", "/v1/Credentials?PageSize=100&Page=1"]);
  });

  it("an error answer becomes an ApiError with cleaned text", async () => {
    const key = Buffer.from("k".repeat(10) + "0123456789ABCDEFabcdef".repeat(3)).toString("base64");
    const { reader } = await setup(() => ({
      status: 400,
      json: { code: 20001, message: `bad\u001b[2J -----BEGIN PRIVATE KEY-----\n${key}\n-----END PRIVATE KEY----- ${"x ".repeat(400)}` },
    }));
    const error = await reader.listAll().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    const message = (error as Error).message;
    expect(message.startsWith("Conversations API error 400 (code 20001): bad\\u{1b}[2J [redacted] x x")).toBe(true);
    expect(message).not.toContain(key.slice(0, 12));
    expect(message.length).toBeLessThan(400);
  });

  it("an answer that is not a JSON object is a clear error", async () => {
    const { reader } = await setup(() => ({ status: 200, json: [1, 2] }));
    await expect(reader.listAll()).rejects.toThrow("Conversations API answer is not a JSON object");
  });
});
