/** `init --update`: new legacy credentials are added; everything the user wrote is kept, byte for byte. */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { LegacyCredential } from "../../src/domain.js";
import { loadMapping, readMappingForUpdate, renderScaffold, updateScaffold } from "../../src/mapping/index.js";

const GOLDEN = join(import.meta.dirname, "golden");
const AT = "2026-11-23T18:00:00.000Z";
const sid = (n: number) => `CR${n.toString(16).padStart(32, "0")}`;
function legacy(n: number, type: string, sandbox: boolean | null, friendlyName: string | null): LegacyCredential {
  return { sid: sid(n), accountSid: "AC", friendlyName, type, sandbox, sandboxRaw: sandbox === null ? null : sandbox ? "True" : "False", dateCreated: null, dateUpdated: null, url: null };
}
/** The account the edited file was made for (1, 3, 4, 6), plus new apn (7), fcm (8) and gcm (9) credentials. */
const ACCOUNT = [
  legacy(1, "apn", false, "Limonade iOS (production)"),
  legacy(3, "fcm", null, "Limonade Android"),
  legacy(4, "gcm", null, "Old GCM app"),
  legacy(6, "apn", false, "Kiosk iPad"),
  legacy(7, "apn", true, "Limonade iOS"),
  legacy(8, "fcm", null, "Limonade Android"),
  legacy(9, "gcm", null, "Older GCM"),
];
const dir = mkdtempSync(join(tmpdir(), "cr2comms-init-update-"));
const write = (name: string, text: string) => {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
};

describe("init --update", () => {
  const edited = readFileSync(join(GOLDEN, "edited.yaml"), "utf8");

  it("adds the new apn/fcm entries after the user's and the new gcm as a comment, keeping every line the user wrote (golden file)", () => {
    const update = updateScaffold(edited, ACCOUNT, { generatedAt: AT, path: "migration.yaml" });
    expect(update.text).toBe(readFileSync(join(GOLDEN, "edited.updated.yaml"), "utf8"));
    expect(update.added.map((c) => c.sid)).toEqual([sid(7), sid(8)]);
    expect(update.noted.map((c) => c.sid)).toEqual([sid(9)]);
    // Every original line is still there, in the same order.
    const out = update.text.split("\n");
    let at = 0;
    for (const line of edited.trimEnd().split("\n")) {
      at = out.indexOf(line, at);
      expect(at, `line kept: ${line}`).toBeGreaterThanOrEqual(0);
      at++;
    }
    const loaded = loadMapping(write("updated.yaml", update.text));
    expect(loaded.defaultApp).toBe("limonade_ios");
    expect(loaded.credentials.map((e) => [e.sid, e.appName ?? null])).toEqual([
      [sid(3), "limonade_android"],
      [sid(1), "limonade_ios"],
      [sid(6), null],
      [sid(7), "limonade_ios"], // APN_SANDBOX may share the App of an APN entry
      [sid(8), "limonade_android_2"], // an FCM name already used by FCM is not reused
    ]);
  });

  it("keeps a Windows-edited file's CRLF line ends, and places entries before a top-level key that follows the list", () => {
    const crlf = `version: 1\r\ncredentials:\r\n  - sid: ${sid(1)}\r\n    appName: mine\r\ndefaultApp: mine\r\n`;
    const update = updateScaffold(crlf, [legacy(1, "apn", false, "A"), legacy(8, "fcm", null, "Droid")], { generatedAt: AT, path: "m.yaml" });
    expect(update.text.startsWith(`version: 1\r\ncredentials:\r\n  - sid: ${sid(1)}\r\n    appName: mine\r\n\r\n  # Added by`)).toBe(true);
    expect(update.text.endsWith("\r\n\r\ndefaultApp: mine\r\n")).toBe(true);
    expect(update.text.replace(/\r\n/g, "")).not.toContain("\n");
    const loaded = loadMapping(write("crlf.yaml", update.text));
    expect(loaded.defaultApp).toBe("mine");
    expect(loaded.credentials.map((e) => e.sid)).toEqual([sid(1), sid(8)]);
  });

  it("is idempotent: a second update adds nothing and leaves the text as it is", () => {
    const once = updateScaffold(edited, ACCOUNT, { generatedAt: AT, path: "m.yaml" });
    const twice = updateScaffold(once.text, ACCOUNT, { generatedAt: "2027-01-01T00:00:00.000Z", path: "m.yaml" });
    expect(twice).toEqual({ text: once.text, added: [], noted: [] });
  });

  it("a scaffold init wrote for an account with only gcm gets its first entry (the empty list is rewritten)", () => {
    const first = renderScaffold([legacy(4, "gcm", null, "Old GCM app")], { generatedAt: AT, accountSid: "AC1" });
    expect(first).toContain("credentials: []");
    const update = updateScaffold(first, [legacy(4, "gcm", null, "Old GCM app"), legacy(7, "apn", false, "New iOS")], { generatedAt: AT, path: "m.yaml" });
    const loaded = loadMapping(write("from-empty.yaml", update.text));
    expect(loaded.credentials.map((e) => [e.sid, e.appName])).toEqual([[sid(7), "new_ios"]]);
    expect(update.text).toContain("# cr2comms mapping file");
    expect(update.text).toContain(`# ${sid(4)} "Old GCM app" (legacy gcm)`);
  });

  it("a hostile friendly name stays inside its comment", () => {
    const evil = legacy(7, "apn", false, `x\n  - sid: ${sid(99)}\u2028\u202e`);
    const update = updateScaffold(edited, [...ACCOUNT.slice(0, 4), evil], { generatedAt: AT, path: "m.yaml" });
    const loaded = loadMapping(write("hostile.yaml", update.text));
    expect(loaded.credentials.map((e) => e.sid)).toEqual([sid(3), sid(1), sid(6), sid(7)]);
    expect(update.text).not.toMatch(/[\u2028\u202e]/);
  });

  it("updates a JSON mapping (entries only: JSON has no comments)", () => {
    const json = `{\n  "version": 1,\n  "credentials": [\n    { "sid": "${sid(1)}", "appName": "mine", "secrets": { "p12": "prompt" } }\n  ]\n}\n`;
    const update = updateScaffold(json, [legacy(1, "apn", false, "A"), legacy(8, "fcm", null, "Droid"), legacy(9, "gcm", null, "G")], { generatedAt: AT, path: "m.json" });
    const loaded = loadMapping(write("m.json", update.text));
    expect(loaded.credentials.map((e) => [e.sid, e.appName])).toEqual([
      [sid(1), "mine"],
      [sid(8), "droid"],
    ]);
    expect(loaded.credentials[0]?.secrets).toEqual({ p12: "prompt" });
    expect(update.noted.map((c) => c.sid)).toEqual([sid(9)]);
  });

  it("refuses a missing file or one that is not a mapping, naming the file", () => {
    expect(() => readMappingForUpdate(join(dir, "nope.yaml"))).toThrow(/nope.yaml does not exist: run cr2comms init \(without --update\)/);
    expect(() => updateScaffold("version: 1\ncredentials: {a: 1}\n", ACCOUNT, { generatedAt: AT, path: "bad.yaml" })).toThrow(/credentials is not a list/);
    expect(() => updateScaffold("version: 1\ncredentials: [\n", ACCOUNT, { generatedAt: AT, path: "broken.yaml" })).toThrow(/broken.yaml:\d+:\d+: YAML syntax error/);
  });
});
