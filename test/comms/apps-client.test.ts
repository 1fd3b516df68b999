/** Comms client: Apps (list, fetch, set the default App) and counting an App's device registrations. */
import { afterEach, describe, expect, it } from "vitest";
import { createCommsClient, toCommsApp } from "../../src/comms/index.js";
import { SAMPLE_SEED, startEmulator, type Emulator, type Seed } from "../../src/emulator/index.js";
import { startLocalServer, type Reply, type SeenRequest } from "./local-server.js";

const ACCOUNT = "AC11111111111111111111111111111111";
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function emulated(seed: Seed) {
  const em: Emulator = await startEmulator({ seed });
  const client = createCommsClient({ baseUrl: em.url, apiVersion: "v1", accountSid: em.accountSid, username: em.accountSid, password: em.authToken, pageSize: 2 });
  cleanups.push(() => em.close(), () => client.close());
  return { em, client };
}

async function scripted(handler: (req: SeenRequest, i: number) => Reply) {
  const server = await startLocalServer(handler);
  const client = createCommsClient({ baseUrl: server.url, apiVersion: "v1", accountSid: ACCOUNT, username: ACCOUNT, password: "t" });
  cleanups.push(() => server.close(), () => client.close());
  return { server, client };
}

const seed = {
  ...SAMPLE_SEED,
  commsCredentials: [
    { appName: "a_one", credentialType: "FCM" as const, createdAt: "2024-01-01T00:00:00Z" },
    { appName: "a_two", credentialType: "APN" as const, createdAt: "2024-01-02T00:00:00Z" },
    { appName: "a_three", credentialType: "APN" as const, createdAt: "2024-01-03T00:00:00Z" },
  ],
  deviceRegistrations: [
    { appName: "a_two", token: "t", provider: "APN" as const, count: 5 },
    { appName: "a_one", token: "o", provider: "FCM" as const, count: 2 },
  ],
};

describe("Comms client: Apps", () => {
  it("lists every App across pages, with the default App marked", async () => {
    const { em, client } = await emulated(seed);
    const apps = await client.listApps();
    expect(apps.map((a) => [a.name, a.isDefault])).toEqual([
      ["a_one", true],
      ["a_two", false],
      ["a_three", false],
    ]);
    expect(em.requests.filter((r) => r.path.endsWith("/Apps"))).toHaveLength(2);
  });

  it("sets the default App with one PATCH {isDefault: true} and reads it back; fetchApp is null for an unknown App", async () => {
    const { em, client } = await emulated(seed);
    const accepted = await client.setDefaultApp("a_three");
    expect(accepted.resourceId).toBe("a_three");
    const patches = em.requests.filter((r) => r.method === "PATCH");
    expect(patches.map((r) => r.path)).toEqual(["/v1/PushNotifications/Apps/a_three"]);
    expect((await client.fetchApp("a_three"))?.isDefault).toBe(true);
    expect((await client.fetchApp("a_one"))?.isDefault).toBe(false);
    expect(await client.fetchApp("nope")).toBeNull();
    expect(client.stats.byKind["patch-app"]).toBe(1);
  });

  it("counts an App's device registrations across pages, and 0 for an App without any", async () => {
    const { em, client } = await emulated(seed);
    expect(await client.countDeviceRegistrations("a_two")).toBe(5);
    expect(await client.countDeviceRegistrations("a_one")).toBe(2);
    expect(await client.countDeviceRegistrations("a_three")).toBe(0);
    const lists = em.requests.filter((r) => r.path.endsWith("/DeviceRegistrations"));
    expect(lists.every((r) => r.query.appName !== undefined)).toBe(true);
  });

  it("reads tolerantly: an App without a name is left out, a missing isDefault is false, a missing apps key is no Apps", async () => {
    expect(toCommsApp({ isDefault: true })).toBeUndefined();
    expect(toCommsApp({ name: "x" })).toEqual({ name: "x", isDefault: false, createdAt: "", updatedAt: "" });
    const { client } = await scripted((req) =>
      req.path.endsWith("/Apps")
        ? { status: 200, json: { apps: [{ name: "ok", isDefault: true }, { isDefault: false }, "junk"], pagination: { next: null } } }
        : { status: 200, json: { pagination: {} } },
    );
    expect(await client.listApps()).toEqual([{ name: "ok", isDefault: true, createdAt: "", updatedAt: "" }]);
    expect(await client.countDeviceRegistrations("ok")).toBe(0);
  });

  it("counts only the App's registrations when the server ignores the filter, and each id once", async () => {
    const { client } = await scripted((req) => {
      const token = req.query.get("pageToken");
      if (!token) return { status: 200, json: { deviceRegistrations: [{ id: "r1", appName: "mine" }, { id: "r2", appName: "other" }], pagination: { next: "p2" } } };
      return { status: 200, json: { deviceRegistrations: [{ id: "r1", appName: "mine" }, { id: "r3", appName: "mine" }], pagination: { next: null } } };
    });
    expect(await client.countDeviceRegistrations("mine")).toBe(2);
  });

  it("stops a registrations pager that loops", async () => {
    const { client } = await scripted(() => ({ status: 200, json: { deviceRegistrations: [{ id: "r" }], pagination: { next: "same" } } }));
    await expect(client.countDeviceRegistrations("mine")).rejects.toThrow(/paging loops/);
  });
});
