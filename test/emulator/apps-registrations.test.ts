import { afterEach, describe, expect, it } from "vitest";
import { SAMPLE_SEED, startEmulator, validateSeed, type Emulator } from "../../src/emulator/index.js";
import { apnBody, client, CREDS, fcmBody } from "./helpers.js";

let em: Emulator | undefined;
afterEach(async () => {
  await em?.close();
  em = undefined;
});

const APPS = "/v1/PushNotifications/Apps";
const REGS = "/v1/PushNotifications/DeviceRegistrations";
const empty = { ...SAMPLE_SEED, commsCredentials: [] };

describe("Comms Apps: default App", () => {
  it("makes the first App created the default, and PATCH {isDefault: true} moves it (202 + resourceId/resourceLocation)", async () => {
    em = await startEmulator({ seed: empty });
    const c = client(em);
    await c.post(CREDS, fcmBody("first_app"));
    await c.post(CREDS, apnBody("second_app"));
    const before = await c.get(APPS);
    expect(before.json.apps.map((a: { name: string; isDefault: boolean }) => [a.name, a.isDefault])).toEqual([
      ["first_app", true],
      ["second_app", false],
    ]);

    const res = await c.patch(`${APPS}/second_app`, { isDefault: true });
    expect(res.status).toBe(202);
    expect(res.json).toEqual({ resourceId: "second_app", resourceLocation: `${em.url}${APPS}/second_app` });
    expect(res.headers.get("location")).toBe(res.json.resourceLocation);
    expect((await c.get(`${APPS}/second_app`)).json.isDefault).toBe(true);
    expect((await c.get(`${APPS}/first_app`)).json.isDefault).toBe(false);
    // Setting it again changes nothing.
    expect((await c.patch(`${APPS}/second_app`, { isDefault: true })).status).toBe(202);
    expect(em.state.defaultApp()?.name).toBe("second_app");
  });

  it("validates the PATCH body and the App name: 400 for other fields or false, 404 for an unknown App", async () => {
    em = await startEmulator({ seed: empty });
    const c = client(em);
    await c.post(CREDS, fcmBody("only_app"));
    expect((await c.patch(`${APPS}/only_app`, { isDefault: false })).status).toBe(400);
    expect((await c.patch(`${APPS}/only_app`, { isDefault: "yes" })).status).toBe(400);
    expect((await c.patch(`${APPS}/only_app`, { isDefault: true, name: "x" })).status).toBe(400);
    expect((await c.patch(`${APPS}/only_app`, "[]")).status).toBe(400);
    const missing = await c.patch(`${APPS}/nope`, { isDefault: true });
    expect(missing.status).toBe(404);
    expect(missing.json.errors[0].code).toBe(20404);
    expect((await c.call("DELETE", `${APPS}/only_app`)).status).toBe(405);
    expect((await c.post(APPS, { name: "new" })).status).toBe(405);
  });

  it("pages the Apps list with pageSize and pageToken", async () => {
    em = await startEmulator({ seed: empty });
    const c = client(em);
    for (const name of ["a1", "a2", "a3"]) await c.post(CREDS, fcmBody(name));
    const first = await c.get(`${APPS}?pageSize=2`);
    expect(first.json.apps.map((a: { name: string }) => a.name)).toEqual(["a1", "a2"]);
    const second = await c.get(`${APPS}?pageSize=2&pageToken=${first.json.pagination.next}`);
    expect(second.json.apps.map((a: { name: string }) => a.name)).toEqual(["a3"]);
    expect(second.json.pagination.next).toBeNull();
    expect((await c.get(`${APPS}?pageSize=0`)).status).toBe(400);
    expect((await c.get(`${APPS}?pageToken=%%%`)).status).toBe(400);
  });

  it("when the default App is deleted with its last credential, the next oldest App becomes the default", async () => {
    em = await startEmulator({ seed: empty });
    const c = client(em);
    const a = await c.post(CREDS, fcmBody("gone_app"));
    await c.post(CREDS, fcmBody("kept_app"));
    await c.del(`${CREDS}/${a.json.resourceId}`);
    expect((await c.get(`${APPS}/gone_app`)).status).toBe(404);
    expect((await c.get(`${APPS}/kept_app`)).json.isDefault).toBe(true);
  });
});

