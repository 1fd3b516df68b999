/** The legacy request client: our HTTP under the twilio library (params, form bodies, auth, cleaned errors). */
import { afterEach, describe, expect, it } from "vitest";
import { ApiError } from "../../src/errors.js";
import { createDispatcher } from "../../src/http/agent.js";
import { RoutedRequestClient } from "../../src/legacy/reader.js";
import { silentLogger } from "../../src/log.js";
import { startLocalServer, type Reply, type SeenRequest } from "../comms/local-server.js";

const ACCOUNT = "AC11111111111111111111111111111111";
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function setup(handler: (req: SeenRequest) => Reply) {
  const server = await startLocalServer(handler);
  const dispatcher = createDispatcher({ proxy: false });
  cleanups.push(() => server.close(), () => dispatcher.close());
  const client = new RoutedRequestClient({ baseUrl: server.url, accountSid: ACCOUNT, dispatcher, maxBytes: 1 << 20, logger: silentLogger, sleep: async () => {} });
  return { server, client };
}

describe("RoutedRequestClient", () => {
  it("rebases the URL, sends params in the query and a form-encoded body, with Basic auth", async () => {
    const { server, client } = await setup(() => ({ status: 201, json: { sid: "CRx" } }));
    const res = await client.request({
      method: "post",
      uri: "https://conversations.twilio.com/v1/Credentials?Existing=1",
      username: ACCOUNT,
      password: "tok",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Connection: "keep-alive", "User-Agent": "twilio-node/test" },
      params: { PageSize: 5, Tag: ["a", "b"] },
      data: { FriendlyName: "a b&c", Type: "apn", Skip: undefined, Many: ["x", "y"] },
    });
    expect(res.statusCode).toBe(201);
    expect(res.body).toMatchObject({ sid: "CRx" });
    const seen = server.requests[0]!;
    expect(seen.method).toBe("POST");
    expect(seen.path).toBe("/v1/Credentials");
    expect(seen.query.getAll("Existing")).toEqual(["1"]);
    expect(seen.query.getAll("PageSize")).toEqual(["5"]);
    expect(seen.query.getAll("Tag")).toEqual(["a", "b"]);
    expect(seen.body).toBe("FriendlyName=a+b%26c&Type=apn&Many=x&Many=y");
    expect(seen.headers["content-type"]).toBe("application/x-www-form-urlencoded");
    expect(seen.headers["user-agent"]).toBe("twilio-node/test");
    expect(seen.headers.authorization).toBe(`Basic ${Buffer.from(`${ACCOUNT}:tok`).toString("base64")}`);
  });

  it("turns an error answer into an ApiError with cleaned text", async () => {
    const key = Buffer.from("k".repeat(10) + "0123456789ABCDEFabcdef".repeat(3)).toString("base64");
    const { client } = await setup(() => ({
      status: 400,
      json: { code: 20001, message: `bad\u001b[2J -----BEGIN PRIVATE KEY-----\n${key}\n-----END PRIVATE KEY----- ${"x ".repeat(400)}` },
    }));
    const error = await client.request({ method: "get", uri: "https://conversations.twilio.com/v1/Credentials" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    const message = (error as Error).message;
    expect(message.startsWith("Conversations API error 400 (code 20001): bad\\u{1b}[2J [redacted] x x")).toBe(true);
    expect(message).not.toContain(key.slice(0, 12));
    expect(message.length).toBeLessThan(400);
  });
});
