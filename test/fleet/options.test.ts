import { describe, expect, it } from "vitest";
import { DEFAULT_API_URL, isFleetRun, parseAccountsFile, resolveFleetSettings } from "../../src/fleet/options.js";
import { fleetExitCode, fromResult } from "../../src/fleet/run.js";
import type { FleetRow, Outcome } from "../../src/fleet/rollup.js";

const row = (outcome: Outcome, exitCode: number, problems: string[] = [], extra: Partial<FleetRow> = {}): FleetRow => ({
  accountSid: "AC" + "1".repeat(32),
  friendlyName: null,
  accountStatus: "active",
  outcome,
  exitCode,
  summary: {},
  problems,
  ...extra,
});

describe("fleet settings", () => {
  it("defaults: 32 accounts at once, mappings/accounts, api.twilio.com; the regional host from TWILIO_REGION/TWILIO_EDGE", () => {
    const s = resolveFleetSettings({ allSubaccounts: true }, {}, "/w");
    expect(s).toEqual({ selection: { kind: "all", includeParent: false }, accountsConcurrency: 32, mappingDir: "/w/mappings/accounts", apiUrl: DEFAULT_API_URL });
    expect(resolveFleetSettings({ allSubaccounts: true }, { TWILIO_REGION: "au1", TWILIO_EDGE: "sydney" }, "/w").apiUrl).toBe("https://api.sydney.au1.twilio.com");
    expect(resolveFleetSettings({ allSubaccounts: true }, { TWILIO_EDGE: "dublin" }, "/w").apiUrl).toBe("https://api.dublin.us1.twilio.com");
    expect(resolveFleetSettings({ allSubaccounts: true, apiUrl: "http://127.0.0.1:9/" }, {}, "/w").apiUrl).toBe("http://127.0.0.1:9");
  });

  it("the variables work like the flags, and a bad value names what set it", () => {
    const s = resolveFleetSettings({}, { CR2COMMS_ACCOUNTS: "a.txt", CR2COMMS_ACCOUNTS_CONCURRENCY: "32", CR2COMMS_MAPPING_DIR: "m", CR2COMMS_API_URL: "https://api.example.test" }, "/w");
    expect(s).toEqual({ selection: { kind: "file", path: "/w/a.txt" }, accountsConcurrency: 32, mappingDir: "/w/m", apiUrl: "https://api.example.test" });
    expect(() => resolveFleetSettings({ allSubaccounts: true }, { CR2COMMS_ACCOUNTS_CONCURRENCY: "0" }, "/w")).toThrow(/CR2COMMS_ACCOUNTS_CONCURRENCY must be a whole number from 1 to 64, not "0"/);
    expect(() => resolveFleetSettings({ allSubaccounts: true, apiUrl: "ftp://x" }, {}, "/w")).toThrow(/--api-url must be an http\(s\) URL/);
    expect(() => resolveFleetSettings({ allSubaccounts: true }, { CR2COMMS_MAPPING: "m.yaml" }, "/w")).toThrow(/CR2COMMS_MAPPING is set, but it cannot be used with --all-subaccounts/);
    expect(() => resolveFleetSettings({ accounts: "a.txt", ledger: "l.jsonl" }, {}, "/w")).toThrow(/--ledger cannot be used with --accounts/);
  });

  it("is a fleet run only when a fleet flag or CR2COMMS_ACCOUNTS says so", () => {
    expect(isFleetRun({}, {})).toBe(false);
    expect(isFleetRun({}, { CR2COMMS_MAPPING_DIR: "m", CR2COMMS_API_URL: "https://x" })).toBe(false);
    expect(isFleetRun({ allSubaccounts: true }, {})).toBe(true);
    expect(isFleetRun({}, { CR2COMMS_ACCOUNTS: "a.txt" })).toBe(true);
    expect(isFleetRun({ apiUrl: "https://x" }, {})).toBe(true);
  });

  it("reads an accounts file: comments, blank lines, duplicates once; a line that is not a sid is named", () => {
    const a = "AC" + "a".repeat(32);
    const b = "AC" + "b".repeat(32);
    expect(parseAccountsFile(`# list\n${a}\n\n  ${b}  # second\n${a}\n`, "f")).toEqual({ sids: [a, b], problems: [] });
    expect(parseAccountsFile("ACnope\n", "f").problems).toEqual(['f:1: not an account sid (AC + 32 hex digits): "ACnope"']);
  });
});

describe("fleet outcomes and exit code", () => {
  it.each([
    ["plan", 0, { summary: {}, problems: [], changes: true }, "changes", 0],
    ["plan", 2, { summary: {}, problems: [], changes: true }, "changes", 2],
    ["plan", 0, { summary: {}, problems: [] }, "in-sync", 0],
    ["plan", 1, { summary: {}, problems: ["x"], blocked: true }, "blocked", 1],
    ["apply", 0, { summary: {}, problems: [], changes: true }, "applied", 0],
    ["apply", 0, { summary: {}, problems: [] }, "in-sync", 0],
    ["apply", 1, { summary: {}, problems: ["x"], blocked: true }, "blocked", 1],
    ["apply", 1, { summary: {}, problems: ["x"] }, "failed", 1],
    ["apply", 143, { summary: {}, problems: [] }, "interrupted", 143],
    ["status", 2, { summary: {}, problems: [] }, "drift", 2],
    ["status", 0, { summary: {}, problems: [] }, "in-sync", 0],
    ["inventory", 0, { summary: {}, problems: [], empty: true }, "empty", 0],
    ["init", 0, { summary: {}, problems: [], changes: true }, "changes", 0],
    ["rollback", 1, { summary: {}, problems: [], blocked: true }, "blocked", 1],
  ] as const)("%s exit %i → %j is %s (exit %i)", (command, code, result, outcome, exit) => {
    expect(fromResult(command, code, { ...result, problems: [...result.problems] }, row, "/r/accounts/AC1")).toMatchObject({ outcome, exitCode: exit });
  });

  it("1 if any account would exit 1 (or 64), else 2 if any would exit 2, else 0", () => {
    expect(fleetExitCode([row("in-sync", 0), row("skipped", 0), row("empty", 0)])).toBe(0);
    expect(fleetExitCode([row("in-sync", 0), row("changes", 2)])).toBe(2);
    expect(fleetExitCode([row("changes", 2), row("no-mapping", 1)])).toBe(1);
    expect(fleetExitCode([row("blocked", 64)])).toBe(1);
  });
});
