import { mkdtempSync, readFileSync, writeFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { LegacyCredential } from "../../src/domain.js";
import { UsageError } from "../../src/errors.js";
import { loadMapping } from "../../src/mapping/load.js";
import { proposeAppName, renderScaffold, writeScaffold } from "../../src/mapping/scaffold.js";

function legacy(n: number, type: string, friendlyName: string | null, sandbox: boolean | null = null): LegacyCredential {
  return {
    sid: `CR${"0".repeat(24)}ABCD${String(n).padStart(4, "0")}`,
    accountSid: "AC00000000000000000000000000000000",
    friendlyName,
    type,
    sandbox,
    sandboxRaw: sandbox === null ? null : sandbox ? "True" : "False",
    dateCreated: null,
    dateUpdated: null,
    url: null,
  };
}

const OPTS = { generatedAt: "2025-01-02T03:04:05.000Z", accountSid: "AC00000000000000000000000000000000" };

describe("proposeAppName", () => {
  it("slugs the friendly name", () => {
    expect(proposeAppName("Limonade iOS (Prod)!", "CR0", new Set())).toBe("limonade_ios_prod");
    expect(proposeAppName("  --Ünïcode App--  ", "CR0", new Set())).toBe("unicode_app");
    expect(proposeAppName("a".repeat(70) + " b", "CR0", new Set())).toBe("a".repeat(64));
    expect(proposeAppName("a".repeat(63) + " b", "CR0", new Set())).toBe("a".repeat(63));
  });

  it("falls back to app_<last 8 of sid> when nothing is left", () => {
    expect(proposeAppName(null, "CR0123456789abcdef0123456789ABCDEF", new Set())).toBe("app_89abcdef");
    expect(proposeAppName("???", "CR0123456789abcdef0123456789ABCDEF", new Set())).toBe("app_89abcdef");
  });

  it("adds _2, _3 … when taken, staying within 64 characters", () => {
    expect(proposeAppName("My App", "CR0", new Set(["my_app"]))).toBe("my_app_2");
    expect(proposeAppName("My App", "CR0", new Set(["my_app", "my_app_2"]))).toBe("my_app_3");
    const long = "x".repeat(64);
    const name = proposeAppName(long, "CR0", new Set([long]));
    expect(name).toBe(`${"x".repeat(62)}_2`);
    expect(name).toMatch(/^[a-z0-9_]{1,64}$/);
  });
});

describe("renderScaffold", () => {
  const creds = [
    legacy(1, "apn", "Limonade iOS", false),
    legacy(2, "apn", "Limonade iOS", true),
    legacy(3, "fcm", "Limonade Android"),
    legacy(4, "gcm", "Old GCM"),
    legacy(5, "apn", "Limonade iOS", null),
    legacy(6, "webpush", "Browser\nthing"),
    legacy(7, "fcm", null),
  ];
  const text = renderScaffold(creds, OPTS);

  it("round-trips through loadMapping with proposed names and placeholders", () => {
    const dir = mkdtempSync(join(tmpdir(), "cr2comms-scaffold-"));
    const path = join(dir, "migration.yaml");
    writeFileSync(path, text);
    const m = loadMapping(path);
    expect(m.credentials.map((e) => [e.sid.slice(-4), e.appName])).toEqual([
      ["0001", "limonade_ios"],
      // Same slug, different target type (APN_SANDBOX): may share the App.
      ["0002", "limonade_ios"],
      ["0003", "limonade_android"],
      // Same slug and same target type (APN) as 0001: needs its own name.
      ["0005", "limonade_ios_2"],
      ["0007", "app_abcd0007"],
    ]);
    expect(m.credentials[0]!.secrets).toEqual({
      certificate: "file:secrets/limonade_ios-abcd0001.cert.pem",
      privateKey: "file:secrets/limonade_ios-abcd0001.key.pem",
    });
    expect(m.credentials[2]!.secrets).toEqual({
      serviceAccount: "file:secrets/limonade_android-abcd0003-service-account.json",
    });
  });

  it("explains each entry, gcm and unknown types in comments", () => {
    expect(text).toMatch(/# "Limonade iOS": legacy apn, sandbox False -> Comms APN\n  - sid: CR0+ABCD0001/);
    expect(text).toContain(`# "Limonade iOS": legacy apn, sandbox True -> Comms APN_SANDBOX`);
    expect(text).toContain(`# "Limonade iOS": legacy apn, sandbox unset -> Comms APN`);
    expect(text).toContain(`# "Limonade Android": legacy fcm -> Comms FCM`);
    expect(text).toContain("# p12: file:secrets/limonade_ios-abcd0001.p12");
    expect(text).toContain("# passphrase: env:");
    expect(text).toMatch(/legacy FCM server key cannot be used by Comms/);
    expect(text).toMatch(/CR0+ABCD0004 "Old GCM" \(legacy gcm\): will be dropped/);
    expect(text).toMatch(/shut GCM down in 2019/);
    expect(text).toMatch(/CR0+ABCD0006 "Browser thing": unknown legacy type "webpush"/);
    expect(text).not.toMatch(/- sid: CR0+ABCD000[46]/);
  });

  it("has a header on references, literal secrets and the account", () => {
    expect(text).toContain("file:<path>");
    expect(text).toContain("env:<VAR>");
    expect(text).toContain("prompt");
    expect(text).toMatch(/literal secret in this file is refused/);
    expect(text).toContain("Generated 2025-01-02T03:04:05.000Z for account AC00000000000000000000000000000000");
  });

  it("writes an empty list when only gcm credentials exist, and still loads", () => {
    const dir = mkdtempSync(join(tmpdir(), "cr2comms-scaffold-"));
    const path = join(dir, "m.yaml");
    const only = renderScaffold([legacy(4, "gcm", "Old")], OPTS);
    writeFileSync(path, only);
    expect(loadMapping(path).credentials).toEqual([]);
    expect(only).toContain("will be dropped");
    writeFileSync(path, renderScaffold([], OPTS));
    expect(loadMapping(path).credentials).toEqual([]);
  });
});

describe("writeScaffold", () => {
  it("creates parent folders and refuses to overwrite without force", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cr2comms-scaffold-"));
    const path = join(dir, "a", "b", "migration.yaml");
    await writeScaffold(path, "first\n", { force: false });
    expect(readFileSync(path, "utf8")).toBe("first\n");
    const err = await writeScaffold(path, "second\n", { force: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toContain(path);
    expect((err as Error).message).toContain("--force");
    expect(readFileSync(path, "utf8")).toBe("first\n");
    await writeScaffold(path, "third\n", { force: true });
    expect(readFileSync(path, "utf8")).toBe("third\n");
    // No temporary files left behind.
    expect(readdirSync(join(dir, "a", "b"))).toEqual(["migration.yaml"]);
  });
});
