/**
 * The writer, the HTTP client and the fleet against hostile answers: a `Date` header that is
 * wrong (a proxy or a front end with its own clock), first writes that hang.
 */
import { request as httpRequest, createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { apply } from "../../src/apply/writer.js";
import { rollback } from "../../src/rollback/rollback.js";
import { createCommsClient } from "../../src/comms/index.js";
import type { CommsClient } from "../../src/comms/types.js";
import type { SecretResult } from "../../src/domain.js";
import { startEmulator, type Emulator, type EmulatorOptions } from "../../src/emulator/index.js";
import { MemoryLedger } from "../../src/ledger/ledger.js";
import { createLegacyReader } from "../../src/legacy/index.js";
import type { Mapping, MappingEntry } from "../../src/mapping/types.js";
import { observe } from "../../src/observe/observe.js";
import { plan as makePlan, secretsNeeded } from "../../src/plan/index.js";
import { resolveEntrySecrets } from "../../src/secrets/index.js";
import { ROOT } from "../e2e/harness.js";
import { APP, item, planOf, world as fakeWorld } from "../apply/writer-world.js";
import { sid } from "../plan/builders.js";
import { parseAccountsFile } from "../../src/fleet/options.js";
import { UnknownOutcomeError } from "../../src/errors.js";
import { startLocalServer, type Reply } from "../comms/local-server.js";
import { createAccountsClient } from "../../src/accounts/client.js";
import { createDispatcher } from "../../src/http/agent.js";
import { createLogger } from "../../src/log.js";

const SECRETS = join(ROOT, "mappings", "examples", "secrets");
const SID2 = "CR00000000000000000000000000000002";
const E2: Omit<MappingEntry, "index"> = { sid: SID2, appName: "limonade_ios", secrets: { p12: "file:limonade-ios-dev.p12", passphrase: "env:P" } };
const POST = { method: "POST", path: "/PushNotifications/Credentials" };
const HOUR = 3_600_000;

let emu: Emulator | undefined;
let client: CommsClient | undefined;
let proxy: Server | undefined;
afterEach(async () => {
  await client?.close();
  if (proxy) await new Promise<void>((r) => proxy!.close(() => r()));
  proxy?.closeAllConnections();
  await emu?.close();
  emu = client = proxy = undefined;
});

/** A loopback front end to `target` whose answers carry a `Date` `shiftMs` off the real clock; a dropped upstream answer is dropped here too. */
async function dateShifter(target: string, shiftMs: number): Promise<string> {
  const up = new URL(target);
  proxy = createServer((req, res) => {
    const out = httpRequest({ host: up.hostname, port: up.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      const headers = { ...answer.headers, date: new Date(Date.now() + shiftMs).toUTCString() };
      res.writeHead(answer.statusCode ?? 502, headers);
      answer.pipe(res);
    });
    out.on("error", () => res.destroy());
    req.pipe(out);
  });
  await new Promise<void>((r) => proxy!.listen(0, "127.0.0.1", () => r()));
  return `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
}

/** The emulator (createdAt on the real clock) behind a front end whose `Date` is `shiftMs` off; this machine's clock right. */
async function world(shiftMs: number, opts: EmulatorOptions = {}) {
  emu = await startEmulator({ port: 0, ...opts });
  const e = emu;
  const url = await dateShifter(e.url, shiftMs);
  const c = (client = createCommsClient({ baseUrl: url, apiVersion: "v1", accountSid: e.accountSid, username: e.accountSid, password: e.authToken }));
  const ledger = new MemoryLedger();
  const mapping: Mapping = { version: 1, credentials: [E2].map((x, index) => ({ ...x, index })), path: join(SECRETS, "m.yaml") };
  const legacy = createLegacyReader({ accountSid: e.accountSid, username: e.accountSid, password: e.authToken, baseUrl: e.url });
  const snapshot = await observe({ accountSid: e.accountSid, legacy, comms: c, ledger, now: () => new Date() });
  const secrets = new Map<string, SecretResult>();
  for (const { entry, target } of secretsNeeded(snapshot, mapping)) {
    secrets.set(entry.sid, await resolveEntrySecrets(entry, target, { mappingDir: SECRETS, env: { P: "fake-demo-passphrase" }, now: new Date(), interactive: false }));
  }
  const posts = () => e.requests.filter((r) => r.method === "POST").length;
  const sandbox = () => e.state.commsCredentials().filter((x) => x.appName === "limonade_ios" && x.credentialType === "APN_SANDBOX");
  return { comms: c, ledger, plan: makePlan(snapshot, mapping, secrets, { now: new Date() }), secrets, existing: snapshot.comms, posts, sandbox };
}

describe("writer: a Date header that does not tell Comms' clock", () => {
  for (const [name, shift] of [["an hour ahead", HOUR], ["an hour behind", -HOUR]] as const) {
    it(`W1: answers dated ${name} of the clock Comms stamps createdAt with: a lost create is still found, never sent twice`, async () => {
      const w = await world(shift, { faults: { script: [{ ...POST, kind: "drop-after-commit" }] } });
      const r = await apply(w.plan, { comms: w.comms, ledger: w.ledger, secrets: w.secrets, existing: w.existing, concurrency: 4, wait: true, settleMs: 1_500, settlePollMaxMs: 200, confirm: { timeoutMs: 2_000 } });
      const item = r.items.find((i) => i.legacySid === SID2)!;
      const info = `${item.status} ${item.error ?? ""} ${item.warnings.join(" | ")}`;
      expect(w.sandbox(), info).toHaveLength(1);
      expect(w.posts(), info).toBe(1);
      expect(item.status, info).toBe("confirmed");
      expect(item.commsCredentialId).toBe(w.sandbox()[0]!.id);
    }, 30_000);
  }
});

/** A Comms stand-in that holds the first write (of any method) until released; later writes and reads answer at once. */
async function heldFirstWrite() {
  const created = new Map<string, { appName: string; credentialType: string; createdAt: string }>();
  let held: (() => void) | undefined;
  let posts = 0;
  let writes = 0;
  const methods: string[] = [];
  const server = createServer((req, res) => {
    methods.push(req.method ?? "");
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.method !== "GET" && ++writes === 1) held = answer;
      else answer();
    });
    function answer() {
      const json = (status: number, body: unknown) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
      const path = (req.url ?? "").split("?")[0]!;
      if (req.method === "POST") {
        const n = ++posts;
        const id = `comms_credential_${String(n).padStart(26, "0")}`;
        const b = JSON.parse(Buffer.concat(chunks).toString()) as { appName: string; credentialType: string };
        created.set(id, { appName: b.appName, credentialType: b.credentialType, createdAt: new Date().toISOString() });
        return json(202, { resourceId: id, resourceLocation: `http://${req.headers.host}/v1/PushNotifications/Credentials/${id}` });
      }
      const one = /\/Credentials\/([^/]+)$/.exec(path)?.[1];
      if (one) {
        const c = created.get(one);
        return c ? json(200, { id: one, isDefault: false, updatedAt: c.createdAt, ...c }) : json(404, { code: 20404, message: "not found" });
      }
      json(200, { credentials: [...created].map(([id, c]) => ({ id, isDefault: false, updatedAt: c.createdAt, ...c })), pagination: {} });
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  proxy = server;
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, posts: () => posts, methods, release: () => held?.(), isHeld: () => held !== undefined };
}

