/**
 * Review (h-review): a failed group whose cut-back (ftruncate) fails too. The next append must
 * behave as before group commit: refused with the repair hint on a torn tail, whole otherwise.
 */
import * as fs from "node:fs";
import { mkdtempSync, readFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { LedgerWriteError } from "../../src/errors.js";
import { FileLedger, parseLedger, type LedgerIo } from "../../src/ledger/ledger.js";

const cut = vi.hoisted(() => ({ fail: false }));
vi.mock("node:fs", async (importOriginal) => {
  const real = await importOriginal<typeof import("node:fs")>();
  return {
    ...real,
    ftruncateSync: (fd: number, len?: number) => {
      if (cut.fail) throw Object.assign(new Error("EIO: i/o error, ftruncate"), { code: "EIO", errno: -5 });
      return real.ftruncateSync(fd, len);
    },
  };
});

const clock = () => new Date("2026-03-04T05:06:07Z");
const sid = (n: number) => `CR${String(n).padStart(32, "0")}`;
const confirmed = (n: number) => ({ event: "confirmed", legacySid: sid(n), commsCredentialId: `comms_credential_${n}` }) as const;
const tick = () => new Promise((r) => setImmediate(r));

function setup() {
  const path = join(mkdtempSync(join(tmpdir(), "rev-cut-")), "ledger.jsonl");
  const plan: ("short" | "fail" | "fsync-fail")[] = [];
  const io: LedgerIo = {
    write: (fd, buf, off, len) => {
      if (plan[0] === "fail") {
        plan.shift();
        throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
      }
      if (plan[0] === "short") {
        plan.shift();
        return writeSync(fd, buf, off, Math.floor(len / 2) + 7); // mid-line
      }
      return writeSync(fd, buf, off, len);
    },
    fsync: async (fd) => {
      await tick();
      if (plan[0] === "fsync-fail") {
        plan.shift();
        throw Object.assign(new Error("EIO: i/o error, fsync"), { code: "EIO" });
      }
      fs.fsyncSync(fd);
    },
  };
  return { path, plan, ledger: new FileLedger(path, clock, undefined, { io }) };
}

describe("review: a failed group whose cut-back fails", () => {
  it("write cut short and the cut-back failing: the queued group and every later append are refused with the repair hint, nothing glued", async () => {
    const { path, plan, ledger } = setup();
    await ledger.append(confirmed(1));
    const first = ledger.append(confirmed(2)).then(() => "ok", (e: unknown) => e);
    // Queued behind it while its write+fsync is under way.
    const queued = [3, 4].map((n) => ledger.append(confirmed(n)).then(() => "ok", (e: unknown) => e));
    void first;
    // The first group (confirmed 2) is already written; make the queued group's write go short and fail.
    plan.push("short", "fail");
    cut.fail = true;
    try {
      expect(await first).toBe("ok");
      for (const o of await Promise.all(queued)) {
        expect(o).toBeInstanceOf(LedgerWriteError);
      }
      const later = await ledger.append(confirmed(5)).then(() => "ok", (e: unknown) => e);
      expect(later).toBeInstanceOf(LedgerWriteError);
      expect((later as Error).message).toMatch(/incomplete line.*ledger repair/);
    } finally {
      cut.fail = false;
    }
    const text = readFileSync(path, "utf8");
    expect(text).not.toContain(sid(5));
    // The short write left event 3 whole and 7 bytes of event 4: the whole line of a rejected event
    // stays (as when an fsync and its cut-back fail), the fragment is the torn tail the next run sets aside.
    expect(parseLedger(text, path).map((e) => e.legacySid)).toEqual([sid(1), sid(2), sid(3)]);
    expect(text.endsWith("\n")).toBe(false);
  });

  it("fsync failing and the cut-back failing: the group's whole lines stay (as before), the next append lands on a line of its own", async () => {
    const { path, plan, ledger } = setup();
    await ledger.append(confirmed(1));
    const held = ledger.append(confirmed(2)); // written; its fsync under way: 3 and 4 queue as one group
    const group = [3, 4].map((n) => ledger.append(confirmed(n)).then(() => "ok", (e: unknown) => e));
    await held;
    plan.push("fsync-fail");
    cut.fail = true;
    try {
      for (const o of await Promise.all(group)) expect(o).toBeInstanceOf(LedgerWriteError);
    } finally {
      cut.fail = false;
    }
    await ledger.append(confirmed(5));
    const text = readFileSync(path, "utf8");
    expect(text.endsWith("\n")).toBe(true);
    expect(parseLedger(text, path).map((e) => e.legacySid)).toEqual([sid(1), sid(2), sid(3), sid(4), sid(5)]);
  });
});
