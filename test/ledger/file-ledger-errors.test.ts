/** FileLedger when the disk or the file gets in the way: every failure is one LedgerReadError/LedgerWriteError naming the file. */
import { appendFileSync, existsSync, fsyncSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LedgerReadError, LedgerWriteError } from "../../src/errors.js";
import { FileLedger, type LedgerIo } from "../../src/ledger/ledger.js";

const SID = "CR00000000000000000000000000000001";
const attempt = { event: "attempt", legacySid: SID, attemptId: "a1", appName: "app", credentialType: "APN", isDefault: false, startedAt: "2026-01-01T00:00:00.000Z" } as const;
const confirmed = { event: "confirmed", legacySid: SID, commsCredentialId: "comms_credential_1" } as const;
const clock = () => new Date("2026-03-04T05:06:07Z");
const STAMP = "20260304T050607Z";

function scratch(): { dir: string; path: string } {
  const dir = mkdtempSync(join(tmpdir(), "ledger-err-"));
  return { dir, path: join(dir, "ledger.jsonl") };
}

/** This process's open descriptors that point at `path` (Linux: /proc/self/fd). */
function openDescriptorsOf(path: string): number {
  let n = 0;
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === path) n++;
    } catch {
      // closed while we looked
    }
  }
  return n;
}

describe("prepareForAppend", () => {
  it("a sound ledger is left as it is: nothing set aside, nothing to say", async () => {
    const { dir, path } = scratch();
    await new FileLedger(path, clock).append(attempt);
    const before = readFileSync(path, "utf8");
    expect(await new FileLedger(path, clock).prepareForAppend()).toEqual([]);
    expect(readFileSync(path, "utf8")).toBe(before);
    expect(readdirSync(dir)).toEqual(["ledger.jsonl"]);
  });

  it("names the torn line by its number and counts the complete lines kept", async () => {
    const { path } = scratch();
    const ledger = new FileLedger(path, clock);
    await ledger.append(attempt);
    await ledger.append(confirmed);
    appendFileSync(path, '{"v":1,"ev');
    expect(await new FileLedger(path, clock).prepareForAppend()).toEqual([
      `the ledger ${path} ended in an incomplete line 3 (10 bytes from a write cut short by a crash); it was moved to ${path}.torn-${STAMP} and the ledger keeps its 2 complete line(s)`,
    ]);
    expect(await ledger.events()).toHaveLength(2);
  });

  it("a second torn line set aside in the same second goes to a new file; the first is kept", async () => {
    const { dir, path } = scratch();
    await new FileLedger(path, clock).append(attempt);
    appendFileSync(path, '{"v":1,"first');
    await new FileLedger(path, clock).prepareForAppend();
    appendFileSync(path, '{"v":1,"second');
    const warnings = await new FileLedger(path, clock).prepareForAppend();
    expect(warnings[0]).toContain(`moved to ${path}.torn-${STAMP}-2 `);
    expect(readFileSync(`${path}.torn-${STAMP}`, "utf8")).toBe('{"v":1,"first');
    expect(readFileSync(`${path}.torn-${STAMP}-2`, "utf8")).toBe('{"v":1,"second');
    expect(readdirSync(dir).sort()).toEqual(["ledger.jsonl", `ledger.jsonl.torn-${STAMP}`, `ledger.jsonl.torn-${STAMP}-2`]);
  });

  it("when the torn line cannot be set aside, the ledger is not cut and the error names the file and the OS code", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ledger-err-"));
    // The ledger's name fits the filesystem's limit (255 bytes); with `.torn-<stamp>` added it does not.
    const path = join(dir, `${"l".repeat(240)}.jsonl`);
    writeFileSync(path, `${JSON.stringify({ v: 1, ts: "t", ...attempt })}\n{"v":1,"ev`);
    const before = readFileSync(path, "utf8");
    const err = await new FileLedger(path, clock).prepareForAppend().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LedgerWriteError);
    expect(err).toMatchObject({ path, code: "ENAMETOOLONG", cause: expect.objectContaining({ code: "ENAMETOOLONG" }) });
    expect((err as Error).message).toBe(`cannot set the torn last line of ${path} aside in ${path}.torn-${STAMP}: ENAMETOOLONG (name too long)`);
    expect(readFileSync(path, "utf8")).toBe(before);
  });

  it.skipIf(!existsSync("/proc/self/fd"))("leaves no descriptor of the ledger or the torn file open", async () => {
    const { path } = scratch();
    const ledger = new FileLedger(path, clock);
    await ledger.append(attempt);
    appendFileSync(path, '{"v":1,"ev');
    await ledger.prepareForAppend();
    for (let i = 0; i < 3; i++) await ledger.append(confirmed);
    await new FileLedger(path, clock).prepareForAppend();
    await ledger.append(attempt).catch(() => undefined);
    expect(openDescriptorsOf(path)).toBe(0);
    expect(openDescriptorsOf(`${path}.torn-${STAMP}`)).toBe(0);
  });
});

describe("append and events failures", () => {
  it("a ledger that cannot be opened: the message names it and the OS error, which is kept as the cause", async () => {
    const { path } = scratch();
    mkdirSync(path);
    const err = await new FileLedger(path).append(attempt).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LedgerWriteError);
    expect((err as Error).message).toBe(`cannot open the ledger ${path} for appending: EISDIR (illegal operation on a directory)`);
    expect(err).toMatchObject({ path, code: "EISDIR", cause: expect.objectContaining({ code: "EISDIR" }) });
  });

  it("a failing write keeps the OS error as the cause", async () => {
    const { path } = scratch();
    const io: LedgerIo = {
      write: () => {
        throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC", errno: -28 });
      },
      fsync: (fd) => fsyncSync(fd),
    };
    const err = await new FileLedger(path, clock, undefined, { io }).append(attempt).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: "LedgerWriteError", code: "ENOSPC", cause: expect.objectContaining({ code: "ENOSPC" }) });
    expect(readFileSync(path, "utf8")).toBe("");
  });

  it("a write that makes no progress is an I/O error (EIO), and leaves no fragment", async () => {
    const { path } = scratch();
    await new FileLedger(path, clock).append(attempt);
    const before = readFileSync(path, "utf8");
    let calls = 0;
    const io: LedgerIo = { write: (fd, buf, off, len) => (calls++ === 0 ? writeSync(fd, buf, off, Math.min(len, 5)) : 0), fsync: (fd) => fsyncSync(fd) };
    const err = await new FileLedger(path, clock, undefined, { io }).append(confirmed).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: "LedgerWriteError", code: "EIO", path });
    expect((err as Error).message).toBe(`cannot append to the ledger ${path}: EIO`);
    expect(readFileSync(path, "utf8")).toBe(before);
  });

  it("a ledger that cannot be read (a folder in its place) is refused, not taken as empty", async () => {
    const { path } = scratch();
    mkdirSync(path);
    const err = await new FileLedger(path).events().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LedgerReadError);
    expect((err as Error).message).toBe(`cannot read the ledger ${path}: EISDIR (illegal operation on a directory)`);
    expect((err as Error).cause).toMatchObject({ code: "EISDIR" });
  });
});
