import { createServer, type Server } from "node:net";
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { generateLegacyCredentials, startEmulator } from "../../src/emulator/index.js";
import { CLI, emulatorEnv, runCli } from "./harness.js";

const reports = mkdtempSync(join(tmpdir(), "cr2comms-usage-"));
const noStack = (stderr: string) => expect(stderr).not.toMatch(/\n\s+at /);

describe("bad invocations are usage errors (64) naming the flag or the variable", () => {
  const cases: { args: string[]; env?: Record<string, string>; says: RegExp }[] = [
    { args: ["inventory", "--emulator", "--log-level", "verbose"], says: /^cr2comms: --log-level must be one of trace, debug, info, warn, error, fatal, silent, not "verbose"\n$/ },
    { args: ["inventory", "--emulator", "--concurrency", "abc"], says: /^cr2comms: --concurrency must be a whole number from 1 to 32, not "abc"\n$/ },
    { args: ["inventory", "--emulator"], env: { CR2COMMS_CONCURRENCY: "abc" }, says: /^cr2comms: CR2COMMS_CONCURRENCY must be a whole number/ },
    { args: ["inventory", "--emulator"], env: { CR2COMMS_COMMS_API_VERSION: "beta" }, says: /^cr2comms: CR2COMMS_COMMS_API_VERSION must be one of v1, preview, not "beta"/ },
    { args: ["inventory", "--emulator", "--settle-seconds", "0"], says: /^cr2comms: --settle-seconds must be/ },
    { args: ["inventory", "--emulator", "--log-format", "xml"], says: /^cr2comms: --log-format must be one of pretty, json/ },
    { args: ["inventory", "--mapping"], says: /^cr2comms: --mapping needs a value\n$/ },
    { args: ["inventory", "--concurrency", "--json"], says: /^cr2comms: --concurrency needs a value\n$/ },
    { args: ["inventory", "--reports-dri", "x"], says: /^cr2comms: unknown option --reports-dri \(did you mean --reports-dir\?\)\n$/ },
    { args: ["inventory", "--auth-tokn", "s3cret-token-value"], says: /^cr2comms: unknown option --auth-tokn \(did you mean --auth-token\?\)\n$/ },
    { args: ["apply", "--no-wiat"], says: /unknown option --no-wiat \(did you mean --no-wait\?\)/ },
    { args: ["invntory"], says: /^cr2comms: unknown command "invntory" \(did you mean inventory\?\)\n$/ },
    { args: ["emulator", "--port", "abc"], says: /^cr2comms: --port must be a whole number from 0 to 65535\n$/ },
    { args: ["emulator", "--fault-rate", "2"], says: /^cr2comms: --fault-rate must be a number from 0 to 1\n$/ },
    { args: ["ledger", "fix"], says: /^cr2comms: action must be one of check, repair, rebuild, not "fix"\n$/ },
    { args: ["inventory"], env: { TWILIO_REGION: "au1", TWILIO_ACCOUNT_SID: "AC" + "0".repeat(32), TWILIO_AUTH_TOKEN: "t" }, says: /^cr2comms: TWILIO_REGION is set, but Comms documents no regional host: pass --comms-url/ },
  ];
  for (const c of cases) {
    it(`${c.args.join(" ")} ${c.env ? JSON.stringify(c.env) : ""}`, async () => {
      const run = await runCli([...c.args, ...(c.args.includes("--emulator") ? ["--reports-dir", reports] : [])], { env: c.env ?? {} });
      expect(run.code).toBe(64);
      expect(run.stderr).toMatch(c.says);
      expect(run.stdout).toBe("");
      noStack(run.stderr);
    });
  }
});

