/**
 * A server that echoes the request body in its 400 (as message, errors[].detail, text/plain,
 * problem+json, or decoded) must not put any secret into error messages — neither from the Comms
 * client nor, one level up, in the writer's items and ledger events.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { apply } from "../../src/apply/writer.js";
import { createCommsClient } from "../../src/comms/index.js";
import type { CommsClient, CreateCredentialBody } from "../../src/comms/types.js";
import type { SecretResult } from "../../src/domain.js";
import { ApiError } from "../../src/errors.js";
import { startEmulator } from "../../src/emulator/index.js";
import { MemoryLedger } from "../../src/ledger/ledger.js";
import { createLegacyReader } from "../../src/legacy/index.js";
import type { Mapping, MappingEntry } from "../../src/mapping/types.js";
import { observe } from "../../src/observe/observe.js";
import { plan as makePlan, secretsNeeded } from "../../src/plan/index.js";
import { resolveEntrySecrets } from "../../src/secrets/index.js";
import { ROOT } from "../e2e/harness.js";
import { startEchoServer, type EchoMode } from "../support/hostile.js";

const SECRETS = join(ROOT, "mappings", "examples", "secrets");
const certPem = readFileSync(join(SECRETS, "limonade-ios-prod.cert.pem"), "utf8");
const keyPem = readFileSync(join(SECRETS, "limonade-ios-prod.key.pem"), "utf8");
const saJson = readFileSync(join(SECRETS, "limonade-android-sa.json"), "utf8");
const fcmKey = (JSON.parse(saJson) as { private_key: string }).private_key;
const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
const ACCOUNT = "AC11111111111111111111111111111111";
const MODES: EchoMode[] = ["message", "errors-detail", "text", "problem", "decoded"];

/** Every secret form that must not appear, and every 16-character piece of each. */
const SECRET_FORMS = [certPem, keyPem, fcmKey, b64(certPem), b64(keyPem), b64(saJson), b64(fcmKey)];
const PEM_LINES = [certPem, keyPem, fcmKey].flatMap((pem) => pem.split("\n")).filter((l) => l.length > 0 && !l.startsWith("-----"));

function leaks(text: string): string[] {
  const found: string[] = [];
  for (const secret of [...SECRET_FORMS, ...PEM_LINES]) {
    if (text.includes(secret)) found.push(secret.slice(0, 20));
  }
  for (const secret of [b64(certPem), b64(keyPem), b64(saJson), ...PEM_LINES]) {
    for (let i = 0; i + 16 <= secret.length; i += 4) {
      if (text.includes(secret.slice(i, i + 16))) {
        found.push(secret.slice(i, i + 16));
        break;
      }
    }
  }
  if (/-----(BEGIN|END)/.test(text)) found.push("PEM marker");
  return found;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function echoClient(mode: EchoMode): Promise<{ client: CommsClient; writes: string[] }> {
  const server = await startEchoServer(mode);
  const client = createCommsClient({ baseUrl: server.url, apiVersion: "v1", accountSid: ACCOUNT, username: ACCOUNT, password: "t" });
  cleanups.push(() => server.close(), () => client.close());
  return { client, writes: server.writes };
}

describe("Comms client against an echoing server", () => {
  const bodies: Record<string, CreateCredentialBody> = {
    apn: { credentialType: "APN", appName: "limonade_ios", content: { certificate: b64(certPem), privateKey: b64(keyPem) } },
    fcm: { credentialType: "FCM", appName: "limonade_android", content: { privateKey: b64(saJson) } },
  };
  for (const mode of MODES) {
    for (const [kind, body] of Object.entries(bodies)) {
      it(`${kind}, echoed as ${mode}: the ApiError carries no secret`, async () => {
        const { client, writes } = await echoClient(mode);
        const error = await client.create(body).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(ApiError);
        expect(writes).toHaveLength(1);
        // The double really echoed the secret: without cleaning, the message would leak.
        expect(leaks(writes[0]!).length).toBeGreaterThan(0);
        const message = (error as Error).message;
        expect(message).toMatch(/^Comms API error 400/);
        expect(leaks(message)).toEqual([]);
        expect(leaks(JSON.stringify(error, Object.getOwnPropertyNames(error)))).toEqual([]);
        expect((error as Error).cause).toBeUndefined();
      });
    }
  }
});

describe("writer against an echoing server", () => {
  for (const mode of MODES) {
    it(`echoed as ${mode}: failed items and ledger events carry no secret`, async () => {
      const emu = await startEmulator({ port: 0 });
      cleanups.push(() => emu.close());
      const { client } = await echoClient(mode);
      const ledger = new MemoryLedger();
      const entries: Omit<MappingEntry, "index">[] = [
        { sid: "CR00000000000000000000000000000001", appName: "limonade_ios", secrets: { certificate: "file:limonade-ios-prod.cert.pem", privateKey: "file:limonade-ios-prod.key.pem" } },
        { sid: "CR00000000000000000000000000000003", appName: "limonade_android", secrets: { serviceAccount: "file:limonade-android-sa.json" } },
      ];
      const mapping: Mapping = { version: 1, credentials: entries.map((x, index) => ({ ...x, index })), path: join(SECRETS, "m.yaml") };
      const legacy = createLegacyReader({ accountSid: emu.accountSid, username: emu.accountSid, password: emu.authToken, baseUrl: emu.url });
      cleanups.push(() => legacy.close());
      const snapshot = await observe({ accountSid: emu.accountSid, legacy, comms: client, ledger, now: () => new Date() });
      const secrets = new Map<string, SecretResult>();
      for (const { entry, target } of secretsNeeded(snapshot, mapping)) {
        secrets.set(entry.sid, await resolveEntrySecrets(entry, target, { mappingDir: SECRETS, env: {}, now: new Date(), interactive: false }));
      }
      const plan = makePlan(snapshot, mapping, secrets, { now: new Date() });
      const result = await apply(plan, { comms: client, ledger, secrets, existing: snapshot.comms, concurrency: 2 });
      const failed = result.items.filter((i) => i.status === "failed");
      expect(failed.map((i) => i.legacySid).sort()).toEqual(["CR00000000000000000000000000000001", "CR00000000000000000000000000000003"]);
      for (const item of failed) {
        expect(item.error).toMatch(/Comms API error 400/);
        expect(leaks(item.error ?? "")).toEqual([]);
      }
      expect(leaks(JSON.stringify(result))).toEqual([]);
      const events = await ledger.events();
      expect(events.some((e) => e.event === "failed")).toBe(true);
      expect(leaks(JSON.stringify(events))).toEqual([]);
    });
  }
});
