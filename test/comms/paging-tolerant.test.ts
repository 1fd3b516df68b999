/** Comms list: bounded paging and tolerant reading of optional fields. */
import { afterEach, describe, expect, it } from "vitest";
import { createCommsClient, toCommsCredential } from "../../src/comms/index.js";
import { COMMS_MAX_PAGES } from "../../src/limits.js";
import { startLocalServer, type Reply, type SeenRequest } from "./local-server.js";

const ACCOUNT = "AC11111111111111111111111111111111";
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const credential = (n: number) => ({ id: `comms_credential_${n}`, appName: "app", credentialType: "FCM", isDefault: false, createdAt: "2024-01-01T00:00:00Z" });

async function setup(handler: (req: SeenRequest, i: number) => Reply, maxPages?: number) {
  const server = await startLocalServer(handler);
  const client = createCommsClient({ baseUrl: server.url, apiVersion: "v1", accountSid: ACCOUNT, username: ACCOUNT, password: "t", ...(maxPages ? { maxPages } : {}) });
  cleanups.push(() => server.close(), () => client.close());
  return { server, client };
}

describe("Comms list paging bounds", () => {
  it("the default budget is generous (100 pages of 1000)", () => {
    expect(COMMS_MAX_PAGES).toBe(100);
  });

  it("stops an endless pager at the page budget", async () => {
    const { server, client } = await setup((_req, i) => ({ status: 200, json: { credentials: [credential(i)], pagination: { next: `token${i}` } } }), 5);
    await expect(client.list()).rejects.toThrow("Comms API paging stopped: more than 5 pages");
    expect(server.requests).toHaveLength(5);
  });

  it("stops on an empty page that still names a next page", async () => {
    const { server, client } = await setup((_req, i) => ({ status: 200, json: { credentials: [], pagination: { next: `token${i}` } } }));
    await expect(client.list()).rejects.toThrow("an empty page still names a next page");
    expect(server.requests).toHaveLength(1);
  });

  it("stops on a repeated token", async () => {
    const { server, client } = await setup((_req, i) => ({ status: 200, json: { credentials: [credential(i)], pagination: { next: "same" } } }));
    await expect(client.list()).rejects.toThrow("paging loops");
    expect(server.requests).toHaveLength(2);
  });

  it("reads exactly the budget when the last page ends the list", async () => {
    const { client } = await setup((_req, i) => ({ status: 200, json: { credentials: [credential(i)], pagination: i < 2 ? { next: `t${i}` } : {} } }), 3);
    expect(await client.list()).toHaveLength(3);
  });
});

describe("Comms list tolerant reading", () => {
  it("an answer without a credentials array is an empty page", async () => {
    const { client } = await setup(() => ({ status: 200, json: { pagination: {} } }));
    expect(await client.list()).toEqual([]);
  });

  it("keeps credentials missing optional fields, marked incomplete; ignores unknown fields", async () => {
    const { client } = await setup(() => ({
      status: 200,
      json: {
        credentials: [
          { ...credential(1), surprise: { nested: true } },
          { appName: "no_id", credentialType: "APN" },
          { appName: "no_id_either", credentialType: "APN" },
          { id: "comms_credential_2", credentialType: 7 },
          "not even an object",
        ],
        extra: "ignored",
      },
    }));
    const list = await client.list();
    expect(list).toHaveLength(5);
    expect(list[0]).toEqual({ id: "comms_credential_1", appName: "app", credentialType: "FCM", isDefault: false, createdAt: "2024-01-01T00:00:00Z", updatedAt: "" });
    expect(list.find((c) => c.id === "comms_credential_2")).toMatchObject({ appName: "", credentialType: "", missing: ["appName", "credentialType"] });
    expect(list.filter((c) => c.id === "").map((c) => c.missing)).toEqual([["id"], ["id"], ["id", "appName", "credentialType"]]);
  });

  it("toCommsCredential marks nothing on a complete credential", () => {
    expect(toCommsCredential(credential(3))).not.toHaveProperty("missing");
  });
});
