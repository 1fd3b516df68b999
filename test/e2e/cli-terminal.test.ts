import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runOnPty } from "../support/pty.js";
import { CLI } from "./harness.js";

// A pseudo-terminal (python3's pty): the CLI as a person would see it.
describe("on a terminal", () => {
  it("log lines are readable text, not JSON", () => {
    const reports = mkdtempSync(join(tmpdir(), "cr2comms-tty-"));
    const run = runOnPty([process.execPath, CLI, "inventory", "--emulator", "--reports-dir", reports], { env: { LOG_LEVEL: "info" } });
    expect(run.code).toBe(0);
    expect(run.output).toMatch(/^\d\d:\d\d:\d\d INFO {2}using the embedded emulator .* url=http:\/\/127\.0\.0\.1:\d+/m);
    expect(run.output).not.toContain('{"level"');
    expect(run.output).toContain("Legacy Conversations credentials in");
  });
});
