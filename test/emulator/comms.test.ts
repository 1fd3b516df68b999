import { afterEach, describe, expect, it } from "vitest";
import { SAMPLE_SEED, startEmulator, type Emulator } from "../../src/emulator/index.js";
import { APN_CONTENT, apnBody, basic, client, CREDS, eventually, FCM_CONTENT, fcmBody } from "./helpers.js";

let em: Emulator | undefined;
afterEach(async () => {
  await em?.close();
  em = undefined;
});

const ID = /^comms_credential_[0-9a-hjkmnp-tv-z]{26}$/;
const FIELDS = ["appName", "createdAt", "credentialType", "id", "isDefault", "updatedAt"];
const b64 = (s: string) => Buffer.from(s).toString("base64");
const empty = { ...SAMPLE_SEED, commsCredentials: [] };

describe("Comms Push Notifications Credentials API", () => {
  it("creates with 202 {resourceId, resourceLocation} + Location, then GET shows the six fields only", async () => {
    em = await startEmulator();
    const c = client(em);
    const res = await c.post(CREDS, apnBody("limonade_ios"));
    expect(res.status).toBe(202);
    expect(Object.keys(res.json).sort()).toEqual(["resourceId", "resourceLocation"]);
    expect(res.json.resourceId).toMatch(ID);
    expect(res.json.resourceLocation).toBe(`${em.url}${CREDS}/${res.json.resourceId}`);
    expect(res.headers.get("location")).toBe(res.json.resourceLocation);

    const got = await c.get(res.json.resourceLocation);
    expect(got.status).toBe(200);
    expect(Object.keys(got.json).sort()).toEqual(FIELDS);
    expect(got.json).toMatchObject({ id: res.json.resourceId, appName: "limonade_ios", credentialType: "APN", isDefault: true });
    expect(Date.parse(got.json.createdAt)).not.toBeNaN();
    expect(got.text).not.toContain(APN_CONTENT.privateKey);
    expect(em.state.comms.get(res.json.resourceId)?.content).toEqual(APN_CONTENT);

    const list = await c.get(CREDS);
    expect(list.text).not.toContain(APN_CONTENT.certificate);
    for (const x of list.json.credentials) expect(Object.keys(x).sort()).toEqual(FIELDS);
  });

  it("serves the same store under /preview, with locations under /preview", async () => {
    em = await startEmulator({ seed: empty });
    const c = client(em);
    const res = await c.post("/preview/PushNotifications/Credentials", fcmBody("android"));
    expect(res.status).toBe(202);
    expect(res.json.resourceLocation).toBe(`${em.url}/preview/PushNotifications/Credentials/${res.json.resourceId}`);
    expect((await c.get(res.json.resourceLocation)).json.appName).toBe("android");
    expect((await c.get(`${CREDS}/${res.json.resourceId}`)).status).toBe(200);
    const list = await c.get("/preview/PushNotifications/Credentials");
    expect(list.json.credentials.map((x: { id: string }) => x.id)).toEqual([res.json.resourceId]);
    const patched = await c.patch(`/preview/PushNotifications/Credentials/${res.json.resourceId}`, { isDefault: false });
    expect(patched.status).toBe(202);
    expect(patched.headers.get("location")).toContain("/preview/PushNotifications/Credentials/");
  });

  it("rejects invalid bodies with 400 in the Comms error style and stores nothing", async () => {
    em = await startEmulator();
    const c = client(em);
    const cases: [string, unknown, RegExp][] = [
      ["not JSON", "{oops", /JSON object/],
      ["array", [], /JSON object/],
      ["unknown top-level field", apnBody("app", { tags: { a: "b" } }), /Unknown field 'tags'/],
      ["missing credentialType", { appName: "app", content: APN_CONTENT }, /credentialType is required/],
      ["bad credentialType", { credentialType: "GCM", appName: "app", content: APN_CONTENT }, /credentialType must be one of/],
      ["lower-case credentialType", { credentialType: "apn", appName: "app", content: APN_CONTENT }, /credentialType must be one of/],
      ["missing appName", { credentialType: "APN", content: APN_CONTENT }, /appName is required/],
      ["upper-case appName", apnBody("Limonade"), /appName must match/],
      ["long appName", apnBody("a".repeat(65)), /appName must match/],
      ["empty appName", apnBody(""), /appName must match/],
      ["isDefault not boolean", apnBody("app", { isDefault: "yes" }), /isDefault must be a boolean/],
      ["missing content", { credentialType: "APN", appName: "app" }, /content is required/],
      ["APN without privateKey", { credentialType: "APN", appName: "app", content: { certificate: APN_CONTENT.certificate } }, /content.privateKey is required/],
      ["APN_SANDBOX without certificate", { credentialType: "APN_SANDBOX", appName: "app", content: { privateKey: APN_CONTENT.privateKey } }, /content.certificate is required/],
      ["not base64", apnBody("app", { content: { ...APN_CONTENT, certificate: "-----BEGIN CERTIFICATE-----" } }), /base64/],
      ["base64 of non-PEM cert", apnBody("app", { content: { ...APN_CONTENT, certificate: b64("hello") } }), /PEM certificate/],
      ["base64 of non-PEM key", apnBody("app", { content: { ...APN_CONTENT, privateKey: b64("hello") } }), /PEM private key/],
      ["FCM with a certificate", fcmBody("app", { content: { ...FCM_CONTENT, certificate: APN_CONTENT.certificate } }), /content.certificate is not allowed/],
      ["FCM google-services.json", fcmBody("app", { content: { privateKey: b64(JSON.stringify({ project_info: {} })) } }), /service_account/],
      ["FCM server key", fcmBody("app", { content: { privateKey: b64("AAAAserverkey") } }), /service-account JSON/],
    ];
    for (const [name, body, message] of cases) {
      const r = await c.post(CREDS, body);
      expect(r.status, name).toBe(400);
      expect(r.json.errors, name).toBeInstanceOf(Array);
      expect(r.json.errors[0], name).toMatchObject({ code: 20001, infoUrl: expect.stringMatching(/^https:\/\//) });
      expect(r.json.errors.map((e: { message: string }) => e.message).join("; "), name).toMatch(message);
    }
    expect(em.state.comms.size).toBe(1);
    expect(em.state.apps.size).toBe(1);
  });

  it("enforces 10 Apps per account and 10 Credentials per App with distinct messages", async () => {
    em = await startEmulator();
    const c = client(em);
    for (let i = 1; i <= 9; i++) expect((await c.post(CREDS, fcmBody(`app_${i}`))).status).toBe(202);
    expect(em.state.apps.size).toBe(10);
    const eleventh = await c.post(CREDS, fcmBody("app_11"));
    expect(eleventh.status).toBe(400);
    expect(eleventh.json.errors[0].message).toMatch(/maximum of 10 Apps/);
    // An existing App still takes credentials, up to 10.
    for (let i = 2; i <= 10; i++) expect((await c.post(CREDS, apnBody("app_1"))).status, `credential ${i}`).toBe(202);
    expect([...em.state.comms.values()].filter((x) => x.appName === "app_1")).toHaveLength(10);
    const full = await c.post(CREDS, apnBody("app_1"));
    expect(full.status).toBe(400);
    expect(full.json.errors[0].message).toMatch(/App 'app_1'.*maximum of 10 Credentials/);
    expect(full.json.errors[0].message).not.toEqual(eleventh.json.errors[0].message);

    // Deleting an App's last credential deletes the App, which frees a slot.
    const [only] = [...em.state.comms.values()].filter((x) => x.appName === "app_5");
    expect((await c.del(`${CREDS}/${only?.id}`)).status).toBe(202);
    expect(em.state.apps.has("app_5")).toBe(false);
    expect((await c.get("/v1/PushNotifications/Apps/app_5")).status).toBe(404);
    expect((await c.post(CREDS, fcmBody("app_11"))).status).toBe(202);
  });

  it("applies the default rules per (App, type) on create and PATCH", async () => {
    em = await startEmulator({ seed: empty });
    const c = client(em);
    const create = async (body: unknown) => (await c.post(CREDS, body)).json.resourceId as string;
    const isDefault = async (id: string) => (await c.get(`${CREDS}/${id}`)).json.isDefault as boolean;

    const a1 = await create(apnBody("ios"));
    const a2 = await create(apnBody("ios"));
    const s1 = await create(apnBody("ios", { credentialType: "APN_SANDBOX" }));
    const other = await create(apnBody("other"));
    expect([await isDefault(a1), await isDefault(a2), await isDefault(s1), await isDefault(other)]).toEqual([true, false, true, true]);

    const a3 = await create(apnBody("ios", { isDefault: true }));
    expect([await isDefault(a1), await isDefault(a3), await isDefault(s1)]).toEqual([false, true, true]);

    const patched = await c.patch(`${CREDS}/${a2}`, { isDefault: true });
    expect(patched.status).toBe(202);
    expect(patched.json).toEqual({ resourceId: a2, resourceLocation: `${em.url}${CREDS}/${a2}` });
    expect(patched.headers.get("location")).toBe(patched.json.resourceLocation);
    expect([await isDefault(a1), await isDefault(a2), await isDefault(a3), await isDefault(other)]).toEqual([false, true, false, true]);

    expect((await c.patch(`${CREDS}/${a2}`, { isDefault: false })).status).toBe(202);
    expect(await isDefault(a2)).toBe(false);

    for (const bad of [{}, { isDefault: "true" }, { isDefault: true, tags: {} }, { appName: "x" }]) {
      const r = await c.patch(`${CREDS}/${a1}`, bad);
      expect(r.status, JSON.stringify(bad)).toBe(400);
      expect(r.json.errors[0].code).toBe(20001);
    }
    const missing = await c.patch(`${CREDS}/comms_credential_00000000000000000000000000`, { isDefault: true });
    expect(missing.status).toBe(404);
    expect(missing.json.errors[0].code).toBe(20404);
  });

  it("keeps a created credential invisible to GET/list for visibilityDelayMs while it counts toward limits", async () => {
    em = await startEmulator({ seed: empty, visibilityDelayMs: 600_000 });
    const c = client(em);
    const res = await c.post(CREDS, fcmBody("late"));
    expect(res.status).toBe(202);
    const id: string = res.json.resourceId;
    expect((await c.get(res.json.resourceLocation)).status).toBe(404);
    expect((await c.get(CREDS)).json.credentials).toEqual([]);
    expect((await c.patch(`${CREDS}/${id}`, { isDefault: true })).status).toBe(404);
    expect(em.state.commsCredentials().map((x) => x.id)).toEqual([id]);
    for (let i = 0; i < 9; i++) expect((await c.post(CREDS, fcmBody("late"))).status).toBe(202);
    expect((await c.post(CREDS, fcmBody("late"))).json.errors[0].message).toMatch(/maximum of 10 Credentials/);

    const stored = em.state.comms.get(id);
    if (stored) stored.visibleAt = 0;
    expect((await c.get(res.json.resourceLocation)).status).toBe(200);
  });

  it("makes a credential visible once a short delay has passed (polling)", async () => {
    em = await startEmulator({ seed: empty, visibilityDelayMs: 50 });
    const c = client(em);
    const res = await c.post(CREDS, fcmBody("soon"));
    expect(await eventually(async () => (await c.get(res.json.resourceLocation)).status === 200)).toBe(true);
    expect((await c.get(CREDS)).json.credentials.map((x: { id: string }) => x.id)).toEqual([res.json.resourceId]);
  });

  it("lists with filters, in createdAt order, across pages via pageToken", async () => {
    em = await startEmulator({
      seed: { ...SAMPLE_SEED, commsCredentials: [{ appName: "marketing_web", credentialType: "FCM", isDefault: true, createdAt: "2024-01-01T00:00:00Z" }] },
    });
    const c = client(em);
    const before = new Date(Date.now() - 1000).toISOString();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await c.post(CREDS, apnBody("ios"))).json.resourceId);
    ids.push((await c.post(CREDS, apnBody("ios", { credentialType: "APN_SANDBOX" }))).json.resourceId);
    const seeded = em.state.commsCredentials().find((x) => x.appName === "marketing_web");
    expect(seeded).toMatchObject({ credentialType: "FCM", isDefault: true });

    const all = await c.get(CREDS);
    expect(all.json.credentials).toHaveLength(7);
    const created = all.json.credentials.map((x: { createdAt: string }) => x.createdAt);
    expect([...created].sort()).toEqual(created);
    expect(all.json.pagination.next).toBeNull();
    expect(typeof all.json.pagination.self).toBe("string");

    const pageIds: string[] = [];
    let token: string | null = null;
    let pages = 0;
    do {
      const q: string = `appName=ios&pageSize=2${token ? `&pageToken=${encodeURIComponent(token)}` : ""}`;
      const r = await c.get(`${CREDS}?${q}`);
      expect(r.status).toBe(200);
      pageIds.push(...r.json.credentials.map((x: { id: string }) => x.id));
      token = r.json.pagination.next;
      pages++;
    } while (token);
    expect(pages).toBe(3);
    expect(pageIds).toEqual(ids);

    const q = async (query: string) => (await c.get(`${CREDS}?${query}`)).json.credentials.map((x: { id: string }) => x.id);
    expect(await q("credentialType=APN_SANDBOX")).toEqual([ids[5]]);
    expect(await q("appName=ios&isDefault=true")).toEqual([ids[0], ids[5]]);
    expect(await q("isDefault=false")).toEqual(ids.slice(1, 5));
    expect(await q(`startDate=${encodeURIComponent(before)}&appName=ios`)).toEqual(ids);
    expect(await q(`startDate=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)).toEqual([]);
    expect(await q(`endDate=${encodeURIComponent(before)}`)).toEqual([seeded?.id]);
    expect(await q("endDate=2024-01-01T00:00:00Z")).toEqual([]);
    expect(await q("startDate=2024-01-01T00:00:00Z&endDate=2024-01-01T00:00:00.001Z")).toEqual([seeded?.id]);

    for (const bad of ["pageSize=0", "pageSize=1001", "pageSize=abc", "credentialType=apn", "isDefault=yes", "appName=Bad-Name", "startDate=yesterday"]) {
      const r = await c.get(`${CREDS}?${bad}`);
      expect(r.status, bad).toBe(400);
      expect(r.json.errors[0].code, bad).toBe(20001);
    }
    expect((await c.get(`${CREDS}?pageSize=1000`)).status).toBe(200);
    const badToken = await c.get(`${CREDS}?pageToken=nonsense`);
    expect(badToken.status).toBe(400);
    expect(badToken.json.errors[0].code).toBe(21481);
  });

  it("deletes with 202; deleting an App's last credential deletes the App (also out of band)", async () => {
    em = await startEmulator({ seed: empty });
    const c = client(em);
    const a = (await c.post(CREDS, apnBody("ios"))).json.resourceId as string;
    const b = (await c.post(CREDS, fcmBody("ios"))).json.resourceId as string;
    const apps = await c.get("/v1/PushNotifications/Apps");
    expect(apps.json.apps.map((x: { name: string; isDefault: boolean }) => [x.name, x.isDefault])).toEqual([["ios", true]]);

    const del = await c.del(`${CREDS}/${a}`);
    expect(del.status).toBe(202);
    expect(del.json).toEqual({ resourceId: a, resourceLocation: `${em.url}${CREDS}/${a}` });
    expect((await c.get(`${CREDS}/${a}`)).status).toBe(404);
    expect((await c.del(`${CREDS}/${a}`)).status).toBe(404);
    expect((await c.get("/v1/PushNotifications/Apps/ios")).status).toBe(200);

    expect(em.state.deleteComms(b)).toBe(true);
    expect(em.state.apps.has("ios")).toBe(false);
    expect((await c.get("/v1/PushNotifications/Apps/ios")).status).toBe(404);
    expect((await c.get(CREDS)).json.credentials).toEqual([]);

    const added = em.state.addComms({ appName: "pre", credentialType: "APN_SANDBOX" });
    expect(added).toMatchObject({ appName: "pre", credentialType: "APN_SANDBOX", isDefault: true });
    expect((await c.get(`${CREDS}/${added.id}`)).status).toBe(200);
  });

  it("requires Basic auth (token or API key) and answers unknown routes with 404", async () => {
    em = await startEmulator();
    expect((await client(em, basic("SK00000000000000000000000000000000", "emulator-api-secret")).get(CREDS)).status).toBe(200);
    const denied = await client(em, basic(em.accountSid, "nope")).post(CREDS, fcmBody("x"));
    expect(denied.status).toBe(401);
    expect(denied.json.errors[0]).toMatchObject({ code: 20003, message: "Authenticate" });
    expect(em.state.apps.has("x")).toBe(false);
    expect((await client(em).get("/v1/PushNotifications/Nope")).status).toBe(404);
    expect((await client(em).call("PUT", CREDS)).status).toBe(405);
  });
});
