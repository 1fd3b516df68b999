import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openRuntime, type Runtime } from "../../src/cli/runtime.js";

const OTHER = "AC99999999999999999999999999999999";
const MINE = "AC11111111111111111111111111111111";

let runtime: Runtime | undefined;
afterEach(async () => {
  await runtime?.close();
  runtime = undefined;
});

function reportsDirWithLedgerOf(accountSid: string): string {
  const dir = join(mkdtempSync(join(tmpdir(), "cr2comms-runtime-")), "reports");
  mkdirSync(dir, { recursive: true });
  const event = { v: 1, ts: "2025-06-01T12:00:00.000Z", accountSid, legacySid: "CR00000000000000000000000000000001", event: "confirmed", commsCredentialId: "comms_credential_x" };
  writeFileSync(join(dir, "ledger.jsonl"), JSON.stringify(event) + "\n");
  return dir;
}

describe("openRuntime: the ledger is bound to the run's account", () => {
  it("refuses a ledger of another account (--emulator)", async () => {
    const reportsDir = reportsDirWithLedgerOf(OTHER);
    runtime = await openRuntime({ emulator: true, reportsDir, logLevel: "silent" }, {});
    await expect(runtime.ledger.entries()).rejects.toThrow(OTHER);
  });

  it("refuses a ledger of another account (credentials from the environment)", async () => {
    const reportsDir = reportsDirWithLedgerOf(OTHER);
    runtime = await openRuntime({ reportsDir, logLevel: "silent" }, { TWILIO_ACCOUNT_SID: MINE, TWILIO_AUTH_TOKEN: "not-a-real-token" });
    await expect(runtime.ledger.entries()).rejects.toThrow(OTHER);
  });

  it("reads its own account's ledger, and stamps what it appends with the account", async () => {
    const reportsDir = reportsDirWithLedgerOf(MINE);
    runtime = await openRuntime({ reportsDir, logLevel: "silent" }, { TWILIO_ACCOUNT_SID: MINE, TWILIO_AUTH_TOKEN: "not-a-real-token" });
    expect((await runtime.ledger.entries()).size).toBe(1);
    await runtime.ledger.append({ event: "deleted", legacySid: "CR00000000000000000000000000000001", commsCredentialId: "comms_credential_x" });
    const last = readFileSync(join(reportsDir, "ledger.jsonl"), "utf8").trim().split("\n").at(-1)!;
    expect(JSON.parse(last)).toMatchObject({ accountSid: MINE, event: "deleted" });
  });
});
