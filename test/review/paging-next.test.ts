/**
 * A Comms list page whose `pagination.next` cannot be followed must not end the list quietly: a
 * credential on the pages not read would look deleted, and the next apply would create it again.
 */
import { afterEach, describe, expect, it } from "vitest";
import { createCommsClient } from "../../src/comms/index.js";
import { startLocalServer } from "../comms/local-server.js";

const ACC = "AC00000000000000000000000000000000";
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

const credential = { id: "comms_credential_00000000000000000000000001", appName: "a", credentialType: "APN", isDefault: true, createdAt: "2026-01-01T00:00:00Z", updatedAt: "2026-01-01T00:00:00Z" };

async function clientAnswering(pagination: unknown) {
  const server = await startLocalServer(() => ({ status: 200, json: { credentials: [credential], apps: [{ name: "a", isDefault: true }], pagination } }));
  const client = createCommsClient({ baseUrl: server.url, apiVersion: "v1", username: ACC, password: "token", accountSid: ACC, sleep: async () => {}, random: () => 0.5 });
  cleanups.push(() => server.close(), () => client.close());
  return client;
}

describe("a list page's pagination.next", () => {
  it.each([[{ next: 2 }], [{ next: { token: "x" } }], [{ next: ["p2"] }], ["next-page"]])("that is not text (%j) is an error, never the end of the list", async (pagination) => {
    const client = await clientAnswering(pagination);
    await expect(client.list()).rejects.toThrow(/pagination\.next is not text: the list cannot be read in full/);
    await expect(client.listApps()).rejects.toThrow(/pagination\.next is not text: the list cannot be read in full/);
  });

  it.each([[undefined], [null], [{}], [{ next: null }], [{ next: "" }]])("that is absent, null or empty (%j) ends the list", async (pagination) => {
    const client = await clientAnswering(pagination);
    expect((await client.list()).map((c) => c.id)).toEqual([credential.id]);
    expect((await client.listApps()).map((a) => a.name)).toEqual(["a"]);
  });
});
