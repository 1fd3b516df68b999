/** The runtime makes one proxy-aware dispatcher for both APIs, and never proxies the emulator. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openRuntime } from "../../src/cli/runtime.js";
import { startLocalServer, type Reply, type SeenRequest } from "../comms/local-server.js";
import { startConnectProxy } from "../support/hostile.js";

const ACCOUNT = "AC11111111111111111111111111111111";
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

function api(req: SeenRequest): Reply {
  if (req.path === "/v1/Credentials") return { status: 200, json: { credentials: [], meta: { key: "credentials", next_page_url: null } } };
  return { status: 200, json: { credentials: [] } };
}

async function setup() {
  const dir = mkdtempSync(join(tmpdir(), "cr2comms-proxy-"));
  const proxy = await startConnectProxy();
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }), () => proxy.close());
  return { dir, proxy };
}

describe("runtime dispatcher", () => {
  it("sends both APIs through HTTP_PROXY from the environment", async () => {
    const { dir, proxy } = await setup();
    const target = await startLocalServer(api);
    cleanups.push(() => target.close());
    const env = { HTTP_PROXY: proxy.url, TWILIO_ACCOUNT_SID: ACCOUNT, TWILIO_AUTH_TOKEN: "tok" };
    const rt = await openRuntime({ conversationsUrl: target.url, commsUrl: target.url, reportsDir: dir, ledger: join(dir, "ledger.jsonl"), logLevel: "error" }, env);
    try {
      await rt.legacy.listAll();
      await rt.comms.list();
    } finally {
      await rt.close();
    }
    expect(proxy.tunnels.length).toBeGreaterThan(0);
    expect(target.requests).toHaveLength(2);
  });

  it("never proxies the embedded emulator", async () => {
    const { dir, proxy } = await setup();
    const rt = await openRuntime({ emulator: true, reportsDir: dir, ledger: join(dir, "ledger.jsonl"), logLevel: "error" }, { HTTP_PROXY: proxy.url });
    try {
      expect((await rt.legacy.listAll()).length).toBeGreaterThan(0);
      await rt.comms.list();
    } finally {
      await rt.close();
    }
    expect(proxy.tunnels).toEqual([]);
  });
});
