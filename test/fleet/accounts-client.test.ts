import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { createAccountsClient } from "../../src/accounts/client.js";
import { sampleSubaccount, startEmulator, type Emulator } from "../../src/emulator/index.js";
import { createDispatcher } from "../../src/http/agent.js";
import { cleanServerText, rememberSecret } from "../../src/http/server-text.js";

const PARENT = "AC00000000000000000000000000000000";
let emu: Emulator | undefined;
let server: Server | undefined;
const dispatcher = createDispatcher({ proxy: false });
afterEach(async () => {
  await emu?.close();
  emu = undefined;
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

const noSleep = async () => undefined;

describe("Accounts client (2010 API)", () => {
  it("follows next_page_uri paths to the end, lists the parent once among its subaccounts, with each status and token", async () => {
    const subs = [sampleSubaccount(PARENT, 1), sampleSubaccount(PARENT, 2, { status: "suspended" }), sampleSubaccount(PARENT, 3, { status: "closed" }), sampleSubaccount(PARENT, 4)];
    emu = await startEmulator({ subaccounts: subs });
    const client = createAccountsClient({ accountSid: PARENT, username: PARENT, password: emu.authToken, baseUrl: emu.url, dispatcher, pageSize: 2, sleep: noSleep });
    const listed = await client.listAll();
    expect(listed.map((a) => a.sid)).toEqual([PARENT, ...subs.map((s) => s.sid)]);
    expect(listed.map((a) => a.status)).toEqual(["active", "active", "suspended", "closed", "active"]);
    expect(listed.slice(1).map((a) => a.authToken)).toEqual(subs.map((s) => s.authToken));
    const pages = emu.requests.filter((r) => r.path === "/2010-04-01/Accounts.json");
    expect(pages).toHaveLength(3);
    expect(pages.every((p) => p.query.PageSize === "2")).toBe(true);
    expect(pages.slice(1).every((p) => p.query.PageToken !== undefined)).toBe(true);
  });

  it("asks for the largest page Twilio serves (1000), and the emulator refuses more", async () => {
    emu = await startEmulator({ subaccounts: [sampleSubaccount(PARENT, 1)] });
    const client = createAccountsClient({ accountSid: PARENT, username: PARENT, password: emu.authToken, baseUrl: emu.url, dispatcher });
    await client.listAll();
    expect(emu.requests[0]!.query.PageSize).toBe("1000");
    const tooMany = await fetch(`${emu.url}/2010-04-01/Accounts.json?PageSize=1001`, { headers: { authorization: `Basic ${Buffer.from(`${PARENT}:${emu.authToken}`).toString("base64")}` } });
    expect(tooMany.status).toBe(400);
  });

  it("an API key of the parent gets every token empty, as on Twilio", async () => {
    emu = await startEmulator({ seed: { apiKeys: [{ sid: "SK00000000000000000000000000000000", secret: "emulator-api-secret" }] }, subaccounts: [sampleSubaccount(PARENT, 1)] });
    const client = createAccountsClient({ accountSid: PARENT, username: "SK00000000000000000000000000000000", password: "emulator-api-secret", baseUrl: emu.url, dispatcher });
    const listed = await client.listAll();
    expect(listed).toHaveLength(2);
    expect(listed.every((a) => a.authToken === "")).toBe(true);
  });

  it("fetch reads one account through the parent, and a subaccount's own token reaches only itself", async () => {
    const [a, b] = [sampleSubaccount(PARENT, 1), sampleSubaccount(PARENT, 2)];
    emu = await startEmulator({ subaccounts: [a, b] });
    const parent = createAccountsClient({ accountSid: PARENT, username: PARENT, password: emu.authToken, baseUrl: emu.url, dispatcher });
    expect((await parent.fetch(a.sid))?.authToken).toBe(a.authToken);
    expect(await parent.fetch("AC" + "f".repeat(32))).toBeUndefined();
    const child = createAccountsClient({ accountSid: a.sid, username: a.sid, password: a.authToken, baseUrl: emu.url, dispatcher });
    expect((await child.listAll()).map((x) => x.sid)).toEqual([a.sid]);
    expect(await child.fetch(b.sid)).toBeUndefined();
  });

  it("a next page that repeats, or an empty page that names another, stops with an error instead of looping", async () => {
    const loop = { accounts: [{ sid: PARENT, status: "active", auth_token: "t0k3n-loop-aaaaaaaa" }], next_page_uri: "/2010-04-01/Accounts.json?Page=1" };
    server = createServer((req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(req.url?.includes("empty") ? { accounts: [], next_page_uri: "/2010-04-01/Accounts.json?empty=2" } : loop));
    });
    await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const client = createAccountsClient({ accountSid: PARENT, username: PARENT, password: "parent-token-xyz", baseUrl: url, dispatcher });
    await expect(client.listAll()).rejects.toThrow(/paging loops/);
  });

  it("answers with invalid JSON or 401 become errors that quote nothing of the answer", async () => {
    let mode = "json";
    server = createServer((_req, res) => {
      if (mode === "json") {
        res.writeHead(200, { "content-type": "application/json" });
        res.end('{"accounts": [{"auth_token": "leaky-token-1234567890"');
      } else {
        res.writeHead(401, { "content-type": "application/json" });
        res.end('{"message": "no"}');
      }
    });
    await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const client = createAccountsClient({ accountSid: PARENT, username: PARENT, password: "parent-token-xyz", baseUrl: url, dispatcher });
    const err = await client.listAll().catch((e: Error) => e);
    expect(String(err)).toMatch(/invalid JSON/);
    expect(String(err)).not.toContain("leaky-token");
    mode = "401";
    await expect(client.listAll()).rejects.toThrow(/authentication failed for account AC0+ \(Accounts API answered 401\)/);
  });
});

describe("secret needles", () => {
  it("a registered token is removed from any cleaned server text, as are its Basic-auth forms", () => {
    const token = "needle-token-5f2e9a";
    const basic = Buffer.from(`AC${"1".repeat(32)}:${token}`).toString("base64");
    expect(cleanServerText(`echo ${token}`)).toContain(token);
    rememberSecret(token, basic, "short");
    expect(cleanServerText(`echo ${token} and ${basic}`)).toBe("echo [redacted] and [redacted]");
    expect(cleanServerText("a short word stays")).toBe("a short word stays");
  });
});

describe("account sids stay readable", () => {
  it("once the accounts are listed, their tokens and Basic headers are removed from server text, their sids are not", async () => {
    const subs = [sampleSubaccount(PARENT, 1), sampleSubaccount(PARENT, 2, { status: "suspended" })];
    emu = await startEmulator({ subaccounts: subs });
    const client = createAccountsClient({ accountSid: PARENT, username: PARENT, password: emu.authToken, baseUrl: emu.url, dispatcher, sleep: noSleep });
    const listed = await client.listAll();
    for (const s of subs) {
      const token = listed.find((a) => a.sid === s.sid)!.authToken;
      const header = Buffer.from(`${s.sid}:${token}`).toString("base64");
      expect(cleanServerText(`Account ${s.sid} is suspended`)).toBe(`Account ${s.sid} is suspended`);
      expect(cleanServerText(`echo ${token} and Basic ${header}`)).toBe("echo [redacted] and Basic [redacted]");
    }
    expect(cleanServerText(`The parent ${PARENT} listed them`)).toBe(`The parent ${PARENT} listed them`);
  });
});