/** A Comms client of the test's account against a local server (closed after each test). */
const localClient = (url: string) => createCommsClient({ baseUrl: url, apiVersion: "v1", accountSid: "AC00000000000000000000000000000000", username: "AC00000000000000000000000000000000", password: "token" });

/** A writer run on the real clock, stopped by `signal`, confirming quickly. */
const realTime = (signal: AbortSignal) => ({
  now: () => new Date(),
  sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, ms)),
  signal,
  confirm: { timeoutMs: 2_000, initialDelayMs: 50, maxDelayMs: 200 },
});

const until = async (what: () => boolean) => {
  for (let i = 0; i < 500 && !what(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(what()).toBe(true);
};

describe("writer: a write queued behind the first one when the run is stopped", () => {
  it("W2: Ctrl-C while a create waits for the first write's answer: it is never sent, and stays planned", async () => {
    const srv = await heldFirstWrite();
    const c = (client = localClient(srv.url));
    const w = fakeWorld();
    const stop = new AbortController();
    const second = item({ legacySid: sid(2), target: { appName: "app_other", credentialType: "APN", isDefault: false } });
    const run = apply(planOf(item(), second), w.deps([], { comms: c, ...realTime(stop.signal) }));
    await until(() => srv.isHeld() && w.ledger.list.filter((e) => e.event === "attempt").length === 2);
    await new Promise((r) => setTimeout(r, 50));
    stop.abort();
    srv.release();
    const r = await run;
    const info = JSON.stringify(r.items.map((i) => [i.legacySid, i.status, i.error, i.warnings]));
    expect(srv.posts(), info).toBe(1);
    expect(r.items.find((i) => i.legacySid === sid(2))?.status, info).toBe("planned");
    expect(r.items.find((i) => i.legacySid === sid(1))?.target?.appName).toBe(APP);
  }, 30_000);

  it("W2: Ctrl-C while a default change waits for the first write's answer: it is never sent, and stays planned", async () => {
    const srv = await heldFirstWrite();
    const c = (client = localClient(srv.url));
    const w = fakeWorld();
    const stop = new AbortController();
    // The client's first write, still unanswered, sent before the run.
    const first = c.create({ appName: APP, credentialType: "APN", content: { certificate: "Y2VydA==", privateKey: "a2V5" } });
    await until(() => srv.isHeld());
    const second = item({ legacySid: sid(2), action: "update-default", commsCredentialId: "comms_credential_01h9krwprkeee8fzqspvwy6nq8", target: { appName: "app_other", credentialType: "APN", isDefault: true } });
    let asked = false;
    const comms: CommsClient = { ...c, setDefault: (...a) => ((asked = true), c.setDefault(...a)) };
    const run = apply(planOf(second), w.deps([], { comms, ...realTime(stop.signal) }));
    await until(() => asked);
    await new Promise((r) => setTimeout(r, 50));
    stop.abort();
    srv.release();
    await first;
    const r = await run;
    const info = JSON.stringify(r.items.map((i) => [i.legacySid, i.status, i.error, i.warnings]));
    expect(srv.methods.filter((m) => m === "PATCH"), info).toEqual([]);
    expect(r.items.find((i) => i.legacySid === sid(2))?.status, info).toBe("planned");
  }, 30_000);
});

describe("writer: the default App change queued behind the first write when the run is stopped", () => {
  it("W2: Ctrl-C while the default App change waits for the first write's answer: it is never sent, and stays planned", async () => {
    const srv = await heldFirstWrite();
    const c = (client = localClient(srv.url));
    const w = fakeWorld();
    const stop = new AbortController();
    const first = c.create({ appName: APP, credentialType: "APN", content: { certificate: "Y2VydA==", privateKey: "a2V5" } });
    await until(() => srv.isHeld());
    const plan = { ...planOf(), accountActions: [{ action: "set-default-app" as const, appName: "app_other", from: APP, via: "patch" as const }] };
    let asked = false;
    const comms: CommsClient = { ...c, setDefaultApp: (...a) => ((asked = true), c.setDefaultApp(...a)) };
    const run = apply(plan, w.deps([], { comms, ...realTime(stop.signal) }));
    await until(() => asked);
    await new Promise((r) => setTimeout(r, 50));
    stop.abort();
    srv.release();
    await first;
    const r = await run;
    const info = JSON.stringify(r.accountActions);
    expect(srv.methods.filter((m) => m === "PATCH"), info).toEqual([]);
    expect(r.accountActions?.[0]?.status, info).toBe("planned");
  }, 30_000);
});

describe("fleet: one account named twice", () => {
  it("W3: an accounts file naming one sid in two spellings (hex case) selects it once, so two runs never share its ledger and reports", () => {
    const lower = `AC${"ab".repeat(16)}`;
    const { sids, problems } = parseAccountsFile(`${lower}\n${lower.replace(/ab/g, "AB")}\n`, "accounts.txt");
    expect(problems).toEqual([]);
    expect(sids).toEqual([lower]);
  });
});

describe("a 202 to a create naming its credential in a hostile shape (held)", () => {
  const ID = "comms_credential_01h9krwprkeee8fzqspvwy6nq8";
  const body = { appName: "a", credentialType: "FCM" as const, content: { privateKey: "eyJ9" } };
  async function answering(make: (origin: string) => Reply) {
    let origin = "";
    const server = await startLocalServer(() => make(origin));
    origin = server.url;
    const c = (client = createCommsClient({ baseUrl: server.url, apiVersion: "v1", username: "AC00000000000000000000000000000000", password: "local-token", accountSid: "AC00000000000000000000000000000000" }));
    const closeServer = server.close;
    return { c, closeServer };
  }
  const otherPort = (o: string) => o.replace(/:(\d+)$/, (_, p: string) => `:${Number(p) === 65535 ? 1 : Number(p) + 1}`);
  const invalid: [string, (o: string) => string][] = [
    ["on another port of the same host", (o) => `${otherPort(o)}/v1/PushNotifications/Credentials/${ID}`],
    ["protocol-relative to another host", () => `//elsewhere.example/v1/PushNotifications/Credentials/${ID}`],
    ["with user info naming another host", (o) => `${o.replace("://", "://elsewhere.example@")}/v1/PushNotifications/Credentials/${ID}`],
    ["whose segment hides a slash as %2F", (o) => `${o}/v1/PushNotifications/Credentials/${ID}%2F..%2F..%2FApps`],
    ["that climbs out of the collection with ..", (o) => `${o}/v1/PushNotifications/Credentials/../Apps/${ID}`],
    ["that climbs out with a percent-encoded ..", (o) => `${o}/v1/PushNotifications/Credentials/%2e%2e/Apps/${ID}`],
  ];
  for (const [what, location] of invalid) {
    it(`W4: a Location ${what} is an unknown outcome, never an accepted id`, async () => {
      const { c, closeServer } = await answering((o) => ({ status: 202, text: "", headers: { location: location(o) } }));
      try {
        expect(await c.create(body).catch((e: unknown) => e)).toBeInstanceOf(UnknownOutcomeError);
      } finally {
        await closeServer();
      }
    });
  }
  it("W4: a percent-encoded id names the credential decoded", async () => {
    const encoded = ID.replace(/[a-z]/g, (ch) => `%${ch.charCodeAt(0).toString(16)}`);
    const { c, closeServer } = await answering((o) => ({ status: 202, text: "", headers: { location: `${o}/v1/PushNotifications/Credentials/${encoded}` } }));
    try {
      expect((await c.create(body)).resourceId).toBe(ID);
    } finally {
      await closeServer();
    }
  });
});

describe("fleet: the Accounts API's next_page_uri carrying a token in its path", () => {
  it("W5: the token shows in no log line (debug included) and in no error", async () => {
    const TOKEN = "9f3c1a7be2d84c06a5f1e7d29b8c4e10";
    const PARENT = "AC00000000000000000000000000000000";
    const server = await startLocalServer((req, n) => {
      if (n === 0) return { status: 200, json: { accounts: [{ sid: PARENT, status: "active", friendly_name: "parent", auth_token: "" }], next_page_uri: `/2010-04-01/Accounts/${TOKEN}/Page.json?Page=1` } };
      return { status: 500, json: { message: "try later" } };
    });
    const lines: string[] = [];
    const logger = createLogger("debug", { destination: { write: (l: string) => void lines.push(l) }, format: "json" });
    const dispatcher = createDispatcher({ proxy: false });
    const accounts = createAccountsClient({ accountSid: PARENT, username: PARENT, password: "parent-token", baseUrl: server.url, dispatcher, logger, sleep: async () => {} });
    try {
      const error = await accounts.listAll().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Error);
      expect(lines.some((l) => l.includes("retrying request"))).toBe(true);
      expect(lines.join("\n")).not.toContain(TOKEN);
      expect(String((error as Error).message)).not.toContain(TOKEN);
    } finally {
      await dispatcher.close();
      await server.close();
    }
  });
});

describe("rollback: a delete queued behind the first one when the run is stopped", () => {
  it("W2b: Ctrl-C while a delete waits for the first write's answer: it is never sent, and stays planned", async () => {
    const srv = await heldFirstWrite();
    const c = (client = localClient(srv.url));
    let asked = 0;
    const comms: CommsClient = { ...c, delete: (...a) => (asked++, c.delete(...a)) };
    const stop = new AbortController();
    const candidate = (n: number) => ({ legacySid: sid(n), commsCredentialId: `comms_credential_${String(n).padStart(26, "0")}`, appName: APP, credentialType: "APN" as const });
    const run = rollback(
      { deletes: [candidate(1), candidate(2)], refused: [], gone: [], warnings: [] },
      { comms, ledger: new MemoryLedger(() => new Date()), concurrency: 2, runId: "run-w2b", accountSid: "AC00000000000000000000000000000000", signal: stop.signal, confirmTimeoutMs: 2_000 },
    );
    await until(() => asked === 2 && srv.isHeld());
    await new Promise((r) => setTimeout(r, 50));
    stop.abort();
    srv.release();
    const r = await run;
    const info = JSON.stringify(r.items.map((i) => [i.legacySid, i.status, i.error, i.warnings]));
    expect(srv.methods.filter((m) => m === "DELETE"), info).toEqual(["DELETE"]);
    expect(r.items.find((i) => i.legacySid === sid(2))?.status, info).toBe("planned");
  }, 30_000);
});
