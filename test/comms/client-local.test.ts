/**
 * Comms client behaviours the emulator does not script: URL-style page links, Location-only
 * answers, timeouts, refused connections, log hygiene.
 */
import { Writable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { createCommsClient } from "../../src/comms/index.js";
import { ApiError, AuthError, UnknownOutcomeError } from "../../src/errors.js";
import { NetworkError } from "../../src/http/errors.js";
import { RETRY_MAX_ATTEMPTS } from "../../src/limits.js";
import { createLogger } from "../../src/log.js";
import { startLocalServer, type Reply, type SeenRequest } from "./local-server.js";

const ACCOUNT = "AC00000000000000000000000000000000";
const TOKEN = "local-token";
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

function credential(n: number, appName = "app_a") {
  return {
    id: `comms_credential_${String(n).padStart(26, "0")}`,
    credentialType: "APN",
    isDefault: false,
    appName,
    createdAt: "2030-01-01T00:00:00Z",
    updatedAt: "2030-01-01T00:00:00Z",
  };
}

async function setup(handler: (req: SeenRequest, i: number) => Reply, extra: { requestTimeoutMs?: number; baseUrl?: string } = {}) {
  const server = await startLocalServer(handler);
  const sleeps: number[] = [];
  const client = createCommsClient({
    baseUrl: extra.baseUrl ?? server.url,
    apiVersion: "v1",
    username: ACCOUNT,
    password: TOKEN,
    accountSid: ACCOUNT,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
    requestTimeoutMs: extra.requestTimeoutMs,
  });
  cleanups.push(() => server.close(), () => client.close());
  return { server, client, sleeps };
}

const APN_BODY = {
  credentialType: "APN" as const,
  appName: "app_a",
  content: { certificate: Buffer.from("CERT-SECRET-PEM").toString("base64"), privateKey: Buffer.from("KEY-SECRET-PEM").toString("base64") },
};

describe("Comms client against a scripted server", () => {
  it("follows URL-style and token-style pagination.next, keeping filters and re-aiming at baseUrl", async () => {
    const { server, client } = await setup((req) => {
      if (!req.query.has("pageToken") && !req.query.has("cursor")) {
        return { status: 200, json: { credentials: [credential(1)], pagination: { next: "tok2" } } };
      }
      if (req.query.get("pageToken") === "tok2") {
        // An absolute link on the public host: must be sent to our base URL, not to the internet.
        return {
          status: 200,
          json: { credentials: [credential(2)], pagination: { next: "https://comms.twilio.com/v1/PushNotifications/Credentials?cursor=3&appName=app_a" } },
        };
      }
      return { status: 200, json: { credentials: [credential(3), credential(2)], pagination: { next: null } } };
    });
    const list = await client.list({ appName: "app_a", credentialType: "APN", isDefault: false, startDate: "2030-01-01T00:00:00Z" });
    expect(list.map((c) => c.id)).toEqual([credential(1).id, credential(2).id, credential(3).id]);
    expect(server.requests).toHaveLength(3);
    const [first, second, third] = server.requests;
    expect(first!.path).toBe("/v1/PushNotifications/Credentials");
    expect(Object.fromEntries(first!.query)).toEqual({
      pageSize: "1000",
      appName: "app_a",
      credentialType: "APN",
      isDefault: "false",
      startDate: "2030-01-01T00:00:00Z",
    });
    expect(second!.query.get("pageToken")).toBe("tok2");
    expect(second!.query.get("appName")).toBe("app_a");
    expect(third!.query.get("cursor")).toBe("3");
    expect(first!.headers.authorization).toBe(`Basic ${Buffer.from(`${ACCOUNT}:${TOKEN}`).toString("base64")}`);
    expect(client.stats.byKind).toEqual({ list: 3 });
  });

  it("uses the preview prefix when asked", async () => {
    const server = await startLocalServer(() => ({ status: 200, json: { credentials: [], pagination: {} } }));
    const client = createCommsClient({ baseUrl: server.url, apiVersion: "preview", username: ACCOUNT, password: TOKEN, accountSid: ACCOUNT });
    cleanups.push(() => server.close(), () => client.close());
    expect(await client.list()).toEqual([]);
    expect(server.requests[0]!.path).toBe("/preview/PushNotifications/Credentials");
  });

  it("falls back to the Location header when a 202 has no body", async () => {
    const path = "/v1/PushNotifications/Credentials/comms_credential_01h9krwprkeee8fzqspvwy6nq8";
    const { client, server } = await setup(() => ({ status: 202, headers: { location: path } }));
    expect(await client.create(APN_BODY)).toEqual({ resourceId: "comms_credential_01h9krwprkeee8fzqspvwy6nq8", resourceLocation: `${server.url}${path}` });
    expect(JSON.parse(server.requests[0]!.body)).toEqual(APN_BODY);
    expect(server.requests[0]!.headers["content-type"]).toBe("application/json");
  });

  it("fetchLocation GETs the returned path on the base URL and maps 404 to null", async () => {
    const { client, server } = await setup((req) =>
      req.path.endsWith("/there") ? { status: 200, json: credential(7) } : { status: 404, json: { errors: [{ code: 20404, message: "not found" }] } },
    );
    expect(await client.fetchLocation("https://comms.twilio.com/v1/PushNotifications/Credentials/there")).toMatchObject({ id: credential(7).id });
    expect(await client.fetchLocation("/v1/PushNotifications/Credentials/gone")).toBeNull();
    expect(server.requests.map((r) => r.path)).toEqual([
      "/v1/PushNotifications/Credentials/there",
      "/v1/PushNotifications/Credentials/gone",
    ]);
  });

  it("a create that times out has an unknown outcome and is sent once", async () => {
    const { client, server } = await setup(() => "hang", { requestTimeoutMs: 150 });
    const error = await client.create(APN_BODY).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnknownOutcomeError);
    expect(server.requests.filter((r) => r.method === "POST")).toHaveLength(1);
    expect(client.stats.retries).toBe(0);
  });

  it("a 500 on create is an unknown outcome, not re-sent", async () => {
    const { client, server } = await setup(() => ({ status: 500, json: { code: 20500, message: "Internal" } }));
    await expect(client.create(APN_BODY)).rejects.toBeInstanceOf(UnknownOutcomeError);
    expect(server.requests).toHaveLength(1);
  });

  it("a refused connection ends in a NetworkError naming the URL after bounded retries", async () => {
    const { server, client, sleeps } = await setup(() => ({ status: 200, json: {} }));
    const url = server.url;
    await server.close();
    cleanups.shift();
    const error = await client.fetch("comms_credential_x").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NetworkError);
    expect((error as Error).message).toContain(`${url}/v1/PushNotifications/Credentials/comms_credential_x`);
    expect((error as Error).message).toContain("ECONNREFUSED");
    expect(sleeps).toHaveLength(RETRY_MAX_ATTEMPTS - 1);
    expect(client.stats.byKind.fetch).toBe(RETRY_MAX_ATTEMPTS);
  });

  it("401 becomes AuthError; a persistent non-JSON 502 on GET becomes a readable ApiError", async () => {
    const { client, sleeps } = await setup((req) =>
      req.path.endsWith("/auth") ? { status: 401, json: { code: 20003, message: "Authenticate" } } : { status: 502, text: "<h1>Bad Gateway</h1>" },
    );
    const auth = await client.fetch("auth").catch((e: unknown) => e);
    expect(auth).toBeInstanceOf(AuthError);
    expect((auth as Error).message).toContain(ACCOUNT);
    expect((auth as Error).message).toContain("Comms");
    const api = await client.fetch("x").catch((e: unknown) => e);
    expect(api).toBeInstanceOf(ApiError);
    expect((api as ApiError).status).toBe(502);
    expect((api as Error).message).toBe("Comms API error 502: HTTP 502: Bad Gateway");
    expect(sleeps).toHaveLength(RETRY_MAX_ATTEMPTS - 1);
  });

  it("a delete whose first answer was lost and then 404s counts as done", async () => {
    const { client, server } = await setup((_req, i) => (i === 0 ? "drop" : { status: 404, json: { errors: [{ message: "not found" }] } }));
    const res = await client.delete("comms_credential_abc");
    expect(res.resourceId).toBe("comms_credential_abc");
    expect(server.requests.map((r) => r.method)).toEqual(["DELETE", "DELETE"]);
    expect(client.stats.retries).toBe(1);
  });

  it("a plain 404 on delete is an error", async () => {
    const { client } = await setup(() => ({ status: 404, json: { errors: [{ code: 20404, message: "Credential not found" }] } }));
    await expect(client.delete("comms_credential_abc")).rejects.toThrow("Comms API error 404 (code 20404): Credential not found");
  });

  it("setDefault PATCHes only isDefault and parses the 202", async () => {
    const { client, server } = await setup(() => ({
      status: 202,
      json: { resourceId: "comms_credential_abc", resourceLocation: "https://comms.twilio.com/v1/PushNotifications/Credentials/comms_credential_abc" },
    }));
    const res = await client.setDefault("comms_credential_abc", true);
    expect(res.resourceId).toBe("comms_credential_abc");
    expect(server.requests[0]!.method).toBe("PATCH");
    expect(JSON.parse(server.requests[0]!.body)).toEqual({ isDefault: true });
    expect(client.stats.byKind).toEqual({ patch: 1 });
  });

  it("logs method, path and status at debug, never bodies or credentials", async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString());
        cb();
      },
    });
    const server = await startLocalServer((_req, i) =>
      i === 0 ? { status: 429, headers: { "retry-after": "0" } } : { status: 202, json: { resourceId: "comms_credential_01h9krwprkeee8fzqspvwy6nq8", resourceLocation: "/v1/PushNotifications/Credentials/comms_credential_01h9krwprkeee8fzqspvwy6nq8" } },
    );
    const client = createCommsClient({
      baseUrl: server.url,
      apiVersion: "v1",
      username: ACCOUNT,
      password: TOKEN,
      accountSid: ACCOUNT,
      logger: createLogger("debug", sink),
      sleep: async () => {},
    });
    cleanups.push(() => server.close(), () => client.close());
    await client.create(APN_BODY);
    const log = lines.join("");
    expect(log).toContain('"method":"POST"');
    expect(log).toContain('"path":"/v1/PushNotifications/Credentials"');
    expect(log).toContain('"status":202');
    expect(log).toContain("retrying request");
    for (const secret of [APN_BODY.content.certificate, APN_BODY.content.privateKey, TOKEN, "CERT-SECRET"]) {
      expect(log).not.toContain(secret);
    }
  });
});

describe("Comms client: cleaned paths after new sends", () => {
  it("a path cleaned before a create is cleaned again after it: what the create sent never shows in a later error naming that path", async () => {
    const piece = "zqxw1234abcd5678";
    const id = `comms_credential_${piece}`;
    const { client } = await setup((req) => (req.method === "POST" ? { status: 202, headers: { location: "/v1/PushNotifications/Credentials/comms_credential_01h9krwprkeee8fzqspvwy6nq8" } } : "drop"));
    const before = await client.fetch(id).catch((e: unknown) => e);
    expect(before).toBeInstanceOf(NetworkError);
    expect(String((before as Error).message)).toContain(piece); // nothing sent yet: the id is shown
    await client.create({ ...APN_BODY, content: { certificate: Buffer.from(`-- ${piece} --`).toString("base64"), privateKey: Buffer.from("KEY-SECRET-PEM").toString("base64") } });
    const after = await client.fetch(id).catch((e: unknown) => e);
    expect(after).toBeInstanceOf(NetworkError);
    expect(String((after as Error).message)).toContain("[redacted]");
    expect(String((after as Error).message)).not.toContain(piece);
  });
});
