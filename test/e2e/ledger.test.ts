import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startEmulator, type Emulator } from "../../src/emulator/index.js";
import { DEMO_ENV, emulatorEnv, parseJson, runCli, workspace } from "./harness.js";

let emu: Emulator | undefined;
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

/** A workspace where `apply` has migrated the demo mapping against a fresh emulator. */
async function applied() {
  emu = await startEmulator({ port: 0 });
  const ws = workspace();
  const env = emulatorEnv(emu, DEMO_ENV);
  const common = ["--mapping", ws.mapping, "--reports-dir", ws.reports];
  const cli = (args: string[]) => runCli([...args, ...common], { env });
  const first = await cli(["apply", "--yes"]);
  expect(first.code).toBe(0);
  return { emu, ws, env, cli, ledger: join(ws.reports, "ledger.jsonl") };
}

const lines = (path: string) => readFileSync(path, "utf8").split("\n").filter(Boolean);

describe("cr2comms ledger", () => {
  it("check flags a copied old line and an event from the future, naming each line and why (exit 1)", async () => {
    const { cli, ledger } = await applied();
    const good = lines(ledger);
    const attempt = good.find((l) => JSON.parse(l).event === "attempt")!;
    const confirmed = JSON.parse(good.find((l) => JSON.parse(l).event === "confirmed")!);
    const ahead = JSON.stringify({ ...confirmed, ts: new Date(Date.now() + 2 * 86_400_000).toISOString(), runId: "run-of-a-clock-ahead" });
    writeFileSync(ledger, [...good, attempt, ahead].join("\n") + "\n");
    const check = await cli(["ledger", "check"]);
    expect(check.code).toBe(1);
    expect(check.stdout).toContain(`line ${good.length + 1}: repeats attempt`);
    expect(check.stdout).toMatch(new RegExp(`line ${good.length + 2}: stamped \\S+, 2 days ahead of this machine's clock`));
    const json = parseJson(await cli(["ledger", "check", "--json"]).then((r) => r.stdout));
    expect(json).toMatchObject({ ok: false, problems: [{ kind: "stale", line: good.length + 1 }, { kind: "future", line: good.length + 2 }] });
  });

  it("check finds a damaged line, plan refuses it naming file:line, repair sets it aside keeping every readable event", async () => {
    const { cli, ledger, ws } = await applied();
    const check = await cli(["ledger", "check"]);
    expect(check.code).toBe(0);
    expect(check.stdout).toMatch(new RegExp(`ledger ${ledger} OK: \\d+ events, 4 credentials`));

    const good = lines(ledger);
    const damaged = [...good.slice(0, 2), '{"v":1,"ts":"2026-01-01T00:00:00Z","event":"confirm', ...good.slice(2)];
    writeFileSync(ledger, damaged.join("\n") + "\n");

    const bad = await cli(["ledger", "check", "--json"]);
    expect(bad.code).toBe(1);
    expect(parseJson(bad.stdout)).toMatchObject({ ok: false, events: good.length, problems: [{ kind: "malformed", line: 3 }] });

    const plan = await cli(["plan"]);
    expect(plan.code).toBe(1);
    expect(plan.stderr).toContain(`ledger ${ledger}:3:`);
    expect(plan.stderr).toContain("cr2comms ledger repair");

    const repair = await cli(["ledger", "repair"]);
    expect(repair.stderr).toBe("");
    expect(repair.code).toBe(0);
    expect(repair.stdout).toMatch(/moved 1 unreadable line\(s\) to .*ledger\.jsonl\.unreadable-\d{8}T\d{6}Z; kept all \d+ readable events/);
    expect(repair.stdout).toContain("line 3: malformed");
    expect(lines(ledger)).toEqual(good);
    const side = readdirSync(ws.reports).filter((n) => n.startsWith("ledger.jsonl.unreadable-"));
    expect(side).toHaveLength(1);
    expect(JSON.parse(readFileSync(join(ws.reports, side[0]!), "utf8"))).toMatchObject({ line: 3, kind: "malformed" });
    expect(readdirSync(ws.reports).filter((n) => n.endsWith(".lock"))).toEqual([]);

    expect((await cli(["ledger", "check"])).code).toBe(0);
    expect((await cli(["plan", "--detailed-exitcode"])).code).toBe(0);
  });

  it("rebuild from the apply reports after the ledger was deleted: plan then has nothing to create", async () => {
    const { emu, cli, ledger, ws } = await applied();
    rmSync(ledger);
    // Without the ledger the plan would create every credential a second time.
    expect((await cli(["plan", "--detailed-exitcode"])).code).toBe(2);
    const lost = await cli(["ledger", "check"]);
    expect(lost.code).toBe(1);
    expect(lost.stdout).toMatch(/the ledger is missing but .* holds 1 apply report\(s\).*cr2comms ledger rebuild/);

    const rebuilt = await cli(["ledger", "rebuild"]);
    expect(rebuilt.stderr).toBe("");
    expect(rebuilt.code).toBe(0);
    expect(rebuilt.stdout).toMatch(new RegExp(`rebuilt the ledger ${ledger} for ${emu.accountSid}: 4 events, 4 credentials, from 1 report`));
    expect(rebuilt.stdout).toMatch(/apply-\d{8}T\d{6}Z\.json: 4 event\(s\)/);

    expect((await cli(["plan", "--detailed-exitcode"])).code).toBe(0);
    const writes = emu.writeCount();
    const again = await cli(["apply", "--yes", "--json"]);
    expect(again.code).toBe(0);
    expect(emu.writeCount()).toBe(writes);
    expect(parseJson(again.stdout).summary.create ?? 0).toBe(0);

    // A second rebuild is refused: the ledger holds events now.
    const refused = await cli(["ledger", "rebuild"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/already holds .* --force/);
    expect(existsSync(ws.reports)).toBe(true);
  });

  it("repair and rebuild wait for the run holding the lock, which they name", async () => {
    const { cli, ledger } = await applied();
    writeFileSync(`${ledger}.lock`, JSON.stringify({ pid: process.pid, host: hostname(), command: "apply", startedAt: "2026-01-01T00:00:00.000Z", id: "x" }));
    const before = readFileSync(ledger, "utf8");
    for (const action of ["repair", "rebuild"]) {
      const run = await cli(["ledger", action]);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(`cr2comms: another cr2comms apply (pid ${process.pid} on host ${hostname()}, started 2026-01-01T00:00:00.000Z) holds ${ledger}.lock`);
    }
    expect(readFileSync(ledger, "utf8")).toBe(before);
    // check only reads: it needs no lock.
    expect((await cli(["ledger", "check"])).code).toBe(0);
  });

  it("an unknown action is a usage error", async () => {
    const run = await runCli(["ledger", "fix"]);
    expect(run.code).toBe(64);
  });
});
