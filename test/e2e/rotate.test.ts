import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startEmulator, type Emulator } from "../../src/emulator/index.js";
import { FIXTURES } from "../secrets/helpers.js";
import { DEMO_ENV, emulatorEnv, parseJson, runCli, workspace } from "./harness.js";

const SID = (n: number) => `CR${String(n).padStart(32, "0")}`;
let emu: Emulator | undefined;
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

/** The demo mapping applied to an emulator; `renew()` points SID1 at another production certificate. */
async function migrated(latencyMs = 0) {
  emu = await startEmulator({ port: 0, latencyMs });
  const e = emu;
  const ws = workspace();
  const env = emulatorEnv(e, DEMO_ENV);
  const cli = (args: string[]) => runCli([...args, "--json", "--mapping", ws.mapping, "--reports-dir", ws.reports], { env });
  const applied = await cli(["apply", "--yes"]);
  expect(applied.code).toBe(0);
  const oldId: string = parseJson(applied.stdout).items.find((i: any) => i.legacySid === SID(1)).commsCredentialId;
  const renew = () => {
    const dir = join(ws.dir, "mappings", "examples", "secrets");
    copyFileSync(join(FIXTURES, "apn-cn-prod.cert.pem"), join(dir, "renewed.cert.pem"));
    copyFileSync(join(FIXTURES, "apn-cn-prod.key.pem"), join(dir, "renewed.key.pem"));
    const text = readFileSync(ws.mapping, "utf8")
      .replace("limonade-ios-prod.cert.pem", "renewed.cert.pem")
      .replace("limonade-ios-prod.key.pem", "renewed.key.pem");
    writeFileSync(ws.mapping, text);
  };
  const writes = () => e.requests.filter((r) => r.method !== "GET").length;
  const apns = () => e.state.commsCredentials().filter((c) => c.appName === "limonade_ios" && c.credentialType === "APN");
  return { emu: e, ws, cli, oldId, renew, writes, apns };
}

describe("rotation through the CLI", () => {
  it("plan --detailed-exitcode exits 2 on a replace; apply replaces it; a rerun writes nothing", async () => {
    const w = await migrated();
    w.renew();
    const planned = await w.cli(["plan", "--detailed-exitcode"]);
    expect(planned.code).toBe(2);
    const plan = parseJson(planned.stdout);
    const item = plan.items.find((i: any) => i.legacySid === SID(1));
    expect(item).toMatchObject({ action: "replace", replaces: { commsCredentialId: w.oldId, wasDefault: true } });
    expect(item.replaces.secret.certSha256).not.toBe(item.secret.certSha256);
    expect(item.secret.notAfter).toMatch(/^20\d\d-/);
    expect(readFileSync(plan.reportPaths.markdownPath, "utf8")).toContain(`replace of ${w.oldId}`);

    const applied = await w.cli(["apply", "--yes"]);
    expect(applied.code).toBe(0);
    const done = parseJson(applied.stdout).items.find((i: any) => i.legacySid === SID(1));
    expect(done).toMatchObject({ action: "replace", status: "confirmed", replaces: { commsCredentialId: w.oldId } });
    expect(w.apns()).toMatchObject([{ id: done.commsCredentialId, isDefault: true }]);
    const ledger = readFileSync(join(w.ws.reports, "ledger.jsonl"), "utf8");
    expect(ledger).toContain(`"reason":"replaced by ${done.commsCredentialId}"`);
    expect(ledger).not.toMatch(/BEGIN|PRIVATE/);

    const before = w.writes();
    const rerun = await w.cli(["apply", "--yes"]);
    expect(rerun.code).toBe(0);
    expect(parseJson(rerun.stdout).items.find((i: any) => i.legacySid === SID(1)).action).toBe("already-migrated");
    expect(w.writes()).toBe(before);
    expect((await w.cli(["plan", "--detailed-exitcode"])).code).toBe(0);
  });

  it("apply --replace <sid> forces a replacement; a malformed sid is a usage error", async () => {
    const w = await migrated();
    const forced = await w.cli(["apply", "--yes", "--replace", SID(1)]);
    expect(forced.code).toBe(0);
    const item = parseJson(forced.stdout).items.find((i: any) => i.legacySid === SID(1));
    expect(item).toMatchObject({ action: "replace", status: "confirmed", replaces: { commsCredentialId: w.oldId, forced: true } });
    expect(w.apns().map((c) => c.id)).toEqual([item.commsCredentialId]);

    const bad = await w.cli(["apply", "--yes", "--replace", "CRnope"]);
    expect(bad.code).toBe(64);
    expect(bad.stderr).toMatch(/--replace: "CRnope" is not a legacy credential sid/);
  });
});

