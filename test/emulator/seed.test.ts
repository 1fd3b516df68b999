import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  generateLegacyCredentials,
  loadSeedFile,
  runEmulatorCommand,
  SAMPLE_SEED,
  startEmulator,
  type Emulator,
} from "../../src/emulator/index.js";
import { ulidFactory } from "../../src/emulator/ulid.js";
import { UsageError } from "../../src/errors.js";
import { client, CREDS, fcmBody } from "./helpers.js";

let em: Emulator | undefined;
afterEach(async () => {
  await em?.close();
  em = undefined;
});

const dir = mkdtempSync(join(tmpdir(), "cr2comms-emulator-"));
function seedFile(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content));
  return path;
}

describe("emulator seeds", () => {
  it("SAMPLE_SEED holds the values other modules rely on", () => {
    expect(SAMPLE_SEED.accountSid).toBe("AC00000000000000000000000000000000");
    expect(SAMPLE_SEED.authToken).toBe("emulator-auth-token");
    expect(SAMPLE_SEED.apiKeys).toEqual([
      { sid: "SK00000000000000000000000000000000", secret: "emulator-api-secret" },
      { sid: "SK00000000000000000000000000000001", secret: "emulator-read-only-secret", readOnly: true },
    ]);
    expect(SAMPLE_SEED.legacyCredentials.map((c) => [c.sid, c.friendly_name, c.type, c.sandbox])).toEqual([
      ["CR00000000000000000000000000000001", "Limonade iOS (production)", "apn", "False"],
      ["CR00000000000000000000000000000002", "Limonade iOS (development)", "apn", "True"],
      ["CR00000000000000000000000000000003", "Limonade Android", "fcm", null],
      ["CR00000000000000000000000000000004", "Old GCM app", "gcm", null],
      ["CR00000000000000000000000000000005", null, "apn", "true"],
      ["CR00000000000000000000000000000006", "Kiosk iPad", "apn", "false"],
    ]);
    expect(SAMPLE_SEED.commsCredentials).toEqual([{ appName: "marketing_web", credentialType: "FCM", isDefault: true }]);
  });

  it("generates deterministic, unique legacy credentials that do not collide with the sample", () => {
    const a = generateLegacyCredentials(250);
    expect(a).toEqual(generateLegacyCredentials(250));
    expect(new Set(a.map((c) => c.sid)).size).toBe(250);
    for (const c of a) expect(c.sid).toMatch(/^CR[0-9a-f]{32}$/);
    const sample = new Set(SAMPLE_SEED.legacyCredentials.map((c) => c.sid));
    expect(a.some((c) => sample.has(c.sid))).toBe(false);
    expect(new Set(a.map((c) => c.type))).toEqual(new Set(["apn", "fcm", "gcm"]));
    expect(a.filter((c) => c.type !== "apn").every((c) => c.sandbox === null)).toBe(true);
    expect(a.some((c) => c.friendly_name === null)).toBe(true);

    const b = generateLegacyCredentials(3, { startIndex: 251, types: ["fcm"] });
    expect(b.map((c) => c.type)).toEqual(["fcm", "fcm", "fcm"]);
    expect(a.map((c) => c.sid)).not.toContain(b[0]?.sid);
  });

  it("loads a seed file, fills defaults, and keeps saved Comms ids and dates", async () => {
    const id = "comms_credential_01h9krwprkeee8fzqspvwy6nq8";
    const path = seedFile("ok.json", {
      legacyCredentials: generateLegacyCredentials(2),
      commsCredentials: [
        { appName: "ios", credentialType: "APN", isDefault: false, id, createdAt: "2024-05-01T10:00:00.000Z" },
        { appName: "ios", credentialType: "APN", isDefault: true, createdAt: "2024-05-02T10:00:00.000Z" },
      ],
    });
    const seed = loadSeedFile(path);
    expect(seed.accountSid).toBe(SAMPLE_SEED.accountSid);
    expect(seed.apiKeys).toEqual([]);
    em = await startEmulator({ seed });
    const list = await client(em).get(CREDS);
    expect(list.json.credentials.map((c: { id: string; isDefault: boolean; createdAt: string }) => [c.id === id, c.isDefault, c.createdAt])).toEqual([
      [true, false, "2024-05-01T10:00:00.000Z"],
      [false, true, "2024-05-02T10:00:00.000Z"],
    ]);
    expect((await client(em).get("/v1/Credentials")).json.credentials).toHaveLength(2);
  });

  it("rejects bad seed files with a UsageError naming the file and each bad field", () => {
    expect(() => loadSeedFile(join(dir, "missing.json"))).toThrow(/cannot read seed file .*missing\.json: ENOENT/);
    expect(() => loadSeedFile(seedFile("broken.json", "{nope"))).toThrow(/broken\.json is not valid JSON/);
    const bad = seedFile("bad.json", {
      accountSid: "AC123",
      legacyCredentials: [{ sid: "CRxyz", friendly_name: null, type: "apns", sandbox: null, date_created: "soon", date_updated: "2020-01-01T00:00:00Z" }],
      commsCredentials: [{ appName: "Bad", credentialType: "FCM" }],
      extra: 1,
    });
    let error: unknown;
    try {
      loadSeedFile(bad);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UsageError);
    const message = (error as Error).message;
    expect(message).toContain("bad.json");
    for (const field of ["accountSid", "legacyCredentials.0.sid", "legacyCredentials.0.type", "legacyCredentials.0.date_created", "commsCredentials.0.appName", "extra"]) {
      expect(message).toContain(field);
    }
    const dup = generateLegacyCredentials(1);
    expect(() => loadSeedFile(seedFile("dup.json", { legacyCredentials: [...dup, ...dup] }))).toThrow(/duplicate sid/);
    const tooMany = Array.from({ length: 11 }, (_, i) => ({ appName: `app_${i}`, credentialType: "FCM" }));
    expect(() => loadSeedFile(seedFile("apps.json", { commsCredentials: tooMany }))).toThrow(/11 Apps, the limit is 10/);
  });

  it("runEmulatorCommand starts from a seed file and prints the URL, credentials and env vars, a reports dir of its own among them, in lines that fit 80 columns", async () => {
    const path = seedFile("cmd.json", { authToken: "tok", legacyCredentials: generateLegacyCredentials(3) });
    const lines: string[] = [];
    em = await runEmulatorCommand({ seedFile: path, visibilityDelayMs: 0 }, (l) => lines.push(l));
    expect(lines).toHaveLength(1);
    const line = lines[0] ?? "";
    for (const part of [
      em.url,
      `CR2COMMS_CONVERSATIONS_URL=${em.url}`,
      `CR2COMMS_COMMS_URL=${em.url}`,
      `TWILIO_ACCOUNT_SID=${SAMPLE_SEED.accountSid}`,
      "TWILIO_AUTH_TOKEN=tok",
      "CR2COMMS_REPORTS_DIR=reports/emulator",
    ]) {
      expect(line).toContain(part);
    }
    // Every variable is exported on a line of its own, a reports dir apart from a real account's ./reports among them.
    expect(line).toMatch(/^ {2}export CR2COMMS_REPORTS_DIR=reports\/emulator$/m);
    for (const row of line.split("\n")) expect(row.length, row).toBeLessThanOrEqual(80);
    expect(em.authToken).toBe("tok");
    expect((await client(em).get("/v1/Credentials")).json.credentials).toHaveLength(3);
  });

  it("issues time-sortable ids (ULID) in creation order", async () => {
    em = await startEmulator({ seed: { ...SAMPLE_SEED, commsCredentials: [] } });
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push((await client(em).post(CREDS, fcmBody(`app_${i % 3}`))).json.resourceId);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(10);
  });

  it("ULIDs stay sorted within one millisecond and encode the time first", () => {
    const next = ulidFactory();
    const same = Array.from({ length: 50 }, () => next(1_700_000_000_000));
    expect([...same].sort()).toEqual(same);
    expect(new Set(same).size).toBe(50);
    for (const id of same) expect(id).toMatch(/^[0-9a-hjkmnp-tv-z]{26}$/);
    const later = next(1_700_000_000_001);
    expect(later > (same[49] ?? "")).toBe(true);
    expect(later.slice(0, 10)).not.toBe(same[0]?.slice(0, 10));
  });
});
