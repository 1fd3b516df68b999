import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLegacyReader } from "../../src/legacy/index.js";
import { ROOT } from "../e2e/harness.js";

/**
 * The reader against Twilio's own OpenAPI description of the Conversations API, served by Prism in
 * static mode: proves the reader's requests (PageSize=100, auth, paths) are ones the official spec
 * accepts, and that it reads the spec's example records. Multi-page listing is the emulator's job
 * (Prism's example has a single page).
 */
const SPEC = join(ROOT, "test", "fixtures", "openapi", "twilio_conversations_v1.json");
const AC = "AC00000000000000000000000000000000";
let prism: ChildProcess;
let url: string;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

beforeAll(async () => {
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  prism = spawn(join(ROOT, "node_modules", ".bin", "prism"), ["mock", "-h", "127.0.0.1", "-p", String(port), SPEC], { stdio: ["ignore", "pipe", "pipe"] });
  await new Promise<void>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`prism did not start:\n${out}`)), 50_000);
    const onData = (b: Buffer) => {
      out += b.toString();
      if (out.includes("Prism is listening")) {
        clearTimeout(timer);
        resolve();
      }
    };
    prism.stdout?.on("data", onData);
    prism.stderr?.on("data", onData);
    prism.on("exit", (code) => reject(new Error(`prism exited ${code}:\n${out}`)));
  });
}, 60_000);

afterAll(() => {
  prism?.kill();
});

describe("legacy reader against Twilio's OpenAPI description (Prism, static mode)", () => {
  it("lists the spec's example credential with the fields parsed", async () => {
    const reader = createLegacyReader({ accountSid: AC, username: AC, password: "token", baseUrl: url });
    const list = await reader.listAll();
    expect(list).toEqual([
      {
        sid: "CRaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        accountSid: "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        friendlyName: "Test slow create",
        type: "apn",
        sandbox: false,
        sandboxRaw: "False",
        dateCreated: "2015-10-07T17:50:01.000Z",
        dateUpdated: "2015-10-07T17:50:01.000Z",
        url: "https://conversations.twilio.com/v1/Credentials/CRaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
      },
    ]);
  });

  it("the spec itself rejects a page size above 100, which the reader never asks for", async () => {
    const auth = { authorization: `Basic ${Buffer.from(`${AC}:token`).toString("base64")}` };
    expect((await fetch(`${url}/v1/Credentials?PageSize=101`, { headers: auth })).status).toBe(422);
    expect((await fetch(`${url}/v1/Credentials?PageSize=100`, { headers: auth })).status).toBe(200);
  });
});
