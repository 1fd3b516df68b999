import { fsyncSync, mkdtempSync, readFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LedgerWriteError } from "../../src/errors.js";
import { FileLedger, parseLedger, type LedgerIo } from "../../src/ledger/ledger.js";

const clock = () => new Date("2026-03-04T05:06:07Z");
const sid = (n: number) => `CR${String(n).padStart(32, "0")}`;
const confirmed = (n: number) => ({ event: "confirmed", legacySid: sid(n), commsCredentialId: `comms_credential_${n}` }) as const;

function scratchPath(): string {
  return join(mkdtempSync(join(tmpdir(), "ledger-group-")), "ledger.jsonl");
}

/** An fsync the test releases by hand, recording what was on disk at each call. */
function heldFsync() {
  const calls: { lines: number; release: () => void; fail: (err: Error) => void }[] = [];
  let path = "";
  const io: LedgerIo = {
    write: (fd, buf, off, len) => writeSync(fd, buf, off, len),
    fsync: (fd) =>
      new Promise<void>((resolve, reject) => {
        const lines = readFileSync(path, "utf8").split("\n").filter(Boolean).length;
        calls.push({
          lines,
          release: () => {
            fsyncSync(fd);
            resolve();
          },
          fail: reject,
        });
      }),
  };
  return { io, calls, setPath: (p: string) => (path = p) };
}

const tick = () => new Promise((r) => setImmediate(r));

describe("group commit", () => {
  it("events appended while an fsync is under way go out together, in order, with one fsync", async () => {
    const path = scratchPath();
    const held = heldFsync();
    held.setPath(path);
    const ledger = new FileLedger(path, clock, undefined, { io: held.io });

    const resolved: number[] = [];
    const first = ledger.append(confirmed(1)).then(() => resolved.push(1));
    await tick();
    expect(held.calls).toHaveLength(1);
    // Appended while the first event's fsync is under way.
    const rest = [2, 3, 4, 5].map((n) => ledger.append(confirmed(n)).then(() => resolved.push(n)));
    await tick();
    // Nothing is reported durable before its fsync returns.
    expect(resolved).toEqual([]);
    expect(held.calls).toHaveLength(1);

    held.calls[0]!.release();
    await first;
    await tick();
    expect(resolved).toEqual([1]);
    // The four waiting events were written as one group before its single fsync.
    expect(held.calls).toHaveLength(2);
    expect(held.calls[1]!.lines).toBe(5);
    held.calls[1]!.release();
    await Promise.all(rest);
    expect(resolved).toEqual([1, 2, 3, 4, 5]);
    expect(held.calls).toHaveLength(2);

    const events = parseLedger(readFileSync(path, "utf8"), path);
    expect(events.map((e) => e.legacySid)).toEqual([1, 2, 3, 4, 5].map(sid));
  });

  it("a group whose fsync fails fails every event in it, leaves none of its lines, and the next group still lands", async () => {
    const path = scratchPath();
    const held = heldFsync();
    held.setPath(path);
    const ledger = new FileLedger(path, clock, undefined, { io: held.io });

    const first = ledger.append(confirmed(1));
    await tick();
    const group = [2, 3].map((n) => ledger.append(confirmed(n)).then(() => "ok", (e: unknown) => e));
    await tick();
    held.calls[0]!.release();
    await first;
    await tick();
    held.calls[1]!.fail(Object.assign(new Error("EIO: i/o error, fsync"), { code: "EIO", errno: -5 }));
    const outcomes = await Promise.all(group);
    for (const o of outcomes) expect(o).toBeInstanceOf(LedgerWriteError);
    expect(parseLedger(readFileSync(path, "utf8"), path).map((e) => e.legacySid)).toEqual([sid(1)]);

    const later = ledger.append(confirmed(4));
    await tick();
    held.calls[2]!.release();
    await later;
    expect(parseLedger(readFileSync(path, "utf8"), path).map((e) => e.legacySid)).toEqual([sid(1), sid(4)]);
  });

  it("with the real disk, a burst of concurrent appends all land whole and in order", async () => {
    const path = scratchPath();
    const ledger = new FileLedger(path, clock, "AC00000000000000000000000000000001");
    await Promise.all(Array.from({ length: 200 }, (_, i) => ledger.append(confirmed(i))));
    const events = parseLedger(readFileSync(path, "utf8"), path);
    expect(events.map((e) => e.legacySid)).toEqual(Array.from({ length: 200 }, (_, i) => sid(i)));
    expect(events.every((e) => e.accountSid === "AC00000000000000000000000000000001")).toBe(true);
  });
});

describe("prepareForAppend and appends", () => {
  it("is refused while appends are under way: it may cut the file back, which would drop an event reported durable", async () => {
    const path = scratchPath();
    const held = heldFsync();
    held.setPath(path);
    const ledger = new FileLedger(path, clock, undefined, { io: held.io });
    const first = ledger.append(confirmed(1));
    await tick();
    await expect(ledger.prepareForAppend()).rejects.toThrow(/not while appends are under way/);
    held.calls[0]!.release();
    await first;
    expect(parseLedger(readFileSync(path, "utf8"), path).map((e) => e.legacySid)).toEqual([sid(1)]);
  });
});
