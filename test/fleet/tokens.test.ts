import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { allFiles, fleetWorld, subs, type FleetWorld } from "./harness.js";

let world: FleetWorld | undefined;
let proxy: Server | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (proxy ? proxy.close(() => resolve()) : resolve()));
  proxy?.closeAllConnections();
  proxy = undefined;
  await world?.emu.close();
  world = undefined;
});

/**
 * Forwards to the emulator, except that requests signed by `echoing` accounts (and, when asked,
 * the Accounts list) are answered 400 with everything they carried: the Authorization header, its
 * decoded user:password, and the body.
 */
async function echoingProxy(target: string, echoing: (user: string, path: string, method: string) => boolean): Promise<string> {
  proxy = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const header = req.headers.authorization ?? "";
      const decoded = Buffer.from(header.replace(/^Basic\s+/i, ""), "base64").toString("utf8");
      const user = decoded.split(":")[0] ?? "";
      if (echoing(user, req.url ?? "", req.method ?? "GET")) {
        const text = JSON.stringify({ code: 20001, message: `rejected ${decoded} sent as ${header} password ${decoded.split(":")[1]} with ${body}`, status: 400 });
        res.writeHead(400, { "content-type": "application/json" });
        res.end(text);
        return;
      }
      const url = new URL(req.url ?? "/", target);
      const forward = request(url, { method: req.method, headers: { ...req.headers, host: url.host } }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      forward.on("error", () => res.destroy());
      forward.end(body);
    });
  });
  await new Promise<void>((resolve) => proxy!.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(proxy!.address() as AddressInfo).port}`;
}

describe("fleet: no token of any account leaves memory", () => {
  it("with a server that echoes credentials back, no token is in stdout, stderr at any log level, reports, roll-ups or ledgers", async () => {
    const accounts = subs(3);
    const [readEcho, writeEcho, fine] = accounts;
    const w = (world = await fleetWorld(accounts));
    w.mapDemo(...accounts.map((a) => a.sid));
    const url = await echoingProxy(w.emu.url, (user, path, method) => (user === readEcho!.sid && path.startsWith("/v1/Credentials")) || (user === writeEcho!.sid && method === "POST"));
    const env = { CR2COMMS_CONVERSATIONS_URL: url, CR2COMMS_COMMS_URL: url, CR2COMMS_API_URL: url };
    const tokens = [w.emu.authToken, ...accounts.map((a) => a.authToken)];
    const outputs: string[] = [];
    for (const level of ["trace", "debug", "info"]) {
      const plan = await w.cli(["plan", "--all-subaccounts", "--log-level", level], env);
      const apply = await w.cli(["apply", "--all-subaccounts", "--yes", "--log-level", level, ...(level === "debug" ? ["--log-format", "pretty"] : [])], env);
      expect(apply.code).toBe(1);
      outputs.push(plan.stdout, plan.stderr, apply.stdout, apply.stderr);
    }
    // The echoes happened and were reported (cleaned) in their rows.
    expect(outputs.join("\n")).toMatch(/rejected/);
    expect(w.emu.writeCount(fine!.sid)).toBe(4);
    const files = [...allFiles(w.reports), ...allFiles(w.env.CR2COMMS_STATE_DIR!)];
    expect(files.some((f) => f.path.endsWith("ledger.jsonl"))).toBe(true);
    for (const token of tokens) {
      const basic = (sid: string) => Buffer.from(`${sid}:${token}`).toString("base64");
      for (const text of [...outputs, ...files.map((f) => f.text)]) {
        expect(text).not.toContain(token);
        for (const sid of [w.emu.accountSid, ...accounts.map((a) => a.sid)]) expect(text).not.toContain(basic(sid));
      }
    }
  });

  it("an Accounts list answer that echoes the parent's credentials does not put them in the error", async () => {
    const w = (world = await fleetWorld(subs(1)));
    const url = await echoingProxy(w.emu.url, (_user, path) => path.startsWith("/2010-04-01/"));
    const run = await w.cli(["plan", "--all-subaccounts", "--log-level", "trace"], { CR2COMMS_API_URL: url });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/Accounts API error 400/);
    expect(run.stdout + run.stderr).not.toContain(w.emu.authToken);
    expect(run.stdout + run.stderr).not.toContain(Buffer.from(`${w.emu.accountSid}:${w.emu.authToken}`).toString("base64"));
  });
});
