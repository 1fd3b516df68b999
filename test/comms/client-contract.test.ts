/**
 * What the Comms client sends and how it reads answers, checked against a scripted server that
 * looks at exact paths and headers: headers, base-path prefixes, page links (absolute http/https,
 * relative, tokens that merely contain a URL), page budgets on every paged list, registration
 * counting, duplicate ids across pages, deletes, and the parsing of Apps and credentials.
 */
import { afterEach, describe, expect, it } from "vitest";
import { createCommsClient, toCommsApp, toCommsCredential } from "../../src/comms/index.js";
import { TOOL_NAME, TOOL_VERSION } from "../../src/version.js";
import { startLocalServer, type Reply, type SeenRequest } from "./local-server.js";

const ACCOUNT = "AC00000000000000000000000000000000";
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const id = (n: number) => `comms_credential_${String(n).padStart(26, "0")}`;
const credential = (n: number) => ({ id: id(n), credentialType: "APN", isDefault: false, appName: "app_a", createdAt: "2030-01-01T00:00:00Z", updatedAt: "2030-01-02T00:00:00Z" });

async function setup(handler: (req: SeenRequest, i: number) => Reply, extra: { baseSuffix?: string; maxPages?: number } = {}) {
  const server = await startLocalServer(handler);
  const client = createCommsClient({
    baseUrl: `${server.url}${extra.baseSuffix ?? ""}`,
    apiVersion: "v1",
    username: ACCOUNT,
    password: "token",
    accountSid: ACCOUNT,
    sleep: async () => {},
    random: () => 0.5,
    ...(extra.maxPages !== undefined ? { maxPages: extra.maxPages } : {}),
  });
  cleanups.push(() => server.close(), () => client.close());
  return { server, client };
}

describe("what the client sends", () => {
  it("every request accepts JSON and names the tool; only a body carries a content type, and the body is the JSON sent", async () => {
    const { server, client } = await setup((req) =>
      req.method === "POST" ? { status: 202, json: { resourceId: id(9), resourceLocation: `/v1/PushNotifications/Credentials/${id(9)}` } } : { status: 200, json: { credentials: [] } },
    );
    await client.list();
    const body = { credentialType: "FCM" as const, appName: "app_a", content: { privateKey: Buffer.from("{}").toString("base64") } };
    await client.create(body);
    const [get, post] = server.requests;
    for (const r of [get!, post!]) {
      expect(r.headers.accept).toBe("application/json");
      expect(r.headers["user-agent"]).toBe(`${TOOL_NAME}/${TOOL_VERSION}`);
    }
    expect(get!.headers["content-type"]).toBeUndefined();
    expect(get!.body).toBe("");
    expect(post!.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(post!.body)).toEqual(body);
  });

  it("a base URL with a path and trailing slashes keeps the path once, without doubled slashes", async () => {
    const { server, client } = await setup(() => ({ status: 200, json: { credentials: [] } }), { baseSuffix: "/gateway//" });
    await client.list();
    expect(server.requests[0]!.path).toBe("/gateway/v1/PushNotifications/Credentials");
  });

  it("an unusable base URL is refused naming the Comms API", () => {
    expect(() => createCommsClient({ baseUrl: "not a url", apiVersion: "v1", username: ACCOUNT, password: "t", accountSid: ACCOUNT })).toThrow(/Comms/);
  });

  it("counts each kind of request under its own name", async () => {
    const { client } = await setup((req) => {
      if (req.method === "DELETE") return { status: 204 };
      if (req.path.endsWith("/Apps")) return { status: 200, json: { apps: [{ name: "app_a" }] } };
      if (req.path.includes("/Apps/")) return { status: 200, json: { name: "app_a" } };
      if (req.path.endsWith("/DeviceRegistrations")) return { status: 200, json: { deviceRegistrations: [] } };
      if (req.path.endsWith("/Credentials")) return { status: 200, json: { credentials: [] } };
      return { status: 200, json: credential(1) };
    });
    await client.list();
    await client.fetch(id(1));
    await client.listApps();
    await client.fetchApp("app_a");
    await client.countDeviceRegistrations("app_a");
    await client.delete(id(1));
    expect(client.stats.byKind).toEqual({ list: 1, fetch: 1, "list-apps": 1, "fetch-app": 1, "list-registrations": 1, delete: 1 });
  });

  it("every wait before a retry runs through the wrapper it was given, until that is undone", async () => {
    const { client } = await setup((_req, i) => (i % 2 === 0 ? { status: 429, headers: { "retry-after": "0" } } : { status: 200, json: { credentials: [] } }));
    const around: string[] = [];
    const undo = client.aroundRetryWaits!(async (wait) => {
      around.push("before");
      const r = await wait();
      around.push("after");
      return r;
    });
    await client.list();
    expect(around).toEqual(["before", "after"]);
    undo();
    await client.list();
    expect(around).toHaveLength(2);
    // A later wrapper replaces it; undoing the older one then leaves the later one in place.
    const later: string[] = [];
    const undoOld = client.aroundRetryWaits!(async (wait) => wait());
    client.aroundRetryWaits!(async (wait) => (later.push("wait"), wait()));
    undoOld();
    await client.list();
    expect(later).toEqual(["wait"]);
    expect(client.stats.retries).toBe(3);
  });

  it("an answer listener that was removed hears nothing more", async () => {
    const { client } = await setup(() => ({ status: 200, json: { credentials: [] } }));
    const heard: number[] = [];
    const stop = client.watchAnswers!((s) => heard.push(s));
    await client.list();
    stop();
    await client.list();
    expect(heard).toEqual([200]);
  });
});