describe("Comms Device Registrations", () => {
  it("registers under an existing App only (202), fetches, lists by appName with paging, and deletes", async () => {
    em = await startEmulator({ seed: empty });
    const c = client(em);
    await c.post(CREDS, fcmBody("android"));
    await c.post(CREDS, apnBody("ios"));
    const refused = await c.post(REGS, { appName: "nope", token: "t", provider: "FCM" });
    expect(refused.status).toBe(400);
    expect(refused.text).toMatch(/does not exist/);
    expect((await c.post(REGS, { appName: "android", token: "t", provider: "GCM" })).status).toBe(400);
    expect((await c.post(REGS, { appName: "android", provider: "FCM" })).status).toBe(400);
    expect((await c.post(REGS, { appName: "android", token: "t", provider: "FCM", extra: 1 })).status).toBe(400);

    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await c.post(REGS, { appName: "android", token: `tok${i}`, provider: "FCM" });
      expect(r.status).toBe(202);
      expect(r.json.resourceId).toMatch(/^comms_device_registration_[0-9a-hjkmnp-tv-z]{26}$/);
      ids.push(r.json.resourceId);
    }
    await c.post(REGS, { appName: "ios", token: "ios0", provider: "APN" });

    const one = await c.get(`${REGS}/${ids[0]}`);
    expect(one.status).toBe(200);
    expect(one.json).toMatchObject({ id: ids[0], appName: "android", devices: [{ token: "tok0", provider: "FCM" }] });
    expect(one.json.userId).toMatch(/^comms_pushnotificationuser_[0-7]/);

    const seen: string[] = [];
    let url: string | null = `${REGS}?appName=android&pageSize=2`;
    let pages = 0;
    while (url) {
      const page = await c.get(url);
      expect(page.status).toBe(200);
      pages++;
      seen.push(...page.json.deviceRegistrations.map((r: { id: string }) => r.id));
      const next: string | null = page.json.pagination.next;
      url = next ? `${REGS}?appName=android&pageSize=2&pageToken=${next}` : null;
    }
    expect(pages).toBe(3);
    expect(seen).toEqual(ids);
    expect((await c.get(`${REGS}?appName=Bad-Name`)).status).toBe(400);

    expect((await c.del(`${REGS}/${ids[0]}`)).status).toBe(202);
    expect((await c.get(`${REGS}/${ids[0]}`)).status).toBe(404);
    expect((await c.del(`${REGS}/${ids[0]}`)).status).toBe(404);
  });

  it("deletes an App's registrations with its last credential (the cascade), and only that App's", async () => {
    em = await startEmulator({ seed: empty });
    const c = client(em);
    const android = await c.post(CREDS, fcmBody("android"));
    await c.post(CREDS, apnBody("ios"));
    await c.post(REGS, { appName: "android", token: "a", provider: "FCM" });
    await c.post(REGS, { appName: "ios", token: "i", provider: "APN" });
    await c.del(`${CREDS}/${android.json.resourceId}`);
    const left = await c.get(REGS);
    expect(left.json.deviceRegistrations.map((r: { appName: string }) => r.appName)).toEqual(["ios"]);
    // The App is gone, so a new registration under it is refused.
    expect((await c.post(REGS, { appName: "android", token: "a", provider: "FCM" })).status).toBe(400);
  });

  it("seeds registrations (with count) and the default App; the seed is validated", async () => {
    em = await startEmulator({
      seed: {
        ...empty,
        commsCredentials: [
          { appName: "old_app", credentialType: "FCM", createdAt: "2024-01-01T00:00:00Z" },
          { appName: "new_app", credentialType: "APN", createdAt: "2024-02-01T00:00:00Z" },
        ],
        defaultApp: "new_app",
        deviceRegistrations: [{ appName: "new_app", token: "tok", provider: "APN", count: 1204 }],
      },
    });
    expect(em.state.defaultApp()?.name).toBe("new_app");
    expect([...em.state.registrations.values()].filter((r) => r.appName === "new_app")).toHaveLength(1204);
    expect(() => validateSeed({ defaultApp: "nowhere" })).toThrow(/defaultApp: nowhere is not an App/);
    expect(() => validateSeed({ deviceRegistrations: [{ appName: "nowhere", token: "t", provider: "APN" }] })).toThrow(/App nowhere does not exist/);
  });
});
