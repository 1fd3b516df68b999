import { afterEach, describe, expect, it } from "vitest";
import { EXPECTED, commsCounts, fleetWorld, latestRollUp, rowsBySid, subs, type FleetWorld } from "./harness.js";

let world: FleetWorld | undefined;
afterEach(async () => {
  await world?.emu.close();
  world = undefined;
});

/** Sends `signal` once the first account's row is logged (others are then in flight or waiting). */
const killAfterFirstRow = (signal: NodeJS.Signals) => (kill: (s: NodeJS.Signals) => void, stderr: { on: (e: "data", f: (b: Buffer) => void) => void }) => {
  let seen = "";
  let sent = false;
  stderr.on("data", (b) => {
    seen += b.toString();
    if (!sent && /"outcome":"(applied|changes)"/.test(seen)) {
      sent = true;
      kill(signal);
    }
  });
};

describe("fleet: a signal", () => {
  it("SIGTERM during apply: no new account starts, those in flight stop as one account does, the roll-up is written, 143; one rerun converges with no duplicate", async () => {
    const accounts = subs(6);
    const w = (world = await fleetWorld(accounts, { latencyMs: 60 }));
    w.mapDemo(...accounts.map((a) => a.sid));
    const first = await w.cli(["apply", "--all-subaccounts", "--yes", "--accounts-concurrency", "2"], {}, killAfterFirstRow("SIGTERM"));
    expect(first.code).toBe(143);
    const rollUp = latestRollUp(w.reports, "apply");
    expect(rollUp.accounts.map((r: any) => r.accountSid).sort()).toEqual(accounts.map((a) => a.sid).sort());
    const outcomes = rollUp.accounts.map((r: any) => r.outcome);
    expect(outcomes).toContain("applied");
    expect(outcomes).toContain("interrupted");
    const notStarted = rollUp.accounts.filter((r: any) => r.problems[0]?.startsWith("not started"));
    expect(notStarted.length).toBeGreaterThan(0);
    for (const r of notStarted) {
      expect(r.exitCode).toBe(143);
      expect(w.emu.requests.some((q) => q.accountSid === r.accountSid)).toBe(false);
    }

    const rerun = await w.cli(["apply", "--all-subaccounts", "--yes", "--json"]);
    expect(rerun.code).toBe(0);
    const rows = rowsBySid(JSON.parse(rerun.stdout));
    for (const a of accounts) {
      expect(["applied", "in-sync"]).toContain(rows[a.sid].outcome);
      expect(commsCounts(w.emu, a.sid)).toEqual(EXPECTED);
    }
  });

  it("SIGINT during plan: the roll-up is still written, every account once, exit 130", async () => {
    const accounts = subs(5);
    const w = (world = await fleetWorld(accounts, { latencyMs: 60 }));
    w.mapDemo(...accounts.map((a) => a.sid));
    const run = await w.cli(["plan", "--all-subaccounts", "--accounts-concurrency", "1"], {}, killAfterFirstRow("SIGINT"));
    expect(run.code).toBe(130);
    const rollUp = latestRollUp(w.reports, "plan");
    expect(rollUp.accounts).toHaveLength(5);
    expect(rollUp.accounts.filter((r: any) => r.outcome === "interrupted").length).toBeGreaterThan(0);
    expect(w.emu.writeCount()).toBe(0);
  });
});
