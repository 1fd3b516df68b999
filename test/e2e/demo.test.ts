import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CLI, ROOT, runCli } from "./harness.js";

function runNode(script: string, args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], {
      cwd,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", TMPDIR: cwd },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("the demo", () => {
  it("npm run demo's script succeeds again in the same checkout", { timeout: 180_000 }, async () => {
    for (let run = 1; run <= 2; run++) {
      const demo = await runNode(join(ROOT, "dist", "demo.js"), [], ROOT);
      expect(demo.stderr, `run ${run}`).not.toContain("ledger rebuild");
      expect(demo.code, `run ${run}: ${demo.stdout}${demo.stderr}`).toBe(0);
      expect(demo.stdout.match(/, as expected\)/g)).toHaveLength(3);
    }
  });

  it("cr2comms demo reruns from any folder and writes nothing to that folder's reports/", { timeout: 180_000 }, async () => {
    const cwd = mkdtempSync(join(tmpdir(), "cr2comms-demo-cwd-"));
    for (let run = 1; run <= 2; run++) {
      const demo = await runNode(CLI, ["demo"], cwd);
      expect(demo.code, `run ${run}: ${demo.stdout}${demo.stderr}`).toBe(0);
      expect(demo.stdout).toContain("2/3  cr2comms apply --yes");
      const dir = /Reports and the ledger are in (\S+) —/.exec(demo.stdout)?.[1] ?? "";
      expect(readdirSync(dir).filter((f) => /^apply-.*\.json$/.test(f))).toHaveLength(2);
    }
    expect(existsSync(join(cwd, "reports"))).toBe(false);
  });

  it("cr2comms demo --dir refuses a folder that is not empty, and deletes nothing in it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cr2comms-demo-dir-"));
    writeFileSync(join(dir, "keep.txt"), "mine");
    const run = await runCli(["demo", "--dir", dir]);
    expect(run.code).toBe(64);
    expect(run.stderr).toMatch(/^cr2comms: --dir .* is not empty; name an empty or new folder/);
    expect(readdirSync(dir)).toEqual(["keep.txt"]);
  });
});
