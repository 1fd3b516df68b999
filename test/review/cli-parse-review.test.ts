/**
 * Review of 96296c2 (a command run as such is parsed by a parser of that command alone, its default
 * command `$0 …`, with help and version off). `test/review/cli-diff.mjs` compared the build before it
 * with this one over ~940 argument vectors; these are the vectors where the two differ. Each test
 * asserts the OLD behaviour (the full parser's) against the current build: a failing test is a finding.
 *
 *   npx vitest run test/review/cli-parse-review.test.ts
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli, workspace } from "../e2e/harness.js";

const reports = () => mkdtempSync(join(tmpdir(), "cr2comms-parse-review-"));

describe("P1: a literal `$0` argument is taken as the name of the (default) command", () => {
  it("ledger '$0' check is refused (old: unexpected argument \"check\"), not run as `ledger check`", async () => {
    const ws = workspace();
    const run = await runCli(["ledger", "$0", "check"], { cwd: ws.dir });
    expect(run.stderr).toBe('cr2comms: unexpected argument "check"\n');
    expect(run.stdout).toBe("");
    expect(run.code).toBe(64);
  });

  it("ledger '$0' names the bad action (old), not \"Not enough non-option arguments\"", async () => {
    const run = await runCli(["ledger", "$0"], { cwd: workspace().dir });
    expect(run.stderr).toBe('cr2comms: action must be one of check, repair, rebuild, not "$0"\n');
    expect(run.code).toBe(64);
  });

  for (const cmd of ["inventory", "init", "plan", "apply", "status", "rollback"]) {
    it(`${cmd} '$0' is an unexpected argument (old), not ignored`, async () => {
      const run = await runCli([cmd, "$0"], { cwd: workspace().dir });
      expect(run.stderr).toBe('cr2comms: unexpected argument "$0"\n');
      expect(run.code).toBe(64);
    });
  }

  it("emulator '$0' is an unexpected argument (old), not served", async () => {
    let timer: NodeJS.Timeout | undefined;
    const run = await runCli(["emulator", "$0"], {
      cwd: workspace().dir,
      onSpawn: (kill) => (timer = setTimeout(() => kill("SIGKILL"), 8000)),
    });
    clearTimeout(timer);
    expect(run.stdout).toBe("");
    expect(run.stderr).toBe('cr2comms: unexpected argument "$0"\n');
    expect(run.code).toBe(64);
  }, 15_000);
});

describe("P2: --help/--version written as --help=…, --version=…, --no-help, --no-version", () => {
  for (const cmd of [["inventory"], ["plan"], ["ledger", "check"], ["emulator"]]) {
    it(`${cmd.join(" ")} --version=true prints the version (old)`, async () => {
      const run = await runCli([...cmd, "--version=true"], { cwd: workspace().dir });
      expect(run.stderr).toBe("");
      expect(run.stdout).toMatch(/^\d+\.\d+\.\d+\S*\n$/);
      expect(run.code).toBe(0);
    });

    it(`${cmd.join(" ")} --help=true prints the command's help (old)`, async () => {
      const run = await runCli([...cmd, "--help=true"], { cwd: workspace().dir });
      expect(run.stderr).toBe("");
      expect(run.stdout).toMatch(new RegExp(`^cr2comms ${cmd[0]}`));
      expect(run.code).toBe(0);
    });
  }

  for (const flag of ["--no-help", "--help=false", "--no-version", "--version=false"]) {
    it(`inventory --emulator --json ${flag} runs the command (old), not "unknown option"`, async () => {
      const run = await runCli(["inventory", "--emulator", "--json", "--reports-dir", reports(), flag], { cwd: workspace().dir });
      expect(run.stderr).not.toMatch(/unknown option/);
      expect(run.code).toBe(0);
      expect(JSON.parse(run.stdout).legacy).toHaveLength(6);
    });
  }

  it("no message says `unknown option --help (did you mean --help?)`", async () => {
    const run = await runCli(["status", "--help=1"], { cwd: workspace().dir });
    expect(run.stderr).not.toMatch(/unknown option --(help|version) \(did you mean --\1\?\)/);
  });
});

describe("P3: yargs's hidden shell completion", () => {
  it("inventory --get-yargs-completions lists the command's options (old), not `$0`", async () => {
    const run = await runCli(["inventory", "--get-yargs-completions"], { cwd: workspace().dir });
    expect(run.stdout).not.toBe("$0\n");
    expect(run.stdout).toContain("--comms\n");
    expect(run.code).toBe(0);
  });
});
