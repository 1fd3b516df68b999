/** Review (h-review): torn ledger tails of many shapes; the next append must never glue onto them. */
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FileLedger } from "../../src/ledger/ledger.js";

const ACC = "AC00000000000000000000000000000000";
const line = (sid: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ v: 1, ts: "2026-01-01T00:00:00.000Z", accountSid: ACC, event: "failed", legacySid: sid, error: "boom …", runId: "r", ...extra });
const whole = `${line("CR00000000000000000000000000000001")}\n`;
const next = line("CR00000000000000000000000000000002");
const multibyte = Buffer.from(`${line("CR00000000000000000000000000000003")}`);
const cutInUtf8 = multibyte.subarray(0, multibyte.indexOf(Buffer.from("…")) + 1); // 1 of 3 bytes of "…"

const shapes: Record<string, Buffer> = {
  "half a line": Buffer.from(next.slice(0, 40)),
  "cut inside a UTF-8 character": cutInUtf8,
  "whole event missing only its newline": Buffer.from(next),
  "NUL bytes (power loss)": Buffer.alloc(37, 0),
  "garbage": Buffer.from("\u0007\u001b[31mxx{{"),
  "CR only": Buffer.from("\r"),
  "lone opening brace": Buffer.from("{"),
  "valid JSON that is not an event": Buffer.from('{"v":1}'),
};

describe("review: torn tails", () => {
  for (const [name, tail] of Object.entries(shapes)) {
    it(`${name}: set aside (or completed), the next append is a whole readable line`, async () => {
      const dir = mkdtempSync(join(tmpdir(), "rev-torn-"));
      const path = join(dir, "ledger.jsonl");
      writeFileSync(path, Buffer.concat([Buffer.from(whole), tail]));
      const ledger = new FileLedger(path, () => new Date("2026-01-02T00:00:00Z"), ACC);
      const warnings = await ledger.prepareForAppend();
      await ledger.append({ event: "failed", legacySid: "CR00000000000000000000000000000009", error: "after", runId: "r2" } as never);
      const events = await new FileLedger(path, () => new Date(), ACC).events();
      const sids = events.map((e) => e.legacySid?.slice(-1));
      const completed = name === "whole event missing only its newline";
      expect(sids, warnings.join("\n")).toEqual(completed ? ["1", "2", "9"] : ["1", "9"]);
      expect(readFileSync(path, "utf8").endsWith("\n")).toBe(true);
      const aside = readdirSync(dir).filter((f) => f.includes(".torn-"));
      if (completed) expect(aside).toEqual([]);
      else {
        expect(aside).toHaveLength(1);
        expect(Buffer.compare(readFileSync(join(dir, aside[0]!)), tail)).toBe(0);
      }
    });
  }
});
