import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readLocalFile } from "../../src/localfile.js";

describe("readLocalFile keeps only what it read", () => {
  const dir = mkdtempSync(join(tmpdir(), "cr2comms-localfile-"));

  it("a small file does not pin a buffer the size of the cap", () => {
    const path = join(dir, "small.pem");
    writeFileSync(path, "x".repeat(3000));
    const r = readLocalFile(path, 1024 * 1024);
    expect(r.ok && r.data.toString()).toBe("x".repeat(3000));
    expect(r.ok && r.data.buffer.byteLength).toBeLessThan(64 * 1024);
  });

  it("reads files larger than one chunk whole, and still refuses one past the cap", () => {
    const big = join(dir, "big.json");
    const text = "0123456789".repeat(20_000);
    writeFileSync(big, text);
    const r = readLocalFile(big, 300_000);
    expect(r.ok && r.data.toString()).toBe(text);
    expect(readLocalFile(big, 199_999)).toMatchObject({ ok: false, code: "too-large" });
    expect(readLocalFile(big, 200_000)).toMatchObject({ ok: true });
  });
});
