import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { MAX_SECRET_FILE_BYTES } from "../../src/limits.js";
import { readLocalFile } from "../../src/localfile.js";
import type { MappingEntry } from "../../src/mapping/types.js";
import { resolveEntrySecrets, type SecretContext } from "../../src/secrets/index.js";
import { certTimes, fixture } from "./helpers.js";

const SID = "CR0123456789abcdef0123456789abcdef";

function ctx(mappingDir: string): SecretContext {
  return {
    mappingDir,
    env: {},
    now: certTimes("apn-prod.cert.pem").midlife,
    interactive: false,
    prompt: () => Promise.reject(new Error("prompt must not be called")),
  };
}

const fcm = (path: string): MappingEntry => ({ sid: SID, appName: "app", index: 0, secrets: { serviceAccount: `file:${path}` } });

describe("file: secrets must be regular files of bounded size", () => {
  const dir = mkdtempSync(join(tmpdir(), "cr2comms-secret-files-"));

  it("refuses a FIFO at once instead of hanging on it", async () => {
    const fifo = join(dir, "pipe.json");
    execFileSync("mkfifo", [fifo]);
    const r = await resolveEntrySecrets(fcm(fifo), "FCM", ctx(dir));
    expect(r.problems).toEqual([`secrets.serviceAccount: ${fifo} is a FIFO (named pipe), not a regular file`]);
  });

  it("refuses /dev/zero (a character device) without reading it", async () => {
    const r = await resolveEntrySecrets(fcm("/dev/zero"), "FCM", ctx(dir));
    expect(r.problems).toEqual(["secrets.serviceAccount: /dev/zero is a character device, not a regular file"]);
  });

  it("refuses a folder", async () => {
    mkdirSync(join(dir, "folder"));
    const r = await resolveEntrySecrets(fcm("folder"), "FCM", ctx(dir));
    expect(r.problems).toEqual([`secrets.serviceAccount: ${join(dir, "folder")} is a folder, not a regular file`]);
  });

  it("refuses a file over the cap", async () => {
    writeFileSync(join(dir, "big.json"), Buffer.alloc(MAX_SECRET_FILE_BYTES + 1, 0x20));
    const r = await resolveEntrySecrets(fcm("big.json"), "FCM", ctx(dir));
    expect(r.problems).toEqual([`secrets.serviceAccount: ${join(dir, "big.json")} is larger than 1 MiB; it is not a serviceAccount file`]);
  });

  it("follows a symbolic link to a regular file", async () => {
    const real = join(dir, "real.json");
    writeFileSync(real, fixture("fcm-service-account.json"));
    symlinkSync(real, join(dir, "link.json"));
    const r = await resolveEntrySecrets(fcm("link.json"), "FCM", ctx(dir));
    expect(r.problems).toEqual([]);
    expect(r.secret?.kind).toBe("fcm");
  });

  it("escapes control characters in a quoted path", async () => {
    const r = await resolveEntrySecrets(fcm("evil\n\u001b[31m\u202e.json"), "FCM", ctx(dir));
    expect(r.problems).toEqual([`secrets.serviceAccount: file not found: ${dir}/evil\\n\\u{1b}[31m\\u{202e}.json`]);
  });
});

describe("readLocalFile", () => {
  it("reads at most the cap even when stat reports size 0 (/proc-style files)", () => {
    const r = readLocalFile("/proc/self/status", 16);
    expect(r).toMatchObject({ ok: false, code: "too-large", reason: "larger than 16 bytes" });
    const whole = readLocalFile("/proc/self/status", 1024 * 1024);
    expect(whole.ok && whole.data.toString("utf8")).toMatch(/^Name:/);
  });
});
