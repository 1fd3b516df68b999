/** Which ledger lines are events, which are damage, and how OS errors read in one-line messages. */
import { describe, expect, it } from "vitest";
import { LedgerReadError } from "../../src/errors.js";
import { parseLedger } from "../../src/ledger/ledger.js";
import { describeOsError, osCode } from "../../src/ledger/oserror.js";
import { scanLedger, scanLine } from "../../src/ledger/scan.js";

const SID = "CR00000000000000000000000000000001";
const good = JSON.stringify({ v: 1, ts: "t", event: "confirmed", legacySid: SID, commsCredentialId: "comms_credential_1" });

describe("scanLine", () => {
  it("refuses JSON that is not a v1 event object, without throwing", () => {
    for (const text of ["null", "42", '"v"', "[1]", "{}", '{"v":1}', `{"v":1,"event":7,"legacySid":"${SID}"}`, '{"v":1,"event":"confirmed"}', `{"v":0,"event":"confirmed","legacySid":"${SID}"}`]) {
      expect(scanLine(text, 4, false), text).toEqual({ line: 4, text, problem: { kind: "malformed", reason: "not a cr2comms ledger event (v1)" } });
    }
  });

  it("a version that is not a number is malformed, not a newer cr2comms's event", () => {
    const text = JSON.stringify({ v: "2", ts: "t", event: "confirmed", legacySid: SID });
    expect(scanLine(text, 1, false).problem?.kind).toBe("malformed");
  });

  it("names the version of a newer event", () => {
    expect(scanLine(JSON.stringify({ v: 3, event: "whatever" }), 2, false).problem).toEqual({ kind: "newer-version", reason: "event version 3", version: 3 });
  });

  it("says why a line is not JSON (the parser's words), and calls an unterminated last line torn", () => {
    const garbage = scanLine("garbage", 1, false);
    expect(garbage.problem?.kind).toBe("malformed");
    expect(garbage.problem?.reason).toMatch(/JSON/);
    expect(scanLine("garbage", 1, true).problem?.kind).toBe("torn");
    // Whole JSON but not an event, cut off before its newline: still a torn write.
    expect(scanLine('{"v":1}', 1, true).problem?.kind).toBe("torn");
  });
});

describe("scanLedger", () => {
  it("knows whether the file ends in a newline", () => {
    expect(scanLedger("").unterminated).toBe(false);
    expect(scanLedger(`${good}\n`).unterminated).toBe(false);
    expect(scanLedger(`\n${good}\n`).unterminated).toBe(false);
    expect(scanLedger(`${good}\n${good}`).unterminated).toBe(true);
  });

  it("skips blank lines, also ones holding only spaces, and keeps the file's line numbers", () => {
    const scan = scanLedger(`${good}\n   \n\t\n${good}\n`);
    expect(scan.lines.map((l) => [l.line, l.problem?.kind])).toEqual([
      [1, undefined],
      [4, undefined],
    ]);
    expect(parseLedger(`${good}\n  \n${good}\n`, "L")).toHaveLength(2);
  });

  it("parseLedger ignores a torn last line that is whole JSON, and refuses a null line in the middle", () => {
    expect(parseLedger(`${good}\n{"v":1}`, "L")).toHaveLength(1);
    expect(() => parseLedger(`${good}\nnull\n`, "L")).toThrow(LedgerReadError);
    expect(() => parseLedger(`${good}\nnull\n`, "L")).toThrow(/^ledger L:2: not a cr2comms ledger event \(v1\); run `cr2comms ledger repair`/);
  });
});

describe("describeOsError", () => {
  it("an OS error: its code and what the code means", () => {
    expect(describeOsError(Object.assign(new Error("EACCES: permission denied, open 'x'"), { code: "EACCES", errno: -13 }))).toBe("EACCES (permission denied)");
  });

  it("a code without a known errno: the code alone", () => {
    expect(describeOsError(Object.assign(new Error("the write made no progress"), { code: "EIO" }))).toBe("EIO");
    expect(describeOsError(Object.assign(new Error("odd"), { code: "EODD", errno: 987_654 }))).toBe("EODD");
  });

  it("no code: the message of an Error, or the value itself", () => {
    expect(describeOsError(Object.assign(new Error("boom"), { errno: -13 }))).toBe("boom");
    expect(describeOsError("plain text")).toBe("plain text");
    expect(describeOsError(undefined)).toBe("undefined");
    expect(describeOsError(null)).toBe("null");
  });

  it("osCode reads the code of anything thrown", () => {
    expect(osCode(Object.assign(new Error("x"), { code: "ENOENT" }))).toBe("ENOENT");
    expect(osCode(undefined)).toBeUndefined();
    expect(osCode(null)).toBeUndefined();
  });
});
