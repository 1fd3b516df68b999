import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { sampleSubaccount } from "../../src/emulator/index.js";
import { parseJson } from "../e2e/harness.js";
import { EXPECTED, PARENT, SID, commsCounts, fleetWorld, latestRollUp, rowsBySid, subs, type FleetWorld } from "./harness.js";

let world: FleetWorld | undefined;
afterEach(async () => {
  await world?.emu.close();
  world = undefined;
});

const LEGACY_SIDS = [1, 2, 3, 4, 5, 6].map(SID);

describe("fleet: plan → apply → rerun over every subaccount", () => {
  it("works each active subaccount once with its own token, writes only to it, and a rerun writes nothing", async () => {
    const active = subs(3);
    const suspended = sampleSubaccount(PARENT, 4, { status: "suspended" });
    const closed = sampleSubaccount(PARENT, 5, { status: "closed" });
    const empty = sampleSubaccount(PARENT, 6, { legacy: false });
    const w = (world = await fleetWorld([...active, suspended, closed, empty]));
    w.mapDemo(...active.map((s) => s.sid));

    const plan = await w.cli(["plan", "--all-subaccounts", "--json", "--detailed-exitcode"]);
    expect(plan.stderr).not.toMatch(/unexpected error/);
    expect(plan.code).toBe(2);
    expect(w.emu.writeCount()).toBe(0);
    const planned = parseJson(plan.stdout);
    expect(planned).toMatchObject({ schemaVersion: 1, kind: "fleet", command: "plan", parentAccountSid: PARENT });
    // Every selected account exactly once; the parent (listed by Twilio among its subaccounts) is not selected.
    expect(planned.accounts.map((r: any) => r.accountSid).sort()).toEqual([...active, suspended, closed, empty].map((s) => s.sid).sort());
    const byPlan = rowsBySid(planned);
    for (const s of active) expect(byPlan[s.sid]).toMatchObject({ outcome: "changes", exitCode: 2, summary: { create: 4, drop: 1, skip: 1 } });
    expect(byPlan[suspended.sid]).toMatchObject({ outcome: "skipped", accountStatus: "suspended", exitCode: 0 });
    expect(byPlan[closed.sid]).toMatchObject({ outcome: "skipped", accountStatus: "closed", exitCode: 0 });
    expect(byPlan[empty.sid]).toMatchObject({ outcome: "empty", exitCode: 0 });
    expect(planned.summary).toMatchObject({ accounts: 6, outcomes: { changes: 3, skipped: 2, empty: 1 }, credentials: { create: 12 } });

    const apply = await w.cli(["apply", "--all-subaccounts", "--yes", "--json"]);
    expect(apply.code).toBe(0);
    const applied = rowsBySid(parseJson(apply.stdout));
    for (const s of active) {
      expect(applied[s.sid]).toMatchObject({ outcome: "applied", exitCode: 0 });
      expect(commsCounts(w.emu, s.sid)).toEqual(EXPECTED);
      // Exactly its own four creates, each signed by this account.
      expect(w.emu.writeCount(s.sid)).toBe(4);
      // Every legacy credential of the account exactly once in its report.
      const report = JSON.parse(readFileSync(join(w.reports, applied[s.sid].report), "utf8"));
      expect(report.accountSid).toBe(s.sid);
      expect(report.items.map((i: any) => i.legacySid).sort()).toEqual(LEGACY_SIDS);
    }
    for (const s of [PARENT, suspended.sid, closed.sid, empty.sid]) expect(w.emu.writeCount(s)).toBe(0);
    expect(w.emu.writeCount()).toBe(12);
    // Each account kept the single-account layout.
    for (const s of active) expect(readFileSync(join(w.reports, "accounts", s.sid, "ledger.jsonl"), "utf8")).toContain(s.sid);

    const before = w.emu.writeCount();
    const rerun = await w.cli(["apply", "--all-subaccounts", "--yes", "--json"]);
    expect(rerun.code).toBe(0);
    expect(w.emu.writeCount()).toBe(before);
    for (const s of active) expect(rowsBySid(parseJson(rerun.stdout))[s.sid]).toMatchObject({ outcome: "in-sync", exitCode: 0 });

    const status = await w.cli(["status", "--all-subaccounts", "--expiring-within", "1"]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/6 account\(s\): 4 in-sync, 2 skipped/);
    expect(latestRollUp(w.reports, "status").accounts).toHaveLength(6);
  });
});

