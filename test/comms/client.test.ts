/** The Comms client against the embedded emulator. */
import { afterEach, describe, expect, it } from "vitest";
import type { CredentialType } from "../../src/domain.js";
import { createCommsClient, type CommsClient, type CreateCredentialBody } from "../../src/comms/index.js";
import { SAMPLE_SEED, startEmulator, type Emulator, type EmulatorOptions, type Seed } from "../../src/emulator/index.js";
import { ApiError, AuthError, UnknownOutcomeError } from "../../src/errors.js";

let emulator: Emulator | undefined;
let client: CommsClient | undefined;
afterEach(async () => {
  await client?.close();
  await emulator?.close();
  client = undefined;
  emulator = undefined;
});

const b64 = (s: string) => Buffer.from(s).toString("base64");
const APN: CreateCredentialBody = {
  credentialType: "APN",
  appName: "limonade_ios",
  isDefault: true,
  content: {
    certificate: b64("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"),
    privateKey: b64("-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n"),
  },
};

async function setup(opts: EmulatorOptions = {}, extra: { password?: string; apiVersion?: "v1" | "preview"; pageSize?: number } = {}) {
  emulator = await startEmulator({ port: 0, ...opts });
  const sleeps: number[] = [];
  client = createCommsClient({
    baseUrl: emulator.url,
    apiVersion: extra.apiVersion ?? "v1",
    username: emulator.accountSid,
    password: extra.password ?? emulator.authToken,
    accountSid: emulator.accountSid,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
    pageSize: extra.pageSize,
  });
  return { emulator, client, sleeps };
}

const posts = (e: Emulator) => e.requests.filter((r) => r.method === "POST");

function bigSeed(): Seed {
  const types: CredentialType[] = ["APN", "APN_SANDBOX", "FCM"];
  const commsCredentials = [];
  for (const appName of ["app_a", "app_b", "app_c"]) {
    for (let i = 0; i < 8; i++) commsCredentials.push({ appName, credentialType: types[i % 3]!, isDefault: i < 3 });
  }
  return { ...SAMPLE_SEED, commsCredentials };
}

