import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { writeFileAtomic } from "../../src/report/atomic.js";

describe("writeFileAtomic when the write fails", () => {
  it("removes its temporary file and leaves no target behind (a full disk)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cr2comms-atomic-"));
    const full = async () => {
      throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
    };
    await expect(writeFileAtomic(join(dir, "plan.json"), "{}", { overwrite: true, fill: full })).rejects.toMatchObject({ code: "ENOSPC" });
    await expect(writeFileAtomic(join(dir, "report.json"), "{}", { overwrite: false, fill: full })).rejects.toMatchObject({ code: "ENOSPC" });
    expect(readdirSync(dir)).toEqual([]);
  });

  it("writes the whole file when nothing fails", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cr2comms-atomic-"));
    await writeFileAtomic(join(dir, "plan.json"), "{\"a\":1}\n", { overwrite: true });
    expect(readdirSync(dir)).toEqual(["plan.json"]);
  });
});