describe("page links", () => {
  it("an absolute http:// link (any case) and a relative path are followed as links; a token that merely contains a URL is a token", async () => {
    const { server, client } = await setup((req) => {
      const cursor = req.query.get("cursor");
      const token = req.query.get("pageToken");
      if (!cursor && !token) return { status: 200, json: { credentials: [credential(1)], pagination: { next: "HTTP://comms.example/v1/PushNotifications/Credentials?cursor=2" } } };
      if (cursor === "2") return { status: 200, json: { credentials: [credential(2)], pagination: { next: "/v1/PushNotifications/Credentials?cursor=3" } } };
      if (cursor === "3") return { status: 200, json: { credentials: [credential(3)], pagination: { next: "tok-http://not-a-link" } } };
      if (token === "tok-http://not-a-link") return { status: 200, json: { credentials: [credential(4)], pagination: {} } };
      return { status: 400, json: { message: "unexpected request" } };
    });
    expect((await client.list()).map((c) => c.id)).toEqual([id(1), id(2), id(3), id(4)]);
    expect(server.requests.map((r) => r.url)).toEqual([
      "/v1/PushNotifications/Credentials?pageSize=1000",
      "/v1/PushNotifications/Credentials?cursor=2",
      "/v1/PushNotifications/Credentials?cursor=3",
      `/v1/PushNotifications/Credentials?pageSize=1000&pageToken=${encodeURIComponent("tok-http://not-a-link")}`,
    ]);
  });

  it("Apps follow absolute http links and relative paths the same way", async () => {
    const { server, client } = await setup((req) => {
      const cursor = req.query.get("cursor");
      if (!cursor) return { status: 200, json: { apps: [{ name: "a1" }], pagination: { next: "http://comms.example/v1/PushNotifications/Apps?cursor=2" } } };
      if (cursor === "2") return { status: 200, json: { apps: [{ name: "a2" }], pagination: { next: "/v1/PushNotifications/Apps?cursor=3" } } };
      return { status: 200, json: { apps: [{ name: "a3" }], pagination: {} } };
    });
    expect((await client.listApps()).map((a) => a.name)).toEqual(["a1", "a2", "a3"]);
    expect(server.requests.map((r) => r.url)).toEqual(["/v1/PushNotifications/Apps?pageSize=1000", "/v1/PushNotifications/Apps?cursor=2", "/v1/PushNotifications/Apps?cursor=3"]);
  });

  it("the page budget holds on Apps and registrations: exactly maxPages requests, then a clear stop", async () => {
    const endless = (key: string) => (_req: SeenRequest, i: number): Reply => ({ status: 200, json: { [key]: [{ name: `a${i}`, id: `r${i}` }], pagination: { next: `t${i + 1}` } } });
    const apps = await setup(endless("apps"), { maxPages: 3 });
    await expect(apps.client.listApps()).rejects.toThrow(/more than 3 pages/);
    expect(apps.server.requests).toHaveLength(3);
    const regs = await setup(endless("deviceRegistrations"), { maxPages: 2 });
    await expect(regs.client.countDeviceRegistrations("app_a")).rejects.toThrow(/more than 2 pages/);
    expect(regs.server.requests).toHaveLength(2);
  });

  it("an empty page of Apps that still names a next page stops with a clear error", async () => {
    const { client, server } = await setup(() => ({ status: 200, json: { apps: [], pagination: { next: "more" } } }));
    await expect(client.listApps()).rejects.toThrow(/empty page still names a next page/);
    expect(server.requests).toHaveLength(1);
  });

  it("a page of Apps that is not a 200 fails the list", async () => {
    const { client } = await setup(() => ({ status: 204 }));
    await expect(client.listApps()).rejects.toThrow();
  });

  it("a credential listed again on a later page is kept once, as first listed", async () => {
    const { client } = await setup((req) =>
      req.query.get("pageToken") ? { status: 200, json: { credentials: [{ ...credential(1), appName: "moved" }, credential(2)] } } : { status: 200, json: { credentials: [credential(1)], pagination: { next: "p2" } } },
    );
    const list = await client.list();
    expect(list.map((c) => [c.id, c.appName])).toEqual([
      [id(1), "app_a"],
      [id(2), "app_a"],
    ]);
  });
});

