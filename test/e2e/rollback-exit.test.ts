/**
 * Review finding R4 (test/review/README.md): a rollback whose delete is accepted but never seen
 * gone is not a success — the built CLI exits 1, as apply does for a create not yet visible.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, onTestFinished } from "vitest";
import { startEmulator, type Emulator } from "../../src/emulator/index.js";
import { emulatorEnv, parseJson, runCli } from "./harness.js";

const SID1 = `CR${"0".repeat(31)}1`;

describe("rollback: a delete not seen gone", () => {
  let emu: Emulator | undefined;
  afterEach(async () => {
    await emu?.close();
    emu = undefined;
  });

  it("R4: every check after an accepted delete fails (503): the CLI exits 1 (as apply does for unconfirmed), not 0", async () => {
    emu = await startEmulator({
      port: 0,
      seed: { commsCredentials: [{ appName: "app_a", credentialType: "FCM" }, { appName: "app_a", credentialType: "APN" }] },
      // Every read of one credential answers 503 (Retry-After: 0): the gone-check cannot tell.
      faults: { retryAfterSeconds: 0, script: [{ method: "GET", path: /Credentials\/comms_/, kind: "503", times: 1_000 }] },
    });
    const target = emu.state.commsCredentials()[0]!;
    const dir = mkdtempSync(join(tmpdir(), "cr2comms-rb-review-"));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const reports = join(dir, "reports");
    mkdirSync(reports);
    const ts = new Date().toISOString();
    writeFileSync(
      join(reports, "ledger.jsonl"),
      JSON.stringify({ v: 1, ts, accountSid: emu.accountSid, legacySid: SID1, event: "confirmed", commsCredentialId: target.id, appName: target.appName, credentialType: target.credentialType }) + "\n",
    );
    const run = await runCli(["rollback", "--yes", "--json", "--reports-dir", reports], { env: { ...emulatorEnv(emu), LOG_LEVEL: "error" } });
    const report = parseJson<{ items: { status: string; warnings: string[] }[] }>(run.stdout);
    expect(report.items.map((i) => i.status)).toEqual(["accepted-unconfirmed"]);
    expect(emu.state.commsCredentials().map((c) => c.id)).not.toContain(target.id); // (the emulator did delete it)
    // Before aa423d1 this item was "failed" (exit 1). Expected: not a success exit while nothing is confirmed.
    expect(run.code, run.stderr).toBe(1);
    // Not seen gone: not journalled, so a rerun checks it again.
    expect(readFileSync(join(reports, "ledger.jsonl"), "utf8")).not.toMatch(/"deleted"/);
  }, 20_000);

});
