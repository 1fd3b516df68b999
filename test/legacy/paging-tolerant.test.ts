/** Legacy reader: bounded paging, tolerant reading, records without a sid, query params sent. */
import { afterEach, describe, expect, it } from "vitest";
import { createLegacyReader } from "../../src/legacy/index.js";
import { LEGACY_MAX_PAGES } from "../../src/limits.js";
import { startLocalServer, type Reply, type SeenRequest } from "../comms/local-server.js";

const ACCOUNT = "AC11111111111111111111111111111111";
const sid = (n: number) => `CR${n.toString(16).padStart(32, "0")}`;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const record = (n: number, extra: Record<string, unknown> = {}) => ({ sid: sid(n), account_sid: ACCOUNT, type: "apn", sandbox: "False", ...extra });
const page = (credentials: unknown, next: string | null, extra: Record<string, unknown> = {}) => ({
  ...(credentials === undefined ? {} : { credentials }),
  meta: { key: "credentials", page_size: 100, next_page_url: next },
  ...extra,
});

async function setup(handler: (req: SeenRequest, i: number) => Reply, maxPages?: number) {
  const server = await startLocalServer(handler);
  const reader = createLegacyReader({ accountSid: ACCOUNT, username: ACCOUNT, password: "t", baseUrl: server.url, ...(maxPages ? { maxPages } : {}) });
  cleanups.push(() => server.close(), () => reader.close());
  return { server, reader };
}

describe("legacy paging bounds", () => {
  it("the default budget is generous (2,000 pages of 100)", () => {
    expect(LEGACY_MAX_PAGES).toBe(2_000);
  });

  it("stops an endless pager at the page budget", async () => {
    const { server, reader } = await setup((_req, i) => ({ status: 200, json: page([record(i)], `https://conversations.twilio.com/v1/Credentials?Page=${i + 1}&PageToken=PT${i + 1}`) }), 4);
    await expect(reader.listAll()).rejects.toThrow("Conversations API paging stopped: more than 4 pages");
    expect(server.requests).toHaveLength(4);
  });

  it("stops on an empty page that still names a next page", async () => {
    const { server, reader } = await setup((_req, i) => ({ status: 200, json: page([], `https://conversations.twilio.com/v1/Credentials?Page=${i + 1}`) }));
    await expect(reader.listAll()).rejects.toThrow("an empty page still names a next page");
    expect(server.requests).toHaveLength(1);
  });

  it("stops on a repeated next_page_url", async () => {
    const { server, reader } = await setup((_req, i) => ({ status: 200, json: page([record(i)], "https://conversations.twilio.com/v1/Credentials?Page=1&PageToken=X") }));
    await expect(reader.listAll()).rejects.toThrow("paging loops");
    expect(server.requests).toHaveLength(2);
  });

  it("sends the page size as a query parameter", async () => {
    const { server, reader } = await setup(() => ({ status: 200, json: page([record(1)], null) }));
    await reader.listAll();
    expect(server.requests[0]?.query.get("PageSize")).toBe("100");
    expect(server.requests[0]?.headers.authorization).toBe(`Basic ${Buffer.from(`${ACCOUNT}:t`).toString("base64")}`);
    expect(server.requests[0]?.headers["user-agent"]).toMatch(/^cr2comms\//);
  });
});

describe("legacy tolerant reading", () => {
  it("an answer without a credentials array is an empty page", async () => {
    const { reader } = await setup(() => ({ status: 200, json: page(undefined, null) }));
    expect(await reader.listAll()).toEqual([]);
  });

  it("an answer without meta or records is an empty page", async () => {
    const { reader } = await setup(() => ({ status: 200, json: {} }));
    expect(await reader.listAll()).toEqual([]);
  });

  it("ignores unknown fields on pages and records", async () => {
    const { reader } = await setup(() => ({ status: 200, json: page([record(1, { surprise: [1, 2], credentials: "x" })], null, { links: { self: "x" } }) }));
    const list = await reader.listAll();
    expect(list.map((c) => c.sid)).toEqual([sid(1)]);
  });

  it("skips records without a sid, counts them in warnings, and resets warnings per read", async () => {
    let withBad = true;
    const { reader } = await setup(() => ({
      status: 200,
      json: page(withBad ? [record(1), { type: "apn" }, null, record(2, { sid: "" }), "odd", record(3)] : [record(1)], null),
    }));
    const list = await reader.listAll();
    expect(list.map((c) => c.sid)).toEqual([sid(1), sid(3)]);
    expect(reader.warnings).toEqual(["Conversations API listed 4 credentials without a sid; skipped (cannot be mapped or migrated)"]);
    withBad = false;
    await reader.listAll();
    expect(reader.warnings).toEqual([]);
  });

  it("invalid JSON is a clear error that quotes nothing of the answer", async () => {
    const { reader } = await setup(() => ({ status: 200, text: "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC not json" }));
    const error = await reader.listAll().catch((e: unknown) => e);
    expect((error as Error).message).toBe("Conversations API answered /v1/Credentials with invalid JSON");
    expect((error as Error).cause).toBeUndefined();
  });
});
