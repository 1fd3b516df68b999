/** Issue 10 items 3, 4, 5b through the built CLI: defaultApp, the rollback cascade count, init --update. */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { SAMPLE_SEED, startEmulator, type Emulator, type EmulatorOptions } from "../../src/emulator/index.js";
import { DEMO_ENV, emulatorEnv, parseJson, runCli, workspace } from "./harness.js";

let emu: Emulator | undefined;
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

async function setup(opts: EmulatorOptions = {}, defaultApp?: string) {
  emu = await startEmulator({ port: 0, ...opts });
  const ws = workspace();
  if (defaultApp) writeFileSync(ws.mapping, readFileSync(ws.mapping, "utf8").replace(/^version: 1$/m, `version: 1\ndefaultApp: ${defaultApp}`));
  const env = emulatorEnv(emu, DEMO_ENV);
  const cli = (args: string[]) => runCli([...args, "--mapping", ws.mapping, "--reports-dir", ws.reports], { env });
  return { emu, ws, cli };
}
const patches = (e: Emulator) => e.requests.filter((r) => r.method === "PATCH" && r.path.includes("/Apps/"));

describe("defaultApp (built CLI)", () => {
  it("plan shows the switch (exit 2), apply sends one PATCH, a rerun has nothing to do; inventory and status show the default App", async () => {
    const { emu, cli } = await setup({}, "limonade_ios"); // the sample account's default App is marketing_web
    const plan = await cli(["plan", "--detailed-exitcode"]);
    expect(plan.code).toBe(2);
    expect(plan.stdout).toContain("account: default App: limonade_ios instead of marketing_web");

    const applied = await cli(["apply", "--yes", "--json"]);
    expect(applied.code).toBe(0);
    const report = parseJson(applied.stdout);
    expect(report.accountActions).toEqual([
      expect.objectContaining({ action: "set-default-app", appName: "limonade_ios", from: "marketing_web", via: "patch", status: "confirmed", patched: true }),
    ]);
    expect(report.summary["set-default-app"]).toBe(1);
    expect(readFileSync(report.reportPaths.markdownPath, "utf8")).toMatch(/## Account\n\n- default App: limonade_ios instead of marketing_web.* — \*\*confirmed\*\*/);
    expect(patches(emu)).toHaveLength(1);
    expect(emu.state.defaultApp()?.name).toBe("limonade_ios");

    const writes = emu.writeCount();
    expect((await cli(["plan", "--detailed-exitcode"])).code).toBe(0);
    expect((await cli(["apply", "--yes"])).code).toBe(0);
    expect(emu.writeCount()).toBe(writes);

    const inventory = await cli(["inventory", "--comms"]);
    expect(inventory.stdout).toMatch(/in 4 App\(s\); default App: limonade_ios/);
    const inventoryJson = parseJson((await cli(["inventory", "--comms", "--json"])).stdout);
    expect(inventoryJson.defaultApp).toBe("limonade_ios");

    const status = await cli(["status", "--json"]);
    expect(status.code).toBe(0);
    expect(parseJson(status.stdout).defaultApp).toMatchObject({ live: "limonade_ios", setByCr2comms: "limonade_ios", drift: false });
    // Someone switches it back: drift (exit 2), and the text says what to do.
    emu.state.setDefaultApp("marketing_web");
    const drifted = await cli(["status"]);
    expect(drifted.code).toBe(2);
    expect(drifted.stdout).toMatch(/Default App: marketing_web is the default App; cr2comms made limonade_ios the default/);
  });

  it("on an account without Apps, the defaultApp's credentials are created first: it becomes the default App without a PATCH", async () => {
    const { emu, cli } = await setup({ seed: { ...SAMPLE_SEED, commsCredentials: [] }, latencyMs: 5 }, "limonade_android");
    const applied = await cli(["apply", "--yes", "--json"]);
    expect(applied.code).toBe(0);
    expect(parseJson(applied.stdout).accountActions[0]).toMatchObject({ via: "first-create", status: "confirmed", patched: false });
    expect(emu.state.appList()[0]?.name).toBe("limonade_android");
    expect(emu.state.defaultApp()?.name).toBe("limonade_android");
    expect(patches(emu)).toHaveLength(0);
  });

  it("on an account without Apps, a defaultApp that nothing reaches blocks the whole apply (exit 1, nothing written)", async () => {
    const { emu, cli } = await setup({ seed: { ...SAMPLE_SEED, commsCredentials: [] } }, "limonade_typo");
    const applied = await cli(["apply", "--yes"]);
    expect(applied.code).toBe(1);
    expect(applied.stdout).toMatch(/defaultApp limonade_typo is neither an existing Comms App nor the appName/);
    expect(emu.writeCount()).toBe(0);
  });
});

describe("rollback --allow-app-deletion (built CLI)", () => {
  it("counts each deleted App's device registrations before deleting and says so on the terminal and in the report", async () => {
    const { emu, cli } = await setup();
    expect((await cli(["apply", "--yes"])).code).toBe(0);
    for (let i = 0; i < 1204; i++) emu.state.register({ appName: "limonade_android", token: `t${i}`, provider: "FCM" });

    const refused = await cli(["rollback", "--yes"]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain("refused: App limonade_android would lose its last credential (and its 1,204 device registrations)");

    const run = await cli(["rollback", "--yes", "--allow-app-deletion"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("app deletion: this deletes App limonade_android and its 1,204 device registrations");
    const reportPath = /Report: (\S+\.md)/.exec(run.stdout)?.[1];
    expect(readFileSync(reportPath!, "utf8")).toContain("rollback deletes App limonade_android and its 1,204 device registrations (--allow-app-deletion)");
    expect(readFileSync(reportPath!.replace(/\.md$/, ".json"), "utf8")).toContain("its 1,204 device registrations");
    expect([...emu.state.registrations.values()]).toHaveLength(0);
  });
});

describe("init --update (built CLI)", () => {
  it("adds the account's new credentials to the demo mapping and keeps its text; a second run adds nothing", async () => {
    const { emu, ws, cli } = await setup();
    const before = readFileSync(ws.mapping, "utf8");
    const added = emu.state.createLegacy({ friendlyName: "Limonade Wear", type: "fcm", sandbox: null, secrets: {} });
    const gcm = emu.state.createLegacy({ friendlyName: "Ancient", type: "gcm", sandbox: null, secrets: {} });
    const run = await cli(["init", "--update"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`1 new credential\\(s\\) to map \\(${added.sid}\\), 1 new gcm listed as dropped`));
    const after = readFileSync(ws.mapping, "utf8");
    expect(after.startsWith(before.trimEnd())).toBe(true);
    expect(after).toContain(`- sid: ${added.sid}\n    appName: limonade_wear`);
    expect(after).toContain(`# ${gcm.sid} "Ancient" (legacy gcm)`);
    const again = await cli(["init", "--update"]);
    expect(again.stdout).toMatch(/already mentions every legacy credential/);
    expect(readFileSync(ws.mapping, "utf8")).toBe(after);
    // The updated file plans: the new entry only lacks its secret file.
    const plan = await cli(["plan", "--json"]);
    expect(parseJson(plan.stdout).items.find((i: any) => i.legacySid === added.sid)).toMatchObject({ action: "blocked" });
    expect((await cli(["init", "--update", "--force"])).code).toBe(64);
  });
});
