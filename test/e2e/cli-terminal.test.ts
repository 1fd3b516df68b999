import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CLI } from "./harness.js";

// util-linux `script` runs the CLI on a pseudo-terminal, as a person would see it.
const hasScript = spawnSync("script", ["--version"], { stdio: "ignore" }).status === 0;

describe.skipIf(!hasScript)("on a terminal", () => {
  it("log lines are readable text, not JSON", () => {
    const reports = mkdtempSync(join(tmpdir(), "cr2comms-tty-"));
    const command = `"${process.execPath}" "${CLI}" inventory --emulator --reports-dir "${reports}"`;
    const screen = execFileSync("script", ["-qec", command, "/dev/null"], {
      encoding: "utf8",
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", LOG_LEVEL: "info" },
    });
    expect(screen).toMatch(/^\d\d:\d\d:\d\d INFO {2}using the embedded emulator .* url=http:\/\/127\.0\.0\.1:\d+/m);
    expect(screen).not.toContain('{"level"');
    expect(screen).toContain("Legacy Conversations credentials in");
  });
});