describe("help", () => {
  it("a command's help shows its own options first, then the global ones, examples and exit codes", async () => {
    const run = await runCli(["apply", "--help"]);
    expect(run.code).toBe(0);
    const out = run.stdout;
    const own = out.indexOf("Options for apply:");
    const global = out.indexOf("Global options:");
    expect(own).toBeGreaterThan(-1);
    expect(global).toBeGreaterThan(own);
    expect(out.slice(own, global)).toMatch(/--yes[\s\S]*--plan[\s\S]*--wait/);
    expect(out.slice(own, global)).not.toContain("--account-sid");
    expect(out.slice(global)).toMatch(/--settle-seconds[\s\S]*--log-format/);
    expect(out).toMatch(/Examples:\n[\s\S]*cr2comms apply --yes --plan plan\.json/);
    expect(out).toMatch(/Exit codes: 0 success .* 64 bad usage/s);
  });

  it("the top-level help lists every command", async () => {
    const run = await runCli(["--help"]);
    expect(run.code).toBe(0);
    for (const c of ["inventory", "init", "plan", "apply", "status", "rollback", "ledger <action>", "emulator", "demo"]) expect(run.stdout).toContain(`cr2comms ${c} `);
  });

  it("help, --help and -h print the same help; help <command> the same as <command> --help", async () => {
    const top = await runCli(["--help"]);
    for (const args of [["help"], ["-h"]]) expect((await runCli(args)).stdout, args.join(" ")).toBe(top.stdout);
    const apply = await runCli(["apply", "--help"]);
    for (const args of [["help", "apply"], ["--help", "apply"], ["apply", "-h"]]) {
      const run = await runCli(args);
      expect(run.code, args.join(" ")).toBe(0);
      expect(run.stdout, args.join(" ")).toBe(apply.stdout);
    }
  });

  it("help fits 80 columns when not on a terminal, wrapped with the descriptions aligned", async () => {
    for (const args of [["--help"], ["apply", "--help"], ["ledger", "--help"], ["emulator", "--help"], ["apply", "--help", "--json"]]) {
      const run = await runCli(args);
      expect(run.code).toBe(0);
      for (const line of run.stdout.split("\n")) expect(line.length, `${args.join(" ")}: ${line}`).toBeLessThanOrEqual(80);
    }
    const apply = (await runCli(["apply", "--help"])).stdout;
    // A wrapped description continues under its first word.
    const lines = apply.split("\n");
    const at = lines.findIndex((l) => l.startsWith("  --settle-seconds"));
    const column = lines[at]!.indexOf("how long");
    expect(lines[at + 1]!.slice(0, column).trim()).toBe("");
    expect(lines[at + 1]![column]).not.toBe(" ");
  });

  it("help with an unknown command name lists the command names", async () => {
    const run = await runCli(["help", "invntory"]);
    expect(run.code).toBe(64);
    expect(run.stderr).toBe('cr2comms: help takes one command name (inventory, init, plan, apply, status, rollback, ledger, demo, emulator), not "invntory"\n');
  });

  it("bare cr2comms shows the command list (exit 64)", async () => {
    const run = await runCli([]);
    expect(run.code).toBe(64);
    for (const c of ["inventory", "init", "plan", "apply", "status", "rollback", "ledger <action>", "emulator", "demo"]) expect(run.stderr).toContain(`cr2comms ${c} `);
    expect(run.stderr).not.toContain("Not enough");
  });

  it("cr2comms ledger without an action says which actions there are", async () => {
    const run = await runCli(["ledger"]);
    expect(run.code).toBe(64);
    expect(run.stderr).toBe("cr2comms: ledger needs an action: check, repair or rebuild (e.g. `cr2comms ledger check`; see `cr2comms ledger --help`)\n");
  });

  it("apply --plan with a missing file says so in words, and how to make one", async () => {
    const run = await runCli(["apply", "--emulator", "--yes", "--plan", "no-such-plan.json", "--reports-dir", reports]);
    expect(run.code).toBe(64);
    expect(run.stderr).toBe("cr2comms: cannot read the plan file no-such-plan.json: no such file (save one with `cr2comms plan --out <file>`)\n");
  });

  it("--version prints the package version", async () => {
    const run = await runCli(["--version"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });
});

describe("a reader that stops early", () => {
  it("inventory | head -1 ends quietly with exit 0", async () => {
    const big = await startEmulator({ port: 0, seed: { legacyCredentials: generateLegacyCredentials(1_500) } });
    try {
      // --json of 1,500 credentials is far more than a pipe buffer: later writes hit the closed pipe.
      const script = `"${process.execPath}" "${CLI}" inventory --json | head -c 1 >/dev/null; echo "exit=\${PIPESTATUS[0]}" >&2`;
      const run = await new Promise<{ stderr: string }>((resolve, reject) => {
        const child = spawn("bash", ["-c", script], { env: { PATH: process.env.PATH ?? "", LOG_LEVEL: "warn", ...emulatorEnv(big) }, stdio: ["ignore", "ignore", "pipe"] });
        let stderr = "";
        child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
        child.on("error", reject);
        child.on("close", () => resolve({ stderr }));
      });
      expect(run.stderr).toBe("exit=0\n");
    } finally {
      await big.close();
    }
  });
});

describe("emulator --port on a port in use", () => {
  it("says so in one line and exits 1", async () => {
    const busy: Server = createServer();
    await new Promise<void>((resolve) => busy.listen(0, "127.0.0.1", resolve));
    const port = (busy.address() as { port: number }).port;
    try {
      const run = await runCli(["emulator", "--port", String(port)]);
      expect(run.code).toBe(1);
      expect(run.stderr).toBe(`cr2comms: port ${port} is already in use; pick another with --port (or --port 0 for any free port)\n`);
    } finally {
      busy.close();
    }
  });
});
