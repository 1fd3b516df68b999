import { cpSync, mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT, parseJson, runCli } from "../e2e/harness.js";

describe("fleet rehearsal with --emulator (no account)", () => {
  it("init with templates → plan → apply → apply again → status → rollback over a parent's three sample subaccounts, one suspended", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cr2comms-fleet-rehearsal-"));
    cpSync(join(ROOT, "mappings", "examples"), join(dir, "mappings", "examples"), { recursive: true });
    const cli = (args: string[]) => runCli([...args, "--emulator", "--json"], { cwd: dir, env: { CR2COMMS_STATE_DIR: join(dir, "state") } });

    const init = await cli(["init", "--all-subaccounts", "--app-name-template", "{accountName}_{type}", "--secrets-template", "file:../examples/secrets/fleet/{sid}.{part}"]);
    expect(init.code).toBe(0);
    const written = readdirSync(join(dir, "mappings", "accounts")).sort();
    expect(written).toHaveLength(2);
    const mapping = readFileSync(join(dir, "mappings", "accounts", written[0]!), "utf8");
    expect(mapping).toMatch(/appName: customer_\d_apn/);
    expect(mapping).toContain('certificate: "file:../examples/secrets/fleet/CR00000000000000000000000000000001.certificate"');
    const initRows = parseJson(init.stdout).accounts;
    expect(initRows.map((r: any) => r.outcome).sort()).toEqual(["changes", "changes", "skipped"]);

    const plan = await cli(["plan", "--all-subaccounts", "--detailed-exitcode"]);
    expect(plan.code).toBe(2);
    expect(parseJson(plan.stdout).summary).toMatchObject({ accounts: 3, outcomes: { changes: 2, skipped: 1 }, credentials: { create: 10, drop: 2 } });

    const apply = await cli(["apply", "--all-subaccounts", "--yes"]);
    expect(apply.code).toBe(0);
    expect(parseJson(apply.stdout).summary.outcomes).toEqual({ applied: 2, skipped: 1 });
    // The Comms side is kept per account between rehearsal runs: the rerun has nothing to do.
    const again = await cli(["apply", "--all-subaccounts", "--yes"]);
    expect(again.code).toBe(0);
    expect(parseJson(again.stdout).summary.outcomes).toEqual({ "in-sync": 2, skipped: 1 });

    const status = await cli(["status", "--all-subaccounts"]);
    expect(status.code).toBe(0);
    const rollback = await cli(["rollback", "--all-subaccounts", "--yes", "--allow-app-deletion"]);
    expect(rollback.code).toBe(0);
    expect(parseJson(rollback.stdout).summary.credentials).toMatchObject({ delete: 10 });
  });
});
