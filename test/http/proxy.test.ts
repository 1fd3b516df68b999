/** Both clients send through the shared dispatcher, which honours HTTP(S)_PROXY and NO_PROXY. */
import { afterEach, describe, expect, it } from "vitest";
import { createCommsClient } from "../../src/comms/index.js";
import { createDispatcher } from "../../src/http/agent.js";
import { createLegacyReader } from "../../src/legacy/index.js";
import { startLocalServer, type SeenRequest, type Reply } from "../comms/local-server.js";
import { startConnectProxy } from "../support/hostile.js";

const ACCOUNT = "AC11111111111111111111111111111111";
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

function api(req: SeenRequest): Reply {
  if (req.path === "/v1/Credentials") {
    return { status: 200, json: { credentials: [{ sid: `CR${"1".repeat(32)}`, type: "apn", sandbox: "False" }], meta: { key: "credentials", next_page_url: null } } };
  }
  return { status: 200, json: { credentials: [{ id: "comms_credential_1", appName: "app", credentialType: "FCM" }] } };
}

async function world(env: NodeJS.ProcessEnv | ((proxyUrl: string, targetHost: string) => NodeJS.ProcessEnv)) {
  const target = await startLocalServer(api);
  const proxy = await startConnectProxy();
  cleanups.push(() => target.close(), () => proxy.close());
  const resolved = typeof env === "function" ? env(proxy.url, "127.0.0.1") : env;
  const dispatcher = createDispatcher({ proxy: true, env: resolved });
  cleanups.push(() => dispatcher.close());
  const comms = createCommsClient({ baseUrl: target.url, apiVersion: "v1", accountSid: ACCOUNT, username: ACCOUNT, password: "tok", dispatcher });
  const legacy = createLegacyReader({ accountSid: ACCOUNT, username: ACCOUNT, password: "tok", baseUrl: target.url, dispatcher });
  await expect(comms.list()).resolves.toHaveLength(1);
  await expect(legacy.listAll()).resolves.toHaveLength(1);
  return { target, proxy };
}

describe("shared dispatcher and proxies", () => {
  it("sends both APIs through HTTP_PROXY", async () => {
    const { target, proxy } = await world((url) => ({ HTTP_PROXY: url }));
    expect(proxy.tunnels.length).toBeGreaterThan(0);
    expect(new Set(proxy.tunnels)).toEqual(new Set([`127.0.0.1:${target.port}`]));
    expect(target.requests.map((r) => r.path).sort()).toEqual(["/v1/Credentials", "/v1/PushNotifications/Credentials"]);
  });

  it("honours the lower-case variable too", async () => {
    const { proxy } = await world((url) => ({ http_proxy: url }));
    expect(proxy.tunnels.length).toBeGreaterThan(0);
  });

  it("goes direct when NO_PROXY covers the host", async () => {
    const { target, proxy } = await world((url, host) => ({ HTTP_PROXY: url, NO_PROXY: `example.test,${host}` }));
    expect(proxy.tunnels).toEqual([]);
    expect(target.requests).toHaveLength(2);
  });

  it("HTTPS_PROXY alone does not capture http:// targets", async () => {
    const { proxy } = await world((url) => ({ HTTPS_PROXY: url }));
    expect(proxy.tunnels).toEqual([]);
  });

  it("ignores the proxy variables when proxying is off", async () => {
    const target = await startLocalServer(api);
    const proxy = await startConnectProxy();
    cleanups.push(() => target.close(), () => proxy.close());
    const dispatcher = createDispatcher({ proxy: false, env: { HTTP_PROXY: proxy.url } });
    cleanups.push(() => dispatcher.close());
    const comms = createCommsClient({ baseUrl: target.url, apiVersion: "v1", accountSid: ACCOUNT, username: ACCOUNT, password: "tok", dispatcher });
    await comms.list();
    expect(proxy.tunnels).toEqual([]);
    expect(target.requests).toHaveLength(1);
  });
});
