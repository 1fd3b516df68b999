import { appendFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync, writeSync, fsyncSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LedgerReadError, LedgerWriteError } from "../../src/errors.js";
import { FileLedger, parseLedger, type LedgerIo } from "../../src/ledger/ledger.js";

const SID = "CR00000000000000000000000000000001";
const attempt = { event: "attempt", legacySid: SID, attemptId: "a1", appName: "app", credentialType: "APN", isDefault: false, startedAt: "2026-01-01T00:00:00.000Z" } as const;
const confirmed = { event: "confirmed", legacySid: SID, commsCredentialId: "comms_credential_1" } as const;
const clock = () => new Date("2026-03-04T05:06:07Z");

function scratch(): { dir: string; path: string } {
  const dir = mkdtempSync(join(tmpdir(), "ledger-"));
  return { dir, path: join(dir, "ledger.jsonl") };
}

describe("a torn last line", () => {
  it("is set aside before the next append, which then lands on a line of its own", async () => {
    const { dir, path } = scratch();
    const ledger = new FileLedger(path, clock);
    await ledger.append(attempt);
    appendFileSync(path, '{"v":1,"ts":"t","event":"acc');

    const warnings = await ledger.prepareForAppend();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`${path}.torn-20260304T050607Z`);
    expect(readFileSync(`${path}.torn-20260304T050607Z`, "utf8")).toBe('{"v":1,"ts":"t","event":"acc');
    await ledger.append(confirmed);

    const lines = readFileSync(path, "utf8").split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe("");
    expect((await new FileLedger(path).entries()).get(SID)).toMatchObject({ state: "confirmed", commsCredentialId: "comms_credential_1" });
    expect(readdirSync(dir).sort()).toEqual(["ledger.jsonl", "ledger.jsonl.torn-20260304T050607Z"]);
  });

  it("is never glued onto: an append to a torn ledger without prepareForAppend is refused", async () => {
    const { path } = scratch();
    writeFileSync(path, `${JSON.stringify({ v: 1, ts: "t", ...attempt })}\n{"v":1,"ev`);
    const before = readFileSync(path, "utf8");
    const err = await new FileLedger(path).append(confirmed).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LedgerWriteError);
    expect((err as LedgerWriteError).exitCode).toBe(1);
    expect((err as Error).message).toMatch(/incomplete line.*cr2comms ledger repair/);
    expect(readFileSync(path, "utf8")).toBe(before);
  });

  it("that is a whole event missing only its newline is kept and completed", async () => {
    const { dir, path } = scratch();
    writeFileSync(path, JSON.stringify({ v: 1, ts: "t", ...attempt }));
    const ledger = new FileLedger(path, clock);
    expect((await ledger.prepareForAppend())[0]).toMatch(/line end was added/);
    await ledger.append(confirmed);
    expect(await ledger.events()).toHaveLength(2);
    expect(readdirSync(dir)).toEqual(["ledger.jsonl"]);
  });

  it("is ignored by readers, who never change the file", async () => {
    const { path } = scratch();
    const text = `${JSON.stringify({ v: 1, ts: "t", ...attempt })}\n{"v":1,"ev`;
    writeFileSync(path, text);
    expect(await new FileLedger(path).events()).toHaveLength(1);
    expect(readFileSync(path, "utf8")).toBe(text);
  });

  it("prepareForAppend creates the folder and an empty ledger, and has nothing to say", async () => {
    const { dir } = scratch();
    const path = join(dir, "a", "b", "ledger.jsonl");
    expect(await new FileLedger(path).prepareForAppend()).toEqual([]);
    expect(readFileSync(path, "utf8")).toBe("");
  });
});