describe("fleet: one account's failure never stops or changes the others", () => {
  it("a 5xx storm, a 403, a broken mapping, a held lock, a missing mapping and a suspension after listing each get one row saying why", async () => {
    const [ok, storm, broken, locked, unmapped, racing, forbidden] = subs(7);
    racing!.suspendAfterListing = true;
    const w = (world = await fleetWorld([ok!, storm!, broken!, locked!, unmapped!, racing!, forbidden!], {
      faults: {
        script: [
          { account: storm!.sid, path: "/v1/Credentials", kind: "503", times: 1000 },
          { account: forbidden!.sid, method: "POST", kind: "403", times: 1000 },
        ],
        retryAfterSeconds: 0,
      },
    }));
    w.mapDemo(ok!.sid, storm!.sid, locked!.sid, racing!.sid, forbidden!.sid);
    writeFileSync(join(w.mappingDir, `${broken!.sid}.yaml`), "version: 1\ncredentials: [ {sid: \n");
    const lockDir = join(w.reports, "accounts", locked!.sid);
    mkdirSync(lockDir, { recursive: true });
    writeFileSync(join(lockDir, "ledger.jsonl.lock"), JSON.stringify({ pid: 1, host: hostname(), command: "apply", startedAt: new Date().toISOString(), id: "0123456789abcdef" }) + "\n");

    const run = await w.cli(["apply", "--all-subaccounts", "--yes", "--json"]);
    expect(run.code).toBe(1);
    const rollUp = parseJson(run.stdout);
    expect(rollUp.accounts).toHaveLength(7);
    const rows = rowsBySid(rollUp);
    expect(rows[ok!.sid]).toMatchObject({ outcome: "applied", exitCode: 0 });
    expect(commsCounts(w.emu, ok!.sid)).toEqual(EXPECTED);
    expect(rows[storm!.sid]).toMatchObject({ outcome: "failed", exitCode: 1 });
    expect(rows[storm!.sid].problems[0]).toMatch(/503/);
    expect(rows[broken!.sid]).toMatchObject({ outcome: "blocked", exitCode: 1 });
    expect(rows[broken!.sid].problems[0]).toMatch(/mapping/i);
    expect(rows[locked!.sid]).toMatchObject({ outcome: "locked", exitCode: 1 });
    expect(rows[unmapped!.sid]).toMatchObject({ outcome: "no-mapping", exitCode: 1 });
    expect(rows[unmapped!.sid].problems[0]).toMatch(/cr2comms init/);
    expect(rows[racing!.sid]).toMatchObject({ outcome: "unreachable", exitCode: 1, accountStatus: "suspended" });
    expect(rows[racing!.sid].problems[0]).toMatch(/suspended since it was listed/);
    expect(rows[forbidden!.sid]).toMatchObject({ outcome: "failed", exitCode: 1 });
    expect(rows[forbidden!.sid].problems.join(" ")).toMatch(/403/);
    expect(commsCounts(w.emu, forbidden!.sid)).toEqual({});
    for (const r of rollUp.accounts) {
      expect(r.problems.every((p: string) => !p.includes("\n"))).toBe(true);
    }
    for (const s of [storm!, broken!, locked!, unmapped!, racing!]) expect(w.emu.writeCount(s.sid)).toBe(0);
  });
});

describe("fleet: accounts file", () => {
  it("works only the listed accounts (the parent among them), and a sid outside the parent's family is a problem row", async () => {
    const [a, b] = subs(2);
    const w = (world = await fleetWorld([a!, b!]));
    w.mapDemo(a!.sid, PARENT);
    const stranger = "AC" + "f".repeat(32);
    const file = join(w.dir, "accounts.txt");
    writeFileSync(file, `# customers\n${a!.sid}\n\n${PARENT}  # the parent itself\n${stranger}\n${a!.sid}\n`);
    const run = await w.cli(["plan", "--accounts", file, "--json"]);
    expect(run.code).toBe(1);
    const rollUp = parseJson(run.stdout);
    expect(rollUp.accounts.map((r: any) => r.accountSid)).toEqual([a!.sid, PARENT, stranger]);
    const rows = rowsBySid(rollUp);
    expect(rows[a!.sid]).toMatchObject({ outcome: "changes", exitCode: 0 });
    expect(rows[PARENT]).toMatchObject({ outcome: "changes", exitCode: 0 });
    expect(rows[stranger]).toMatchObject({ outcome: "unreachable", exitCode: 1 });
    expect(rows[stranger].problems[0]).toMatch(/neither the parent account nor one of its subaccounts/);
  });
});

describe("fleet: usage", () => {
  it.each([
    [["plan", "--all-subaccounts", "--accounts", "x.txt"], /exclude each other/],
    [["plan", "--all-subaccounts", "--mapping", "m.yaml"], /--mapping cannot be used with --all-subaccounts/],
    [["plan", "--include-parent"], /--include-parent goes with --all-subaccounts/],
    [["plan", "--mapping-dir", "m"], /--mapping-dir is for runs over many accounts/],
    [["apply", "--all-subaccounts"], /pass --yes/],
    [["plan", "--all-subaccounts", "--accounts-concurrency", "65"], /--accounts-concurrency must be a whole number from 1 to 64/],
  ])("%j is a usage error (64)", async (args, message) => {
    const w = (world = await fleetWorld(subs(1)));
    const run = await w.cli(args as string[]);
    expect(run.code).toBe(64);
    expect(run.stderr).toMatch(message as RegExp);
    expect(w.emu.requests).toHaveLength(0);
  });

  it("a parent given as an API key pair is a usage error that says why", async () => {
    const w = (world = await fleetWorld(subs(1)));
    const run = await w.cli(["plan", "--all-subaccounts"], { TWILIO_AUTH_TOKEN: "", TWILIO_API_KEY: "SK00000000000000000000000000000000", TWILIO_API_SECRET: "emulator-api-secret" });
    expect(run.code).toBe(64);
    expect(run.stderr).toMatch(/needs the parent's auth token.*returns empty to an API key/);
  });

  it("CR2COMMS_LEDGER beside a fleet flag is a usage error naming the variable", async () => {
    const w = (world = await fleetWorld(subs(1)));
    const run = await w.cli(["status", "--all-subaccounts"], { CR2COMMS_LEDGER: "x.jsonl" });
    expect(run.code).toBe(64);
    expect(run.stderr).toMatch(/CR2COMMS_LEDGER is set/);
  });
});
