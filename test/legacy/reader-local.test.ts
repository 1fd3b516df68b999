/**
 * Legacy reader against a scripted server: URL rewriting of next pages, environment that would
 * mangle hostnames, de-duplication, field mapping, network failure.
 */
import { afterEach, describe, expect, it } from "vitest";
import { ApiError, AuthError } from "../../src/errors.js";
import { NetworkError } from "../../src/http/errors.js";
import { RETRY_MAX_ATTEMPTS } from "../../src/limits.js";
import { createLegacyReader } from "../../src/legacy/index.js";
import { startLocalServer, type Reply, type SeenRequest } from "../comms/local-server.js";

const ACCOUNT = "AC11111111111111111111111111111111";
const sid = (n: number) => `CR${n.toString(16).padStart(32, "0")}`;
const cleanups: (() => Promise<void>)[] = [];
const savedEnv = { edge: process.env.TWILIO_EDGE, region: process.env.TWILIO_REGION, log: process.env.TWILIO_LOG_LEVEL };
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
  for (const [key, value] of [
    ["TWILIO_EDGE", savedEnv.edge],
    ["TWILIO_REGION", savedEnv.region],
    ["TWILIO_LOG_LEVEL", savedEnv.log],
  ] as const) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
});

function record(n: number, extra: Record<string, unknown> = {}) {
  return {
    sid: sid(n),
    account_sid: ACCOUNT,
    friendly_name: `cred ${n}`,
    type: "apn",
    sandbox: "False",
    date_created: "2015-10-07T17:50:01Z",
    date_updated: "2015-10-07T17:50:01Z",
    url: `https://conversations.twilio.com/v1/Credentials/${sid(n)}`,
    ...extra,
  };
}

/** Pages whose next_page_url points at the real public host, as Twilio's would. */
function pages(all: Record<string, unknown>[][]) {
  return (req: SeenRequest): Reply => {
    const index = Number(req.query.get("Page") ?? "0");
    const next = index + 1 < all.length ? `https://conversations.twilio.com/v1/Credentials?PageSize=100&Page=${index + 1}&PageToken=PT${index + 1}` : null;
    return { status: 200, json: { credentials: all[index] ?? [], meta: { page: index, page_size: 100, key: "credentials", next_page_url: next } } };
  };
}

async function setup(handler: (req: SeenRequest, i: number) => Reply) {
  const server = await startLocalServer(handler);
  const sleeps: number[] = [];
  const reader = createLegacyReader({
    accountSid: ACCOUNT,
    username: ACCOUNT,
    password: "tok",
    baseUrl: server.url,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
  });
  cleanups.push(() => server.close());
  return { server, reader, sleeps };
}

describe("legacy reader against a scripted server", () => {
  it("rewrites next-page URLs to baseUrl, de-duplicates sids and maps fields", async () => {
    const { server, reader } = await setup(
      pages([
        [record(1, { sandbox: "True", type: "APN" }), record(2, { friendly_name: null, type: "fcm", sandbox: null })],
        [record(2, { friendly_name: null, type: "fcm", sandbox: null }), record(3, { sandbox: "weird", date_created: null })],
      ]),
    );
    const seen: number[] = [];
    const list = await reader.listAll((n) => seen.push(n));
    expect(list.map((c) => c.sid)).toEqual([sid(1), sid(2), sid(3)]);
    expect(seen).toEqual([2, 3]);
    expect(list[0]).toEqual({
      sid: sid(1),
      accountSid: ACCOUNT,
      friendlyName: "cred 1",
      type: "apn",
      sandbox: true,
      sandboxRaw: "True",
      dateCreated: "2015-10-07T17:50:01.000Z",
      dateUpdated: "2015-10-07T17:50:01.000Z",
      url: `https://conversations.twilio.com/v1/Credentials/${sid(1)}`,
    });
    expect(list[1]).toMatchObject({ friendlyName: null, type: "fcm", sandbox: null, sandboxRaw: null });
    expect(list[2]).toMatchObject({ sandbox: null, sandboxRaw: "weird", dateCreated: null });
    expect(server.requests.map((r) => r.url)).toEqual([
      "/v1/Credentials?PageSize=100",
      "/v1/Credentials?PageSize=100&Page=1&PageToken=PT1",
    ]);
    expect(server.requests[0]!.headers.authorization).toBe(`Basic ${Buffer.from(`${ACCOUNT}:tok`).toString("base64")}`);
  });

  it("still reaches baseUrl when TWILIO_EDGE / TWILIO_REGION / TWILIO_LOG_LEVEL are set", async () => {
    process.env.TWILIO_EDGE = "sydney";
    process.env.TWILIO_REGION = "au1";
    process.env.TWILIO_LOG_LEVEL = "debug";
    const { server, reader } = await setup(pages([[record(1)], [record(2)]]));
    const list = await reader.listAll();
    expect(list.map((c) => c.sid)).toEqual([sid(1), sid(2)]);
    expect(server.requests).toHaveLength(2);
    expect(server.requests[0]!.headers.host).toBe(`127.0.0.1:${server.port}`);
  });

  it("authenticates with an API key and the account sid option", async () => {
    const server = await startLocalServer(pages([[record(1)]]));
    cleanups.push(() => server.close());
    const reader = createLegacyReader({ accountSid: ACCOUNT, username: "SK22222222222222222222222222222222", password: "secret", baseUrl: server.url });
    expect(await reader.listAll()).toHaveLength(1);
    expect(server.requests[0]!.headers.authorization).toBe(`Basic ${Buffer.from("SK22222222222222222222222222222222:secret").toString("base64")}`);
  });

  it("401 → AuthError without retrying", async () => {
    const { server, reader } = await setup(() => ({ status: 401, json: { code: 20003, message: "Authenticate", status: 401 } }));
    const error = await reader.listAll().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthError);
    expect((error as Error).message).toMatch(new RegExp(`^authentication failed for account ${ACCOUNT}: the Conversations API at 127\\.0\\.0\\.1:\\d+ answered 401 to the auth token for ${ACCOUNT}; check`));
    expect(server.requests).toHaveLength(1);
  });

  it("400 → ApiError with the Twilio code and message", async () => {
    const { reader } = await setup(() => ({ status: 400, json: { code: 20007, message: "Page size too large", status: 400 } }));
    await expect(reader.listAll()).rejects.toThrow(new ApiError("Conversations", 400, 20007, "Page size too large"));
  });

  it("retries a dropped connection, then succeeds", async () => {
    const { server, reader, sleeps } = await setup((req, i) => (i === 0 ? "drop" : pages([[record(1)]])(req)));
    expect(await reader.listAll()).toHaveLength(1);
    expect(server.requests).toHaveLength(2);
    expect(sleeps).toEqual([100]);
  });

  it("an unreachable server → NetworkError naming the URL, after bounded retries", async () => {
    const { server, reader, sleeps } = await setup(() => ({ status: 200, json: {} }));
    const url = server.url;
    await cleanups.pop()!();
    const error = await reader.listAll().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NetworkError);
    expect((error as Error).message).toContain(`${url}/v1/Credentials`);
    expect((error as Error).message).toContain("ECONNREFUSED");
    expect(sleeps).toHaveLength(RETRY_MAX_ATTEMPTS - 1);
  });
});
