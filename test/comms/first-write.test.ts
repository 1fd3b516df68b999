/**
 * The first write of a client goes alone: until it is answered, no other write leaves. A key
 * without write permission then draws a single 403, however many writes the limiter let out.
 */
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { createCommsClient } from "../../src/comms/index.js";
import { WritesStoppedError } from "../../src/errors.js";

const ACC = "AC00000000000000000000000000000000";
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** A server that holds every write's answer until the test releases it; reads answer at once. */
async function heldServer(answer: (n: number, url: string) => { status: number; json: unknown }) {
  const writes: { n: number; res: ServerResponse }[] = [];
  let arrived: () => void = () => {};
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      if (req.method === "GET") return void res.writeHead(200, { "content-type": "application/json" }).end('{"credentials":[]}');
      writes.push({ n: writes.length + 1, res });
      arrived();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  cleanups.push(() => new Promise((r) => server.close(r)));
  return {
    url,
    writes,
    /** Resolves once `count` writes have arrived in all. */
    arrivedAt: (count: number) => new Promise<void>((resolve) => {
      const check = () => (writes.length >= count ? resolve() : (arrived = check));
      check();
    }),
    release(w: { n: number; res: ServerResponse }) {
      const a = answer(w.n, url);
      w.res.writeHead(a.status, { "content-type": "application/json" }).end(JSON.stringify(a.json));
    },
  };
}

const body = { credentialType: "FCM" as const, appName: "a", content: { privateKey: "eyJ9" } };
const id = (n: number) => `comms_credential_${String(n).padStart(26, "0")}`;

describe("the first write", () => {
  it("goes alone: the others leave only once it is answered, then together", async () => {
    const srv = await heldServer((n, url) => ({ status: 202, json: { resourceId: id(n), resourceLocation: `${url}/v1/PushNotifications/Credentials/${id(n)}` } }));
    const client = createCommsClient({ baseUrl: srv.url, apiVersion: "v1", username: ACC, password: "token", accountSid: ACC, sleep: async () => {} });
    cleanups.push(() => client.close());
    const creates = [client.create(body), client.create(body), client.create(body)];
    await srv.arrivedAt(1);
    await client.list(); // a read goes out meanwhile, and by then a second write would have arrived too
    expect(srv.writes).toHaveLength(1);
    srv.release(srv.writes[0]!);
    await srv.arrivedAt(3);
    for (const w of srv.writes.slice(1)) srv.release(w);
    expect((await Promise.all(creates)).map((a) => a.resourceId).sort()).toEqual([id(1), id(2), id(3)]);
  });

  it("answered 403: the writes behind it are refused without being sent", async () => {
    const srv = await heldServer(() => ({ status: 403, json: { code: 20403, message: "Authenticated user is not authorized to perform this action" } }));
    const client = createCommsClient({ baseUrl: srv.url, apiVersion: "v1", username: ACC, password: "token", accountSid: ACC, sleep: async () => {} });
    cleanups.push(() => client.close());
    const creates = [client.create(body), client.create(body), client.delete(id(9))].map((p) => p.catch((e: unknown) => e));
    await srv.arrivedAt(1);
    srv.release(srv.writes[0]!);
    const [first, ...rest] = await Promise.all(creates);
    expect((first as Error).message).toMatch(/lacks write permission/);
    for (const e of rest) expect(e).toBeInstanceOf(WritesStoppedError);
    expect(srv.writes).toHaveLength(1);
  });

  it("whose answer is lost still lets the others go", async () => {
    const srv = await heldServer((n, url) => ({ status: 202, json: { resourceId: id(n), resourceLocation: `${url}/v1/PushNotifications/Credentials/${id(n)}` } }));
    const client = createCommsClient({ baseUrl: srv.url, apiVersion: "v1", username: ACC, password: "token", accountSid: ACC, sleep: async () => {} });
    cleanups.push(() => client.close());
    const first = client.create(body).catch((e: unknown) => e);
    await srv.arrivedAt(1);
    const second = client.create(body);
    srv.writes[0]!.res.socket?.destroy();
    expect(await first).toBeInstanceOf(Error);
    await srv.arrivedAt(2);
    srv.release(srv.writes[1]!);
    expect((await second).resourceId).toBe(id(2));
  });
});
