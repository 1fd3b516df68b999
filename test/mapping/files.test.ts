import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { loadMapping } from "../../src/mapping/load.js";

const root = resolve(import.meta.dirname, "../..");

describe("committed mapping files", () => {
  it("mappings/example.yaml loads", () => {
    expect(loadMapping(resolve(root, "mappings/example.yaml")).credentials).toHaveLength(5);
  });

  it("mappings/demo.yaml loads and maps the emulator's sample sids as the demo expects", () => {
    const m = loadMapping(resolve(root, "mappings/demo.yaml"));
    expect(m.credentials.map((e) => [e.sid.slice(-4), e.appName ?? null, e.skip ?? false])).toEqual([
      ["0001", "limonade_ios", false],
      ["0002", "limonade_ios", false],
      ["0003", "limonade_android", false],
      ["0004", "old_gcm", false],
      ["0005", "limonade_ios_beta", false],
      ["0006", null, true],
    ]);
    expect(m.credentials[0]!.isDefault).toBe(true);
    expect(m.credentials[1]!.secrets).toEqual({
      p12: "file:examples/secrets/limonade-ios-dev.p12",
      passphrase: "env:LIMONADE_DEV_P12_PASSPHRASE",
    });
  });

  it("every file: reference in demo.yaml names a file that exists (the fake secrets are committed)", () => {
    const m = loadMapping(resolve(root, "mappings/demo.yaml"));
    const refs = m.credentials.flatMap((e) => Object.values(e.secrets ?? {})).filter((r) => r.startsWith("file:"));
    expect(refs).toHaveLength(6);
    for (const ref of refs) expect(existsSync(resolve(dirname(m.path), ref.slice(5))), ref).toBe(true);
  });
});
