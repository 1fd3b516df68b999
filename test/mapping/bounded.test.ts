import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { UsageError } from "../../src/errors.js";
import { MAX_MAPPING_FILE_BYTES } from "../../src/limits.js";
import { displayMappingPath, loadMapping } from "../../src/mapping/load.js";

const SID1 = "CR0123456789abcdef0123456789abcdef";
const dir = mkdtempSync(join(tmpdir(), "cr2comms-mapping-bounded-"));

function errorOf(path: string, cwd?: string): UsageError {
  try {
    loadMapping(path, cwd);
  } catch (err) {
    if (err instanceof UsageError) return err;
    throw err;
  }
  throw new Error("expected a UsageError");
}

describe("loadMapping: only regular files of bounded size", () => {
  it("refuses a FIFO at once instead of hanging", () => {
    const fifo = join(dir, "pipe.yaml");
    execFileSync("mkfifo", [fifo]);
    expect(errorOf(fifo).message).toBe(`mapping file ${fifo} is a FIFO (named pipe), not a regular file`);
  });

  it("refuses a folder and a device", () => {
    mkdirSync(join(dir, "folder.yaml"));
    expect(errorOf(join(dir, "folder.yaml")).message).toBe(`mapping file ${join(dir, "folder.yaml")} is a folder, not a regular file`);
    symlinkSync("/dev/zero", join(dir, "zero.yaml"));
    expect(errorOf(join(dir, "zero.yaml")).message).toBe(`mapping file ${join(dir, "zero.yaml")} is a character device, not a regular file`);
  });

  it("refuses a file over the cap with a usage error", () => {
    const big = join(dir, "big.yaml");
    writeFileSync(big, `version: 1\ncredentials: []\n${"#".repeat(MAX_MAPPING_FILE_BYTES)}\n`);
    const err = errorOf(big);
    expect(err.exitCode).toBe(64);
    expect(err.message).toBe(`mapping file ${big} is larger than 1 MiB (a mapping file is a few KiB: is this the right file?)`);
  });

  it("escapes control characters of the path it quotes", () => {
    const message = errorOf(join(dir, "a\n\u001b[31m\u202e.yaml")).message;
    expect(message.startsWith(`cannot read mapping file ${dir}/a\\n\\u{1b}[31m\\u{202e}.yaml: no such file (`)).toBe(true);
    expect(message).not.toMatch(/[\u0000-\u001f\u202e]/);
  });

  it("numbers entries from 1 in messages", () => {
    const path = join(dir, "numbered.yaml");
    writeFileSync(path, `version: 1\ncredentials:\n  - sid: ${SID1}\n    skip: 3\n`);
    expect(errorOf(path).message).toContain(`${SID1} (entry #1): skip must be true or false`);
  });
});

describe("displayPath", () => {
  it("is relative to the working directory when the file is inside it", () => {
    const path = join(dir, "sub", "m.yaml");
    mkdirSync(join(dir, "sub"));
    writeFileSync(path, `version: 1\ncredentials: []\n`);
    const m = loadMapping("sub/m.yaml", dir);
    expect(m.path).toBe(path);
    expect(m.displayPath).toBe(join("sub", "m.yaml"));
  });

  it("stays absolute outside the working directory", () => {
    expect(displayMappingPath("/etc/m.yaml", "/home/me/project")).toBe("/etc/m.yaml");
    expect(displayMappingPath("/home/me/project/mappings/m.yaml", "/home/me/project")).toBe("mappings/m.yaml");
  });
});
