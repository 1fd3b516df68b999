import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runAsAccount, type AccountRun } from "../../src/cli/account-run.js";
import { resolveSettings } from "../../src/cli/config.js";
import { observeAndPlan } from "../../src/cli/pipeline.js";
import { accountRuntime } from "../../src/cli/runtime.js";
import { watchStopSignals } from "../../src/cli/signals.js";
import type { SecretResult } from "../../src/domain.js";
import { sampleSubaccount, startEmulator, type Emulator } from "../../src/emulator/index.js";
import { createDispatcher } from "../../src/http/agent.js";
import { silentLogger } from "../../src/log.js";
import { ROOT } from "../e2e/harness.js";

const PARENT = "AC00000000000000000000000000000000";
let emu: Emulator | undefined;
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

describe("fleet: a secret file used by many accounts", () => {
  it("is read and validated once per run: the second account plans from what the first read", async () => {
    const accounts = [sampleSubaccount(PARENT, 1), sampleSubaccount(PARENT, 2)];
    emu = await startEmulator({ subaccounts: accounts });
    const dir = mkdtempSync(join(tmpdir(), "cr2comms-shared-"));
    cpSync(join(ROOT, "mappings", "examples", "secrets"), join(dir, "secrets"), { recursive: true });
    const mapping = join(dir, "shared.yaml");
    writeFileSync(
      mapping,
      `version: 1\ncredentials:\n  - sid: CR00000000000000000000000000000001\n    appName: ios\n    secrets:\n      certificate: file:secrets/limonade-ios-prod.cert.pem\n      privateKey: file:secrets/limonade-ios-prod.key.pem\n  - sid: CR00000000000000000000000000000003\n    appName: android\n    secrets:\n      serviceAccount: file:secrets/limonade-android-sa.json\n`,
    );
    const dispatcher = createDispatcher({ proxy: false });
    const stop = watchStopSignals(() => undefined);
    const shared = new Map<string, Promise<SecretResult>>();
    const base = resolveSettings({ mapping, reportsDir: join(dir, "reports"), logLevel: "silent" }, {}, dir);
    const planFor = async (sid: string, secrets: Map<string, Promise<SecretResult>> | undefined) => {
      const account = accounts.find((a) => a.sid === sid)!;
      const runtime = accountRuntime({
        settings: { ...base, conversationsUrl: emu!.url, commsUrl: emu!.url, reportsDir: join(dir, "reports", sid), ledgerPath: join(dir, "reports", sid, "ledger.jsonl") },
        credentials: { accountSid: sid, username: sid, password: account.authToken, kind: "auth-token" },
        logger: silentLogger,
        dispatcher,
      });
      const go = () => observeAndPlan(runtime, { now: () => new Date(), interactive: false, env: {} });
      try {
        if (!secrets) return await go();
        const run: AccountRun = { runtime, stop, secrets };
        return await runAsAccount(run, go);
      } finally {
        await runtime.close();
      }
    };
    try {
      const first = await planFor(accounts[0]!.sid, shared);
      expect(first.plan.items.filter((i) => i.action === "create")).toHaveLength(2);
      expect(shared.size).toBe(2);
      // The files are gone: only what was read and validated once can make the second plan.
      rmSync(join(dir, "secrets"), { recursive: true });
      const second = await planFor(accounts[1]!.sid, shared);
      expect(second.plan.items.filter((i) => i.action === "create")).toHaveLength(2);
      expect(second.plan.items.every((i) => i.problems.length === 0)).toBe(true);
      // Without the run's shared secrets the same plan is blocked: the files are read per account otherwise.
      const alone = await planFor(accounts[1]!.sid, undefined);
      expect(alone.plan.items.filter((i) => i.action === "blocked")).toHaveLength(2);
    } finally {
      stop.dispose();
      await dispatcher.close();
    }
  });
});
