/** The legacy reader against the embedded emulator. */
import { afterEach, describe, expect, it } from "vitest";
import { startEmulator, generateLegacyCredentials, SAMPLE_SEED, type Emulator, type EmulatorOptions } from "../../src/emulator/index.js";
import { ApiError, AuthError } from "../../src/errors.js";
import { LEGACY_PAGE_SIZE, RETRY_MAX_ATTEMPTS } from "../../src/limits.js";
import { createLegacyReader } from "../../src/legacy/index.js";

let emulator: Emulator | undefined;
const savedEnv = { edge: process.env.TWILIO_EDGE, region: process.env.TWILIO_REGION };
afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
  for (const [key, value] of [
    ["TWILIO_EDGE", savedEnv.edge],
    ["TWILIO_REGION", savedEnv.region],
  ] as const) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
});

async function setup(opts: EmulatorOptions = {}, auth?: { username: string; password: string }) {
  emulator = await startEmulator({ port: 0, ...opts });
  const sleeps: number[] = [];
  const reader = createLegacyReader({
    accountSid: emulator.accountSid,
    username: auth?.username ?? emulator.accountSid,
    password: auth?.password ?? emulator.authToken,
    baseUrl: emulator.url,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
  });
  return { emulator, reader, sleeps };
}

const listRequests = (e: Emulator) => e.requests.filter((r) => r.method === "GET" && r.path === "/v1/Credentials");

describe("legacy reader (emulator)", () => {
  it("reads 2,500+ credentials across pages: every sid once, every page asked with PageSize=100", async () => {
    const generated = generateLegacyCredentials(2500);
    const seed = { ...SAMPLE_SEED, legacyCredentials: [...SAMPLE_SEED.legacyCredentials, ...generated] };
    const { emulator, reader } = await setup({ seed });
    const progress: number[] = [];
    const list = await reader.listAll((n) => progress.push(n));

    const expected = seed.legacyCredentials.map((c) => c.sid).sort();
    expect(list.map((c) => c.sid).sort()).toEqual(expected);
    expect(new Set(list.map((c) => c.sid)).size).toBe(expected.length);
    const pages = listRequests(emulator);
    expect(pages).toHaveLength(Math.ceil(expected.length / LEGACY_PAGE_SIZE));
    for (const r of pages) expect(r.query.PageSize).toBe("100");
    expect(pages.every((r) => r.status === 200)).toBe(true);
    expect(progress.at(-1)).toBe(expected.length);
    expect(progress).toHaveLength(pages.length);

    const unnamed = list.filter((c) => c.friendlyName === null).map((c) => c.sid);
    expect(unnamed.sort()).toEqual(seed.legacyCredentials.filter((c) => c.friendly_name === null).map((c) => c.sid).sort());
    expect(unnamed.length).toBeGreaterThan(300);
  });

  it("maps sandbox spellings, null friendly names, types and dates", async () => {
    const { reader } = await setup();
    const list = await reader.listAll();
    const bySid = new Map(list.map((c) => [c.sid, c]));
    const sid = (n: number) => `CR${n.toString(16).padStart(32, "0")}`;
    expect(list).toHaveLength(SAMPLE_SEED.legacyCredentials.length);
    expect(bySid.get(sid(1))).toMatchObject({ type: "apn", sandbox: false, sandboxRaw: "False", friendlyName: "Limonade iOS (production)" });
    expect(bySid.get(sid(2))).toMatchObject({ type: "apn", sandbox: true, sandboxRaw: "True" });
    expect(bySid.get(sid(3))).toMatchObject({ type: "fcm", sandbox: null, sandboxRaw: null });
    expect(bySid.get(sid(4))).toMatchObject({ type: "gcm", sandbox: null });
    expect(bySid.get(sid(5))).toMatchObject({ type: "apn", sandbox: true, sandboxRaw: "true", friendlyName: null });
    expect(bySid.get(sid(6))).toMatchObject({ type: "apn", sandbox: false, sandboxRaw: "false" });
    expect(bySid.get(sid(2))).toMatchObject({
      accountSid: SAMPLE_SEED.accountSid,
      dateCreated: "2019-03-14T09:31:07.000Z",
      dateUpdated: "2020-06-02T16:45:12.000Z",
    });
    expect(bySid.get(sid(2))!.url).toMatch(/\/v1\/Credentials\/CR0+2$/);
  });

  it("accepts an API key with the account sid", async () => {
    const key = SAMPLE_SEED.apiKeys![0]!;
    const { reader } = await setup({}, { username: key.sid, password: key.secret });
    expect(await reader.listAll()).toHaveLength(SAMPLE_SEED.legacyCredentials.length);
  });

  it("401 → AuthError", async () => {
    const { reader, emulator } = await setup({}, { username: SAMPLE_SEED.accountSid, password: "wrong" });
    const error = await reader.listAll().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthError);
    expect((error as Error).message).toContain(SAMPLE_SEED.accountSid);
    expect(emulator.requests).toHaveLength(1);
  });

  it("a persistent 500 → ApiError after bounded retries", async () => {
    const { reader, emulator, sleeps } = await setup({
      faults: { script: [{ method: "GET", path: "/v1/Credentials", kind: "500-after-commit", times: 1000 }] },
    });
    const error = await reader.listAll().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(500);
    expect((error as ApiError).code).toBe(20500);
    expect((error as Error).message).toContain("Internal Server Error");
    expect(emulator.requests).toHaveLength(RETRY_MAX_ATTEMPTS);
    expect(sleeps).toHaveLength(RETRY_MAX_ATTEMPTS - 1);
  });

  it("honours Retry-After on 429 and recovers from 503 and a dropped connection", async () => {
    const seed = { ...SAMPLE_SEED, legacyCredentials: generateLegacyCredentials(250) };
    const { reader, emulator, sleeps } = await setup({
      seed,
      faults: {
        retryAfterSeconds: 3,
        script: [
          { method: "GET", path: "/v1/Credentials", kind: "429", times: 2 },
          { method: "GET", path: "/v1/Credentials", kind: "503" },
          { method: "GET", path: "/v1/Credentials", kind: "drop-after-commit" },
        ],
      },
    });
    const list = await reader.listAll();
    expect(list).toHaveLength(250);
    // The fourth retry of the same request has no Retry-After: full jitter, 0.5 × 200 ms × 2^3.
    expect(sleeps).toEqual([3000, 3000, 3000, 800]);
    expect(emulator.requests.map((r) => r.fault ?? r.status)).toEqual(["429", "429", "503", "drop-after-commit", 200, 200, 200]);
  });

  it("ignores TWILIO_EDGE / TWILIO_REGION: every page still reaches baseUrl", async () => {
    process.env.TWILIO_EDGE = "sydney";
    process.env.TWILIO_REGION = "au1";
    const seed = { ...SAMPLE_SEED, legacyCredentials: generateLegacyCredentials(230) };
    const { reader, emulator } = await setup({ seed });
    const list = await reader.listAll();
    expect(list).toHaveLength(230);
    expect(listRequests(emulator)).toHaveLength(3);
  });
});