describe("device registrations", () => {
  it("counts registrations of the App by id, once each; ones without an id each count; other Apps' do not", async () => {
    const { client } = await setup((req) =>
      req.query.get("pageToken")
        ? { status: 200, json: { deviceRegistrations: [{ id: "r1", appName: "app_a" }, { id: "r3" }, { id: "", appName: "app_a" }] } }
        : { status: 200, json: { deviceRegistrations: [{ id: "r1", appName: "app_a" }, { id: "r2", appName: "app_a" }, { id: "x", appName: "other" }, { appName: "app_a" }], pagination: { next: "p2" } } },
    );
    // r1, r2, r3 by id; two without one.
    expect(await client.countDeviceRegistrations("app_a")).toBe(5);
  });
});

describe("writes", () => {
  it("a 404 to a first delete attempt is a failure, not a deletion", async () => {
    const { client } = await setup(() => ({ status: 404, json: { message: "not found" } }));
    await expect(client.delete(id(1))).rejects.toThrow();
  });

  it("a 3xx to a default change is not an acceptance", async () => {
    const { client } = await setup(() => ({ status: 300, json: { resourceId: id(1) } }));
    await expect(client.setDefault(id(1), true)).rejects.toThrow();
  });

  it("an acceptance with a blank or unreadable body names its resource by the Location header", async () => {
    const location = `/v1/PushNotifications/Credentials/${id(5)}`;
    for (const text of ["  \n", "{not json"]) {
      const { client, server } = await setup(() => ({ status: 202, text, headers: { location } }));
      expect(await client.create({ credentialType: "APN", appName: "a", content: { certificate: "Yw==", privateKey: "aw==" } })).toEqual({ resourceId: id(5), resourceLocation: `${server.url}${location}` });
    }
  });
});

describe("reading what the API says", () => {
  it("an App needs a name; its dates are kept when they are text and blank otherwise", () => {
    expect(toCommsApp({ name: "" })).toBeUndefined();
    expect(toCommsApp({ isDefault: true })).toBeUndefined();
    expect(toCommsApp({ name: "a", isDefault: true, createdAt: "2030-01-01T00:00:00Z", updatedAt: "2030-01-02T00:00:00Z" })).toEqual({ name: "a", isDefault: true, createdAt: "2030-01-01T00:00:00Z", updatedAt: "2030-01-02T00:00:00Z" });
    expect(toCommsApp({ name: "a", createdAt: 5, updatedAt: null })).toEqual({ name: "a", isDefault: false, createdAt: "", updatedAt: "" });
  });

  it("a complete credential is read field for field, with nothing marked missing", () => {
    expect(toCommsCredential(credential(1))).toEqual(credential(1));
  });
});

describe("retry waits through a wrapper", () => {
  it("the wrapped wait still sleeps the Retry-After the server asked for", async () => {
    const server = await startLocalServer((_req, i) => (i === 0 ? { status: 429, headers: { "retry-after": "2" } } : { status: 200, json: { credentials: [] } }));
    const slept: number[] = [];
    const client = createCommsClient({
      baseUrl: server.url,
      apiVersion: "v1",
      username: ACCOUNT,
      password: "token",
      accountSid: ACCOUNT,
      sleep: async (ms) => void slept.push(ms),
      random: () => 0.5,
    });
    cleanups.push(() => server.close(), () => client.close());
    let wrapped = 0;
    client.aroundRetryWaits!(async (wait) => (wrapped++, wait()));
    await client.list();
    expect(wrapped).toBe(1);
    expect(slept).toEqual([2_000]);
  });
});