describe("rotation: SIGKILL in the middle of a replacement, then one rerun", () => {
  // Each step reaches the server (which carries it out, as Twilio would) before the CLI can journal its answer.
  const steps = [
    { name: "the new credential's create", journalled: "attempt", hit: (r: { method: string; path: string }) => r.method === "POST" && /\/PushNotifications\/Credentials$/.test(r.path) },
    { name: "the default switch", journalled: "confirmed", hit: (r: { method: string }) => r.method === "PATCH" },
    { name: "the old credential's delete", journalled: "default-set", hit: (r: { method: string }) => r.method === "DELETE" },
  ];
  for (const step of steps) {
    it(`killed once ${step.name} reached Comms: the rerun finishes it — one new credential, the default on it, the old one deleted once`, async () => {
      const w = await migrated(300);
      w.renew();
      const start = w.emu.requests.length;
      const killed = await runCli(["apply", "--yes", "--mapping", w.ws.mapping, "--reports-dir", w.ws.reports], {
        env: emulatorEnv(w.emu, DEMO_ENV),
        onSpawn: (kill) => {
          const timer = setInterval(() => {
            if (w.emu.requests.slice(start).some(step.hit)) {
              clearInterval(timer);
              kill("SIGKILL");
            }
          }, 10);
        },
      });
      expect(killed.signal).toBe("SIGKILL");
      expect(w.apns().length).toBeGreaterThanOrEqual(1); // never emptied
      // Killed before the step's answer was journalled: the ledger's last word on SID1 is the step before.
      const events = readFileSync(join(w.ws.reports, "ledger.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
      expect(events.filter((e) => e.legacySid === SID(1)).at(-1).event).toBe(step.journalled);

      const rerun = await w.cli(["apply", "--yes"]);
      expect(rerun.code).toBe(0);
      const item = parseJson(rerun.stdout).items.find((i: any) => i.legacySid === SID(1));
      expect(item).toMatchObject({ action: "replace", status: "confirmed" });
      expect(w.apns()).toMatchObject([{ id: item.commsCredentialId, isDefault: true }]);
      const sent = w.emu.requests.slice(start);
      expect(sent.filter((r) => r.method === "POST" && /\/PushNotifications\/Credentials$/.test(r.path))).toHaveLength(1);
      expect(sent.filter((r) => r.method === "DELETE").map((r) => r.path)).toEqual([expect.stringContaining(w.oldId)]);

      const before = w.writes();
      const again = await w.cli(["apply", "--yes"]);
      expect(again.code).toBe(0);
      expect(w.writes()).toBe(before);
    });
  }
});

describe("status: expiry and legacy-gone through the CLI", () => {
  it("shows each certificate's expiry; --expiring-within exits 2 naming them, 0 otherwise, 64 on a bad value", async () => {
    const w = await migrated();
    const plain = await w.cli(["status"]);
    expect(plain.code).toBe(0);
    const rows = parseJson(plain.stdout).items;
    const ios = rows.find((r: any) => r.legacySid === SID(1));
    expect(ios.notAfter).toMatch(/^20\d\d-/);
    expect(ios.daysLeft).toBeGreaterThan(365);
    expect(rows.find((r: any) => r.legacySid === SID(3)).notAfter).toBeUndefined(); // FCM: no certificate

    const far = await w.cli(["status", "--expiring-within", "36500"]);
    expect(far.code).toBe(2);
    const farJson = parseJson(far.stdout);
    expect(farJson.drift).toBe(false);
    expect(farJson.expiring.map((r: any) => r.legacySid).sort()).toEqual([SID(1), SID(2), SID(5)]);

    expect((await w.cli(["status", "--expiring-within", "30"])).code).toBe(0);
    const text = await runCli(["status", "--expiring-within", "36500", "--mapping", w.ws.mapping, "--reports-dir", w.ws.reports], { env: emulatorEnv(w.emu, DEMO_ENV) });
    expect(text.code).toBe(2);
    expect(text.stdout).toMatch(/Expiring within 36500 day\(s\): 3/);
    expect(text.stdout).toMatch(/d left\)/);

    const bad = await w.cli(["status", "--expiring-within", "soon"]);
    expect(bad.code).toBe(64);
    expect(bad.stderr).toMatch(/--expiring-within must be a whole number of days/);
  });

  it("a migrated legacy credential deleted since is legacy-gone in plan (a warning) and status; its credential is kept", async () => {
    const w = await migrated();
    const android = w.emu.state.commsCredentials().find((c) => c.appName === "limonade_android")!;
    w.emu.state.legacy.delete(SID(3));
    const planned = await w.cli(["plan", "--detailed-exitcode"]);
    expect(planned.code).toBe(0);
    const plan = parseJson(planned.stdout);
    expect(plan.problems).toEqual([]);
    expect(plan.items.find((i: any) => i.legacySid === SID(3))).toMatchObject({ action: "legacy-gone", commsCredentialId: android.id });
    const applied = await w.cli(["apply", "--yes"]);
    expect(applied.code).toBe(0);
    expect(w.emu.state.commsCredentials().some((c) => c.id === android.id)).toBe(true);
    const status = await w.cli(["status"]);
    expect(status.code).toBe(0);
    expect(parseJson(status.stdout).items.find((r: any) => r.legacySid === SID(3))).toMatchObject({ kind: "legacy-gone", commsCredentialId: android.id });
  });
});
