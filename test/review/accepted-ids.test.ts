/**
 * A 202 names the created credential; a server (or something in between) that puts a piece of the
 * sent private key there must not get it into the ledger, the reports, stdout or the log.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createCommsClient } from "../../src/comms/index.js";
import type { CreateCredentialBody } from "../../src/comms/types.js";
import { UnknownOutcomeError } from "../../src/errors.js";
import { startEmulator } from "../../src/emulator/index.js";
import { DEMO_ENV, emulatorEnv, parseJson, ROOT, runCli, workspace } from "../e2e/harness.js";
import { startLocalServer, type Reply } from "../comms/local-server.js";
import { startRelay } from "../support/hostile.js";

const ACCOUNT = "AC00000000000000000000000000000000";
const KEY = readFileSync(join(ROOT, "mappings", "examples", "secrets", "limonade-ios-prod.key.pem"), "utf8");
const KEY_B64 = Buffer.from(KEY, "utf8").toString("base64");
const PIECE = KEY_B64.slice(120, 160);
const VALID_ID = "comms_credential_01h9krwprkeee8fzqspvwy6nq8";
const BODY: CreateCredentialBody = { appName: "limonade_ios", credentialType: "APN", content: { certificate: "Y2VydGlmaWNhdGUtdGV4dA==", privateKey: KEY_B64 } };

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function answering(make: (origin: string) => Reply, apiVersion: "v1" | "preview" = "v1") {
  let origin = "";
  const server = await startLocalServer(() => make(origin));
  origin = server.url;
  const client = createCommsClient({ baseUrl: server.url, apiVersion, username: ACCOUNT, password: "local-token", accountSid: ACCOUNT });
  cleanups.push(() => server.close(), () => client.close());
  return client;
}

const at = (origin: string, path: string) => `${origin}${path}`;

describe("the ids of a 202 to a create", () => {
  const invalid: [string, (origin: string) => Reply][] = [
    ["a resourceId carrying a piece of the key", (o) => ({ status: 202, json: { resourceId: PIECE, resourceLocation: at(o, `/v1/PushNotifications/Credentials/${VALID_ID}`) } })],
    ["a resourceLocation whose last segment is a piece of the key", (o) => ({ status: 202, json: { resourceLocation: at(o, `/v1/PushNotifications/Credentials/${PIECE}`) } })],
    ["a Location header carrying a piece of the key", (o) => ({ status: 202, text: "", headers: { location: at(o, `/v1/PushNotifications/Credentials/${encodeURIComponent(PIECE)}`) } })],
    ["a location on another origin", () => ({ status: 202, json: { resourceId: VALID_ID, resourceLocation: `https://elsewhere.example/v1/PushNotifications/Credentials/${VALID_ID}` } })],
    ["a location under another collection", (o) => ({ status: 202, json: { resourceId: VALID_ID, resourceLocation: at(o, `/v1/PushNotifications/Apps/${VALID_ID}`) } })],
    ["a location with a query", (o) => ({ status: 202, json: { resourceId: VALID_ID, resourceLocation: at(o, `/v1/PushNotifications/Credentials/${VALID_ID}?k=${PIECE.slice(0, 20)}`) } })],
    ["a location that is no URL", () => ({ status: 202, json: { resourceId: VALID_ID, resourceLocation: "http://[not a host/v1/PushNotifications/Credentials" } })],
    ["a location whose last segment is not valid percent-encoding", (o) => ({ status: 202, json: { resourceLocation: at(o, "/v1/PushNotifications/Credentials/%E0%A4%A") } })],
    ["a resourceId that is not text", (o) => ({ status: 202, json: { resourceId: { key: PIECE }, resourceLocation: at(o, `/v1/PushNotifications/Credentials/${VALID_ID}`) } })],
    ["an id that differs from the location's", (o) => ({ status: 202, json: { resourceId: VALID_ID, resourceLocation: at(o, "/v1/PushNotifications/Credentials/comms_credential_01h9krwprkeee8fzqspvwy6nq9") } })],
  ];
  for (const [what, make] of invalid) {
    it(`${what} is an invalid answer: unknown outcome, cleaned`, async () => {
      const client = await answering(make);
      const error = await client.create(BODY).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UnknownOutcomeError);
      const text = JSON.stringify({ message: (error as Error).message, cause: String((error as Error).cause ?? "") });
      expect(text).not.toContain(PIECE.slice(0, 16));
      expect(text).not.toContain(PIECE.slice(20, 36));
    });
  }

  it("a valid id whose location is on the Comms origin is accepted, whatever its version prefix", async () => {
    const client = await answering((o) => ({ status: 202, json: { resourceId: VALID_ID, resourceLocation: at(o, `/v1/PushNotifications/Credentials/${VALID_ID}`) } }), "preview");
    expect(await client.create(BODY)).toMatchObject({ resourceId: VALID_ID });
  });

  it("a Location header alone names the id", async () => {
    const client = await answering((o) => ({ status: 202, text: "", headers: { location: at(o, `/preview/PushNotifications/Credentials/${VALID_ID}`) } }));
    expect(await client.create(BODY)).toMatchObject({ resourceId: VALID_ID });
  });
});

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

describe("apply against a server whose 202 echoes key pieces", () => {
  it("creates each credential once and no output carries the key material", async () => {
    const emu = await startEmulator({ port: 0 });
    cleanups.push(() => emu.close());
    const sent: string[] = [];
    const relay = await startRelay(emu.url, (req, answer) => {
      if (req.method !== "POST" || !req.path.endsWith("/PushNotifications/Credentials") || answer.status !== 202) return answer;
      const content = Object.values((JSON.parse(req.body) as { content: Record<string, string> }).content);
      sent.push(...content);
      const piece = content[content.length - 1]!.slice(120, 160);
      const location = `${JSON.parse(answer.body).resourceLocation.replace(/[^/]+$/, "")}${piece}`;
      return { status: 202, headers: { ...answer.headers, location }, body: JSON.stringify({ resourceId: piece, resourceLocation: location }) };
    });
    cleanups.push(() => relay.close());
    const ws = workspace();
    const env = emulatorEnv(emu, { ...DEMO_ENV, CR2COMMS_CONVERSATIONS_URL: relay.url, CR2COMMS_COMMS_URL: relay.url, LOG_LEVEL: "debug" });
    const run = await runCli(["apply", "--yes", "--json", "--log-format", "json", "--settle-seconds", "5", "--mapping", ws.mapping, "--reports-dir", ws.reports], { env });

    expect(sent.length, run.stderr.slice(-3000)).toBeGreaterThan(0);
    const counts: Record<string, number> = {};
    for (const c of emu.state.commsCredentials()) counts[`${c.appName}|${c.credentialType}`] = (counts[`${c.appName}|${c.credentialType}`] ?? 0) + 1;
    expect(Object.values(counts).every((n) => n === 1)).toBe(true);
    expect(emu.requests.filter((r) => r.method === "POST")).toHaveLength(4);
    const report = parseJson(run.stdout);
    expect(report.items.filter((i: { action: string }) => i.action === "create").every((i: { commsCredentialId?: string }) => /^comms_credential_/.test(i.commsCredentialId ?? ""))).toBe(true);

    const outputs = [run.stdout, run.stderr, ...filesUnder(ws.reports).map((f) => readFileSync(f, "utf8"))];
    expect(run.stderr).toMatch(/"level":20/);
    // The base64 values sent, and the key and certificate lines inside them (a service account's
    // project and e-mail are shown on purpose: they are its fingerprint).
    const needles = sent.flatMap((value) => {
      const decoded = Buffer.from(value, "base64").toString("utf8");
      const pem = decoded.trim().startsWith("{") ? (JSON.parse(decoded) as { private_key: string }).private_key : decoded;
      return [value, ...pem.split("\n").filter((l) => /^[A-Za-z0-9+/=]{16,}$/.test(l))];
    });
    const found: string[] = [];
    for (const needle of needles) {
      for (let i = 0; i + 16 <= needle.length; i += 4) {
        const window = needle.slice(i, i + 16);
        if (outputs.some((o) => o.includes(window))) {
          found.push(window);
          break;
        }
      }
    }
    expect(found).toEqual([]);
  });
});
