import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { sampleSubaccounts } from "../../src/emulator/index.js";
import { CLI } from "../e2e/harness.js";

describe("cr2comms emulator --subaccounts N", () => {
  it("serves the parent and N subaccounts, printing the parent's credentials only; the Accounts API lists them with their own tokens", async () => {
    const child = spawn(process.execPath, [CLI, "emulator", "--subaccounts", "3"], { stdio: ["ignore", "pipe", "pipe"] });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let out = "";
        child.stdout.on("data", (b: Buffer) => {
          out += b.toString();
          if (out.includes("\n")) resolve(out);
        });
        child.on("error", reject);
        child.on("close", () => reject(new Error(`emulator exited: ${out}`)));
      });
      const subs = sampleSubaccounts("AC00000000000000000000000000000000", 3);
      expect(line).toContain("TWILIO_AUTH_TOKEN=emulator-auth-token");
      expect(line).toContain("3 subaccounts");
      for (const s of subs) expect(line).not.toContain(s.authToken);
      const url = /listening on (http:\/\/[\d.:]+)/.exec(line)![1]!;
      const auth = `Basic ${Buffer.from("AC00000000000000000000000000000000:emulator-auth-token").toString("base64")}`;
      const listed = (await (await fetch(`${url}/2010-04-01/Accounts.json`, { headers: { authorization: auth } })).json()) as { accounts: { sid: string; auth_token: string }[] };
      expect(listed.accounts.map((a) => a.sid)).toEqual(["AC00000000000000000000000000000000", ...subs.map((s) => s.sid)]);
      expect(listed.accounts.slice(1).map((a) => a.auth_token)).toEqual(subs.map((s) => s.authToken));
      // A subaccount's own token reads its own legacy credentials.
      const own = await fetch(`${url}/v1/Credentials`, { headers: { authorization: `Basic ${Buffer.from(`${subs[0]!.sid}:${subs[0]!.authToken}`).toString("base64")}` } });
      expect(((await own.json()) as { credentials: unknown[] }).credentials).toHaveLength(6);
    } finally {
      child.kill("SIGINT");
    }
  });
});