describe("appends write whole lines or throw", () => {
  it("completes a short write", async () => {
    const { path } = scratch();
    const calls: number[] = [];
    // Writes at most 7 bytes per call, as a write to a nearly full disk or a pipe may.
    const io: LedgerIo = {
      write: (fd, buf, off, len) => {
        const n = writeSync(fd, buf, off, Math.min(len, 7));
        calls.push(n);
        return n;
      },
      fsync: (fd) => fsyncSync(fd),
    };
    const ledger = new FileLedger(path, clock, undefined, { io });
    await ledger.append(attempt);
    await ledger.append(confirmed);
    expect(calls.length).toBeGreaterThan(4);
    expect(parseLedger(readFileSync(path, "utf8"), path)).toHaveLength(2);
    expect(readFileSync(path, "utf8").endsWith("\n")).toBe(true);
  });

  it("a failing write throws LedgerWriteError naming the ledger and the OS code, and leaves no fragment", async () => {
    const { path } = scratch();
    await new FileLedger(path, clock).append(attempt);
    const before = readFileSync(path, "utf8");
    let n = 0;
    // The first call writes 10 bytes, the next fails as a full disk does.
    const io: LedgerIo = {
      write: (fd, buf, off, len) => {
        if (n++ === 0) return writeSync(fd, buf, off, Math.min(len, 10));
        throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC", errno: -28 });
      },
      fsync: (fd) => fsyncSync(fd),
    };
    const err = await new FileLedger(path, clock, undefined, { io }).append(confirmed).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LedgerWriteError);
    expect(err).toMatchObject({ exitCode: 1, path, code: "ENOSPC" });
    expect((err as Error).message).toContain(path);
    expect((err as Error).message).toMatch(/ENOSPC \(no space left on device\)/);
    expect(readFileSync(path, "utf8")).toBe(before);
  });

  it("a failing fsync throws too", async () => {
    const { path } = scratch();
    const io: LedgerIo = {
      write: (fd, buf, off, len) => writeSync(fd, buf, off, len),
      fsync: () => {
        throw Object.assign(new Error("EIO: i/o error, fsync"), { code: "EIO", errno: -5 });
      },
    };
    await expect(new FileLedger(path, clock, undefined, { io }).append(attempt)).rejects.toMatchObject({ name: "LedgerWriteError", code: "EIO" });
  });

  it("a write that makes no progress throws rather than spinning", async () => {
    const { path } = scratch();
    const io: LedgerIo = { write: () => 0, fsync: (fd) => fsyncSync(fd) };
    await expect(new FileLedger(path, clock, undefined, { io }).append(attempt)).rejects.toBeInstanceOf(LedgerWriteError);
  });

  it("a ledger that cannot be opened throws LedgerWriteError", async () => {
    const { dir } = scratch();
    writeFileSync(join(dir, "file"), "");
    const path = join(dir, "file", "ledger.jsonl");
    await expect(new FileLedger(path).append(attempt)).rejects.toMatchObject({ name: "LedgerWriteError", exitCode: 1 });
  });
});

describe("unreadable lines", () => {
  it("a malformed line in the middle: one error (exit 1) naming file:line and the repair command", async () => {
    const { path } = scratch();
    const good = JSON.stringify({ v: 1, ts: "t", ...attempt });
    writeFileSync(path, `${good}\n${good}\n{"v":1,"ts":"t","event":"acc{"v":1}\n${good}\n`);
    const err = await new FileLedger(path).events().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LedgerReadError);
    expect((err as LedgerReadError).exitCode).toBe(1);
    expect((err as Error).message).toContain(`ledger ${path}:3:`);
    expect((err as Error).message).toContain("cr2comms ledger repair");
    expect((err as Error).message).not.toContain("\n");
  });

  it("a line of a newer event version is refused, in the middle and as an unterminated last line", () => {
    const good = JSON.stringify({ v: 1, ts: "t", ...attempt });
    const v2 = JSON.stringify({ v: 2, ts: "t", ...attempt });
    expect(() => parseLedger(`${good}\n${v2}\n${good}\n`, "L")).toThrow(/L:2: written by a newer cr2comms \(event version 2/);
    // Without a newline a garbled last line is a torn write; a whole v2 event is not.
    expect(() => parseLedger(`${good}\n${v2}`, "L")).toThrow(/L:2: written by a newer cr2comms/);
    expect(() => parseLedger(`${good}\n${v2}`, "L")).toThrow(LedgerReadError);
  });

  it("an event without a version is malformed, not silently accepted", () => {
    const noVersion = JSON.stringify({ ts: "t", ...attempt });
    expect(() => parseLedger(`${noVersion}\n`, "L")).toThrow(/L:1: not a cr2comms ledger event/);
  });

  it("prepareForAppend refuses a torn-looking last line that is a newer version's event", async () => {
    const { path } = scratch();
    writeFileSync(path, JSON.stringify({ v: 2, ts: "t", ...attempt }));
    await expect(new FileLedger(path).prepareForAppend()).rejects.toThrow(/newer cr2comms/);
  });
});
