import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { renderScreen } from "../support/screen.js";
import { runOnPty, stripAnsi } from "../support/pty.js";
import { CLI, DEMO_ENV, ROOT, runCli, workspace } from "./harness.js";

const dist = (path: string) => pathToFileURL(join(ROOT, "dist", path)).href;

// A log line longer than the terminal, written while the progress bar is drawn, as apply does.
const PROGRESS_WITH_LOG = `
const { startProgress } = await import(${JSON.stringify(dist("cli/progress.js"))});
const { createLogger } = await import(${JSON.stringify(dist("log.js"))});
const logger = createLogger("info", { format: "pretty" });
const progress = startProgress(3, { enabled: true, label: "applying" });
progress.increment();
logger.warn({ path: "/v1/PushNotifications/Credentials", attempt: 2, reason: "503 Service Unavailable" }, "retrying a request to the Comms API after the server said it was busy");
progress.increment();
progress.increment();
progress.stop();
process.stderr.write("done\\n");
`;

describe("on an 80-column terminal", () => {
  it("a log line written beside the progress bar stays whole (wrapped, not cut)", () => {
    const run = runOnPty([process.execPath, "--input-type=module", "-e", PROGRESS_WITH_LOG], { columns: 80, env: { NO_COLOR: "1" } });
    expect(run.code).toBe(0);
    const screen = renderScreen(run.output, 80);
    const at = screen.findIndex((l) => l.includes("WARN"));
    expect(at, screen.join("\n")).toBeGreaterThanOrEqual(0);
    const text = screen.slice(at, at + 3).join("");
    expect(text).toContain("retrying a request to the Comms API after the server said it was busy path=/v1/PushNotifications/Credentials attempt=2 reason=503 Service Unavailable");
    expect(screen.some((l) => /^applying \[.*\] 3\/3$/.test(l))).toBe(true);
    expect(screen.at(-1) === "done" || screen.at(-2) === "done").toBe(true);
    expect(run.output).not.toContain("\x1b[33m");
  });

  it("a WARN line stands out in yellow on a terminal, and is plain under NO_COLOR", () => {
    const coloured = runOnPty([process.execPath, "--input-type=module", "-e", PROGRESS_WITH_LOG], { columns: 80 });
    expect(coloured.code).toBe(0);
    expect(coloured.output).toContain("\x1b[33m\x1b[1mWARN \x1b[22m\x1b[39m \x1b[33mretrying a request");
  });
});

describe("the confirmation prompt on a terminal", () => {
  it("Ctrl-C at the prompt stops with exit 130, one plain sentence, and nothing written", () => {
    const ws = workspace();
    const run = runOnPty([process.execPath, CLI, "apply", "--emulator", "--mapping", ws.mapping, "--reports-dir", ws.reports], {
      env: { ...DEMO_ENV, NO_COLOR: "1", LOG_LEVEL: "warn" },
      send: [["Apply these changes", "\x03"]],
    });
    const screen = renderScreen(run.output, 80).join("\n");
    expect(run.code, screen).toBe(130);
    expect(screen).toContain("Apply these changes to Comms in AC");
    expect(screen).toContain("cr2comms: interrupted at the confirmation prompt; nothing was written");
    expect(screen).not.toContain("force closed");
    expect(run.output).not.toContain("\x1b[31m");
    expect(existsSync(join(ws.reports, "ledger.jsonl")) ? readFileSync(join(ws.reports, "ledger.jsonl"), "utf8") : "").toBe("");
  });

  it("answered yes, it applies with the progress bar drawn within 80 columns", () => {
    const ws = workspace();
    const run = runOnPty([process.execPath, CLI, "apply", "--emulator", "--mapping", ws.mapping, "--reports-dir", ws.reports], {
      env: { ...DEMO_ENV, NO_COLOR: "1", LOG_LEVEL: "warn" },
      send: [["Apply these changes", "y\r"]],
    });
    const screen = renderScreen(run.output, 80);
    expect(run.code, screen.join("\n")).toBe(0);
    expect(screen.some((l) => /^applying \[.*\] 4\/4$/.test(l)), screen.join("\n")).toBe(true);
    expect(screen.join("\n")).toMatch(/^Applied: 4 confirmed$/m);
  });
});

describe("an error on a terminal", () => {
  it("the closing error line is red, and plain under NO_COLOR", () => {
    const args = [process.execPath, CLI, "inventory", "--emulator", "--log-level", "loud"];
    expect(runOnPty(args).output).toContain('\x1b[31mcr2comms: --log-level must be one of');
    const plain = runOnPty(args, { env: { NO_COLOR: "1" } });
    expect(plain.code).toBe(64);
    expect(plain.output).toContain("cr2comms: --log-level must be one of");
    expect(plain.output).not.toContain("\x1b[31m");
  });
});

describe("tables on an 80-column terminal", () => {
  // Four runs of the CLI: more than the default timeout on a loaded machine.
  it("status and inventory --comms fit the terminal, sids shortened in the middle; --json keeps them whole", { timeout: 180_000 }, async () => {
    const ws = workspace();
    const env = { ...DEMO_ENV, NO_COLOR: "1", LOG_LEVEL: "warn" };
    expect((await runCli(["apply", "--emulator", "--yes", "--mapping", ws.mapping], { env, cwd: ws.dir })).code).toBe(0);
    const screens: string[] = [];
    for (const args of [["status", "--emulator"], ["inventory", "--comms", "--emulator"]]) {
      const run = runOnPty([process.execPath, CLI, ...args], { columns: 80, cwd: ws.dir, env });
      const screen = renderScreen(run.output, 80);
      screens.push(screen.join("\n"));
      expect(run.code, screen.join("\n")).toBe(0);
      // Every line as written fits: none is wrapped by the terminal.
      for (const line of stripAnsi(run.output).split(/\r?\n/)) expect(line.length, `${args.join(" ")}: ${line}`).toBeLessThanOrEqual(80);
      expect(screen.join("\n")).toMatch(/^CR0+…0+1 /m);
    }
    const inventory = screens[1]!;
    expect(inventory).toContain("default for type");
    expect(inventory.replace(/\s+/g, " ")).toContain("an App has one per type, so it may show several");
    const json = await runCli(["status", "--emulator", "--json"], { env, cwd: ws.dir });
    expect(JSON.parse(json.stdout).items[0].legacySid).toBe("CR00000000000000000000000000000001");
  });
});
