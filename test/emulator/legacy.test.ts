import { request } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { generateLegacyCredentials, SAMPLE_SEED, startEmulator, type Emulator, type Seed } from "../../src/emulator/index.js";
import { basic, client } from "./helpers.js";

let em: Emulator | undefined;
afterEach(async () => {
  await em?.close();
  em = undefined;
});

const RECORD_KEYS = ["account_sid", "date_created", "date_updated", "friendly_name", "sandbox", "sid", "type", "url"];

describe("legacy Conversations Credentials API", () => {
  it("lists the sample credentials with the documented fields, sandbox verbatim, absolute urls", async () => {
    em = await startEmulator();
    const res = await client(em).get("/v1/Credentials");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/application\/json/);
    const { credentials, meta } = res.json;
    expect(credentials.map((c: { sid: string }) => c.sid)).toEqual(SAMPLE_SEED.legacyCredentials.map((c) => c.sid));
    for (const c of credentials) expect(Object.keys(c).sort()).toEqual(RECORD_KEYS);
    expect(credentials.map((c: { sandbox: unknown }) => c.sandbox)).toEqual(["False", "True", null, null, "true", "false"]);
    expect(credentials[4].friendly_name).toBeNull();
    expect(credentials[0]).toMatchObject({
      sid: "CR00000000000000000000000000000001",
      account_sid: "AC00000000000000000000000000000000",
      friendly_name: "Limonade iOS (production)",
      type: "apn",
      url: `${em.url}/v1/Credentials/CR00000000000000000000000000000001`,
    });
    expect(meta).toEqual({
      page: 0,
      page_size: 50,
      first_page_url: `${em.url}/v1/Credentials?PageSize=50&Page=0`,
      previous_page_url: null,
      url: `${em.url}/v1/Credentials?PageSize=50&Page=0`,
      next_page_url: null,
      key: "credentials",
    });
  });

  it("pages across 3+ pages by following next_page_url verbatim, and back with previous_page_url", async () => {
    const generated = generateLegacyCredentials(25);
    // A partial seed: account and token default to SAMPLE_SEED's.
    const seed: Seed = { legacyCredentials: generated };
    em = await startEmulator({ seed });
    expect(em.accountSid).toBe(SAMPLE_SEED.accountSid);
    const c = client(em);
    const pages: { credentials: { sid: string }[]; meta: Record<string, unknown> }[] = [];
    let next: string | null = `${em.url}/v1/Credentials?PageSize=10`;
    while (next) {
      const res = await c.get(next);
      expect(res.status).toBe(200);
      pages.push(res.json);
      next = res.json.meta.next_page_url;
    }
    expect(pages.map((p) => p.credentials.length)).toEqual([10, 10, 5]);
    expect(pages.map((p) => p.meta.page)).toEqual([0, 1, 2]);
    const sids = pages.flatMap((p) => p.credentials.map((x) => x.sid));
    expect(sids).toEqual(generated.map((x) => x.sid).sort());
    expect(pages[1]?.meta.next_page_url).toMatch(new RegExp(`^${em.url}/v1/Credentials\\?PageSize=10&Page=2&PageToken=`));

    const back = await c.get(pages[2]?.meta.previous_page_url as string);
    expect(back.json.credentials.map((x: { sid: string }) => x.sid)).toEqual(pages[1]?.credentials.map((x) => x.sid));
    expect(pages[0]?.meta.previous_page_url).toBeNull();
  });

  it("builds page URLs from the request's Host header", async () => {
    em = await startEmulator();
    const port = em.port;
    const auth = basic(em.accountSid, em.authToken);
    const body = await new Promise<string>((resolve, reject) => {
      const req = request(
        { host: "127.0.0.1", port, path: "/v1/Credentials?PageSize=2", headers: { host: `twilio.test:${port}`, authorization: auth } },
        (res) => {
          let text = "";
          res.on("data", (d: Buffer) => (text += d.toString()));
          res.on("end", () => resolve(text));
        },
      );
      req.on("error", reject);
      req.end();
    });
    const json = JSON.parse(body);
    expect(json.meta.next_page_url).toMatch(new RegExp(`^http://twilio\\.test:${port}/v1/Credentials\\?`));
    expect(json.credentials[0].url).toBe(`http://twilio.test:${port}/v1/Credentials/CR00000000000000000000000000000001`);
  });

  it("rejects PageSize above 100 with 20007, and bad sizes, pages and tokens with 400", async () => {
    em = await startEmulator();
    const c = client(em);
    const big = await c.get("/v1/Credentials?PageSize=101");
    expect(big.status).toBe(400);
    expect(big.json).toMatchObject({ code: 20007, status: 400, more_info: "https://www.twilio.com/docs/errors/20007" });
    expect((await c.get("/v1/Credentials?PageSize=100")).status).toBe(200);
    for (const bad of ["0", "-1", "abc", "1.5"]) {
      const r = await c.get(`/v1/Credentials?PageSize=${bad}`);
      expect(r.status, bad).toBe(400);
      expect(r.json.code).toBe(20001);
    }
    expect((await c.get("/v1/Credentials?Page=x")).status).toBe(400);
    for (const token of ["garbage", "PAnot-a-sid", "PX" + Buffer.from("CR00000000000000000000000000000001").toString("base64url")]) {
      const r = await c.get(`/v1/Credentials?PageToken=${token}`);
      expect(r.status, token).toBe(400);
      expect(r.json).toMatchObject({ code: 21481, status: 400 });
    }
  });

  it("authenticates with the auth token or an API key, and answers 401 with code 20003 otherwise", async () => {
    em = await startEmulator();
    expect((await client(em).get("/v1/Credentials")).status).toBe(200);
    expect((await client(em, basic("SK00000000000000000000000000000000", "emulator-api-secret")).get("/v1/Credentials")).status).toBe(200);
    const expected = { code: 20003, message: "Authenticate", more_info: "https://www.twilio.com/docs/errors/20003", status: 401 };
    for (const auth of [
      basic(em.accountSid, "wrong"),
      basic("SK00000000000000000000000000000000", "wrong"),
      basic("AC11111111111111111111111111111111", "emulator-auth-token"),
      "Bearer x",
      "",
    ]) {
      const r = await client(em, auth).get("/v1/Credentials");
      expect(r.status).toBe(401);
      expect(r.json).toEqual(expected);
    }
    const noHeader = await fetch(`${em.url}/v1/Credentials`);
    expect(noHeader.status).toBe(401);
    expect(await noHeader.json()).toEqual(expected);
  });

  it("fetches one credential, 404s unknown and malformed sids", async () => {
    em = await startEmulator();
    const c = client(em);
    const one = await c.get("/v1/Credentials/CR00000000000000000000000000000003");
    expect(one.status).toBe(200);
    expect(one.json).toMatchObject({ sid: "CR00000000000000000000000000000003", type: "fcm", sandbox: null, friendly_name: "Limonade Android" });
    for (const sid of ["CR0000000000000000000000000000ffff", "CR123", "XX00000000000000000000000000000001"]) {
      const r = await c.get(`/v1/Credentials/${sid}`);
      expect(r.status).toBe(404);
      expect(r.json).toMatchObject({ code: 20404, status: 404 });
    }
  });

  it("creates (201, case-insensitive Type), updates (200) and deletes (204), never returning secrets", async () => {
    em = await startEmulator();
    const c = client(em);
    const created = await c.form("/v1/Credentials", {
      Type: "ApN",
      FriendlyName: "New app",
      Certificate: "-----BEGIN CERTIFICATE-----\nSECRETCERT\n-----END CERTIFICATE-----",
      PrivateKey: "-----BEGIN RSA PRIVATE KEY-----\nSECRETKEY\n-----END RSA PRIVATE KEY-----",
      Sandbox: "true",
    });
    expect(created.status).toBe(201);
    expect(Object.keys(created.json).sort()).toEqual(RECORD_KEYS);
    expect(created.json).toMatchObject({ type: "apn", friendly_name: "New app", sandbox: "True", account_sid: em.accountSid });
    expect(created.json.sid).toMatch(/^CR[0-9a-f]{32}$/);
    expect(created.text).not.toMatch(/SECRET/);
    const sid: string = created.json.sid;
    expect(em.state.legacy.get(sid)?.secrets.privateKey).toContain("SECRETKEY");

    const fcm = await c.form("/v1/Credentials", { Type: "FcM", Secret: "server-key-SECRET" });
    expect(fcm.status).toBe(201);
    expect(fcm.json).toMatchObject({ type: "fcm", sandbox: null, friendly_name: null });
    expect(fcm.text).not.toMatch(/SECRET/);

    const listed = await c.get("/v1/Credentials");
    expect(listed.json.credentials.map((x: { sid: string }) => x.sid)).toContain(sid);
    expect(listed.text).not.toMatch(/SECRET/);

    const updated = await c.form(`/v1/Credentials/${sid}`, { FriendlyName: "Renamed", Sandbox: "False" });
    expect(updated.status).toBe(200);
    expect(updated.json).toMatchObject({ sid, friendly_name: "Renamed", sandbox: "False", type: "apn" });

    const deleted = await c.del(`/v1/Credentials/${sid}`);
    expect(deleted.status).toBe(204);
    expect(deleted.text).toBe("");
    expect((await c.get(`/v1/Credentials/${sid}`)).status).toBe(404);
    expect((await c.del(`/v1/Credentials/${sid}`)).status).toBe(404);
  });

  it("validates create parameters", async () => {
    em = await startEmulator();
    const c = client(em);
    const cases: Record<string, string>[] = [{ FriendlyName: "no type" }, { Type: "webpush" }, { Type: "apn", FriendlyName: "x".repeat(65) }, { Type: "apn", Sandbox: "maybe" }];
    for (const form of cases) {
      const r = await c.form("/v1/Credentials", form);
      expect(r.status, JSON.stringify(form)).toBe(400);
      expect(r.json).toMatchObject({ code: 20001, status: 400 });
    }
    expect(em.state.legacy.size).toBe(SAMPLE_SEED.legacyCredentials.length);
  });
});