describe("Comms client (emulator)", () => {
  it("lists every page, with filters passed on each page", async () => {
    const { client, emulator } = await setup({ seed: bigSeed() }, { pageSize: 2 });
    const all = await client.list();
    expect(all).toHaveLength(24);
    expect(new Set(all.map((c) => c.id)).size).toBe(24);
    expect(all.map((c) => c.id).sort()).toEqual(emulator.state.commsCredentials().map((c) => c.id).sort());
    expect(emulator.requests).toHaveLength(12);

    const before = emulator.requests.length;
    const apn = await client.list({ appName: "app_b", credentialType: "APN" });
    expect(apn.map((c) => [c.appName, c.credentialType])).toEqual([
      ["app_b", "APN"],
      ["app_b", "APN"],
      ["app_b", "APN"],
    ]);
    const defaults = await client.list({ appName: "app_c", isDefault: true });
    expect(defaults).toHaveLength(3);
    expect(defaults.every((c) => c.isDefault && c.appName === "app_c")).toBe(true);

    const filtered = emulator.requests.slice(before);
    expect(filtered).toHaveLength(4);
    for (const r of filtered) {
      expect(r.query.pageSize).toBe("2");
      expect(r.query.appName).toMatch(/^app_[bc]$/);
    }
    expect(filtered.map((r) => r.query.credentialType ?? r.query.isDefault)).toEqual(["APN", "APN", "true", "true"]);
    expect(filtered.map((r) => r.query.pageToken !== undefined)).toEqual([false, true, false, true]);
    expect(client.stats.byKind.list).toBe(emulator.requests.length);
  });

  it("create → 202 parsed, then visible at its location; fetch of an unknown id → null", async () => {
    const { client, emulator } = await setup();
    const accepted = await client.create(APN);
    expect(accepted.resourceId).toMatch(/^comms_credential_[0-9a-z]{26}$/);
    expect(accepted.resourceLocation).toBe(`${emulator.url}/v1/PushNotifications/Credentials/${accepted.resourceId}`);
    const fetched = await client.fetchLocation(accepted.resourceLocation);
    expect(fetched).toMatchObject({ id: accepted.resourceId, appName: "limonade_ios", credentialType: "APN", isDefault: true });
    expect(await client.fetch(accepted.resourceId)).toEqual(fetched);
    expect(await client.fetch("comms_credential_0000000000000000000000zzzz")).toBeNull();
    expect(client.stats.byKind).toEqual({ create: 1, fetch: 3 });
  });

  it("a 404 while the create is not visible yet is null, not an error", async () => {
    const { client } = await setup({ visibilityDelayMs: 60_000 });
    const accepted = await client.create(APN);
    expect(await client.fetchLocation(accepted.resourceLocation)).toBeNull();
    expect(await client.list({ appName: "limonade_ios" })).toEqual([]);
  });

  it("retries 429 and 503 on create (not processed), honouring Retry-After", async () => {
    const { client, emulator, sleeps } = await setup({
      faults: {
        retryAfterSeconds: 2,
        script: [
          { method: "POST", kind: "429" },
          { method: "POST", kind: "503" },
        ],
      },
    });
    const accepted = await client.create(APN);
    expect(posts(emulator).map((r) => r.status)).toEqual([429, 503, 202]);
    expect(sleeps).toEqual([2000, 2000]);
    expect(client.stats.retries).toBe(2);
    expect(client.stats.byKind.create).toBe(3);
    expect(emulator.state.commsCredentials().filter((c) => c.appName === "limonade_ios").map((c) => c.id)).toEqual([accepted.resourceId]);
  });

  it("drop-after-commit on create → UnknownOutcomeError, exactly one POST sent (and it was created)", async () => {
    const { client, emulator } = await setup({ faults: { script: [{ method: "POST", kind: "drop-after-commit" }] } });
    const error = await client.create(APN).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnknownOutcomeError);
    expect((error as Error).message).toContain("POST");
    expect(posts(emulator)).toHaveLength(1);
    expect(client.stats.retries).toBe(0);
    expect(emulator.state.commsCredentials().filter((c) => c.appName === "limonade_ios")).toHaveLength(1);
  });

  it("500-after-commit on create → UnknownOutcomeError, not re-sent", async () => {
    const { client, emulator } = await setup({ faults: { script: [{ method: "POST", kind: "500-after-commit" }] } });
    await expect(client.create(APN)).rejects.toBeInstanceOf(UnknownOutcomeError);
    expect(posts(emulator)).toHaveLength(1);
  });

  it("GET is retried on 503 and on a dropped connection", async () => {
    const { client, emulator, sleeps } = await setup({
      faults: {
        retryAfterSeconds: 1,
        script: [
          { method: "GET", kind: "503" },
          { method: "GET", kind: "drop-after-commit" },
          { method: "GET", kind: "drop-before-commit" },
        ],
      },
    });
    const list = await client.list();
    expect(list.map((c) => c.appName)).toEqual(["marketing_web"]);
    expect(emulator.requests.map((r) => r.status)).toEqual([503, "dropped", "dropped", 200]);
    expect(sleeps).toEqual([1000, 200, 400]);
    expect(client.stats).toEqual({ requests: 4, retries: 3, byKind: { list: 4 } });
  });

  it("PATCH and DELETE are retried on a lost answer; a delete whose retry 404s is done", async () => {
    const { client, emulator } = await setup({
      faults: {
        script: [
          { method: "PATCH", kind: "drop-after-commit" },
          { method: "DELETE", kind: "drop-after-commit" },
        ],
      },
    });
    const existing = emulator.state.commsCredentials()[0]!;
    const patched = await client.setDefault(existing.id, false);
    expect(patched.resourceId).toBe(existing.id);
    expect(emulator.state.commsCredentials()[0]!.isDefault).toBe(false);
    const deleted = await client.delete(existing.id);
    expect(deleted.resourceId).toBe(existing.id);
    expect(emulator.state.commsCredentials()).toHaveLength(0);
    expect(emulator.requests.map((r) => `${r.method} ${r.status}`)).toEqual([
      "PATCH dropped",
      "PATCH 202",
      "DELETE dropped",
      "DELETE 404",
    ]);
  });

  it("an error body becomes a readable ApiError", async () => {
    const { client } = await setup();
    const error = await client.create({ ...APN, appName: "Not Valid!" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(400);
    expect((error as ApiError).code).toBe(20001);
    expect((error as Error).message).toBe(
      "Comms API error 400 (code 20001): appName must match ^[a-z0-9_]+$ and be 1 to 64 characters long",
    );
  });

  it("401 → AuthError", async () => {
    const { client } = await setup({}, { password: "wrong" });
    const error = await client.list().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthError);
    expect((error as Error).message).toMatch(new RegExp(`^authentication failed for account ${SAMPLE_SEED.accountSid}: the Comms API at 127\\.0\\.0\\.1:\\d+ answered 401 to the auth token for ${SAMPLE_SEED.accountSid}; check`));
  });

  it("speaks the preview prefix", async () => {
    const { client, emulator } = await setup({}, { apiVersion: "preview" });
    const accepted = await client.create({ ...APN, appName: "preview_app" });
    expect(accepted.resourceLocation).toContain("/preview/PushNotifications/Credentials/");
    expect(await client.fetch(accepted.resourceId)).toMatchObject({ appName: "preview_app" });
    expect(emulator.requests.every((r) => r.path.startsWith("/preview/"))).toBe(true);
  });
});
