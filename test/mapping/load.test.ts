import { mkdtempSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { isAbsolute, join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { UsageError } from "../../src/errors.js";
import { loadMapping } from "../../src/mapping/load.js";

const SID1 = "CR0123456789abcdef0123456789abcdef";
const SID2 = "CRfedcba9876543210fedcba9876543210";

function file(name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), "cr2comms-mapping-"));
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** The UsageError message thrown by loadMapping, failing the test when it does not throw one. */
function errorOf(path: string): string {
  try {
    loadMapping(path);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).exitCode).toBe(64);
    return (err as Error).message;
  }
  throw new Error("expected loadMapping to throw");
}

describe("loadMapping: valid files", () => {
  it("reads YAML, keeps secret references as written, sets index and an absolute path", () => {
    const path = file(
      "m.yaml",
      `version: 1
credentials:
  - sid: ${SID1}        # comment
    appName: limonade_ios
    isDefault: true
    secrets:
      certificate: file:secrets/ios.cert.pem
      privateKey: env:IOS_KEY
  - sid: ${SID2}
    appName: limonade_ios
    credentialType: APN_SANDBOX
    secrets: { p12: file:dev.p12, passphrase: prompt }
  - sid: CR00112233445566778899AABBCCDDEEFF
    skip: true
`,
    );
    const m = loadMapping(path);
    expect(m).toEqual({
      version: 1,
      path,
      displayPath: path,
      credentials: [
        {
          sid: SID1,
          appName: "limonade_ios",
          isDefault: true,
          secrets: { certificate: "file:secrets/ios.cert.pem", privateKey: "env:IOS_KEY" },
          index: 0,
        },
        {
          sid: SID2,
          appName: "limonade_ios",
          credentialType: "APN_SANDBOX",
          secrets: { p12: "file:dev.p12", passphrase: "prompt" },
          index: 1,
        },
        { sid: "CR00112233445566778899AABBCCDDEEFF", skip: true, index: 2 },
      ],
    });
  });

  it("reads JSON (and .yml), and resolves a relative path to an absolute one", () => {
    const path = file(
      "m.json",
      JSON.stringify({ version: 1, credentials: [{ sid: SID1, appName: "a", secrets: { serviceAccount: "file:sa.json" } }] }),
    );
    const m = loadMapping(path);
    expect(m.credentials).toEqual([{ sid: SID1, appName: "a", secrets: { serviceAccount: "file:sa.json" }, index: 0 }]);
    const yml = file("m.yml", "version: 1\ncredentials: []\n");
    const rel = relative(process.cwd(), yml);
    expect(isAbsolute(rel)).toBe(false);
    expect(loadMapping(rel).path).toBe(yml);
    expect(loadMapping(yml).credentials).toEqual([]);
  });
});

describe("loadMapping: problems", () => {
  it("names the file, each entry by sid (or credentials[i]) and the field, one line per problem", () => {
    const path = file(
      "bad.yaml",
      `version: 1
credentials:
  - sid: ${SID1}
    appName: Limonade iOS
    isDefault: "yes"
  - sid: CRnothex
    appName: ok
    credentialType: APNS
  - sid: ${SID2}
  - appName: x
    skip: 1
  - 7
`,
    );
    const msg = errorOf(path);
    const lines = msg.split("\n");
    expect(lines[0]).toContain(path);
    expect(lines).toContain(`  - ${SID1} (entry #1): appName "Limonade iOS" must be 1..64 characters of a-z, 0-9 and _`);
    expect(lines).toContain(`  - ${SID1} (entry #1): isDefault must be true or false, not a string`);
    expect(lines).toContain(`  - entry #2: sid "CRnothex" is not a legacy credential sid (CR followed by 32 hex digits)`);
    expect(lines).toContain(`  - entry #2: credentialType must be one of APN, APN_SANDBOX, FCM`);
    expect(lines.some((l) => l.includes(SID2))).toBe(false); // a missing appName is the planner's per-credential problem
    expect(lines).toContain(`  - entry #4: sid is required`);
    expect(lines).toContain(`  - entry #4: skip must be true or false, not a number`);
    expect(lines.some((l) => l.startsWith("  - entry #5: expected a map"))).toBe(true);
    expect(lines).toHaveLength(8);
    // Never a raw zod dump.
    expect(msg).not.toMatch(/Invalid input|"code"|expected one of "/);
  });

  it("rejects unknown keys anywhere, suggesting the intended key", () => {
    const msg = errorOf(
      file(
        "typo.yaml",
        `version: 1
extra: true
credentials:
  - sid: ${SID1}
    appname: limonade_ios
    secrets:
      cert: file:x.pem
`,
      ),
    );
    expect(msg).toContain(`unknown top-level key "extra"`);
    expect(msg).toContain(`${SID1} (entry #1): unknown key "appname" (did you mean "appName"?)`);
    expect(msg).toContain(`${SID1} (entry #1): secrets: unknown key "cert"`);
  });

  it("reads only version 1", () => {
    expect(errorOf(file("v2.yaml", "version: 2\ncredentials: []\n"))).toContain(
      "unsupported mapping version 2, this cr2comms reads version 1",
    );
    // Quoted, it is the text "1": say that the number 1 is meant.
    expect(errorOf(file("v1s.yaml", 'version: "1"\ncredentials: []\n'))).toContain(
      'version must be the number 1, not the text "1" (write `version: 1`, without quotes)',
    );
    expect(errorOf(file("v1j.json", '{"version": "1", "credentials": []}'))).toContain("version must be the number 1, not the text \"1\"");
    expect(errorOf(file("v0.yaml", "credentials: []\n"))).toContain("missing `version: 1`");
    expect(errorOf(file("nolist.yaml", "version: 1\n"))).toContain("missing the `credentials` list");
    expect(errorOf(file("notlist.yaml", "version: 1\ncredentials: {}\n"))).toContain("credentials must be a list");
    expect(errorOf(file("empty.yaml", ""))).toContain("empty");
  });

  it("gives file:line:col for a YAML syntax error", () => {
    const path = file("syntax.yaml", `version: 1\ncredentials:\n  - sid: ${SID1}\n    appName: [a, b\n`);
    expect(errorOf(path)).toMatch(new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:\\d+:\\d+: YAML syntax error`));
    const dup = file("dup.yaml", `version: 1\nversion: 1\ncredentials: []\n`);
    expect(errorOf(dup)).toMatch(/dup\.yaml:2:1: YAML syntax error/);
  });

  it("gives a position for a JSON syntax error without quoting the text", () => {
    const secret = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC";
    const path = file("bad.json", `{\n "version": 1,\n "credentials": [ { "sid": "${secret}" ,, } ]\n}`);
    const msg = errorOf(path);
    expect(msg).toMatch(/bad\.json:3:\d+: JSON syntax error/);
    expect(msg).not.toContain(secret);
  });

  it("never echoes a secret value, even when misplaced or mistyped", () => {
    const secret = "-----BEGIN PRIVATE KEY-----MIIEvQIBADANBgkqhkiG9w0BAQEFAASC";
    const msg = errorOf(
      file(
        "leak.yaml",
        `version: 1
credentials:
  - sid: ${SID1}
    appName: a
    secrets:
      privateKey: ["${secret}"]
      passwd: "${secret}"
      "${secret}": x
`,
      ),
    );
    expect(msg).toContain("secrets.privateKey must be a reference string");
    expect(msg).toContain(`unknown key "passwd"`);
    expect(msg).not.toContain("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC");
    const syntax = errorOf(file("leak2.yaml", `version: 1\ncredentials:\n  - sid: x\n    secrets: {privateKey: "${secret}\n`));
    expect(syntax).not.toContain("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC");
  });

  it("names the path of a missing or unreadable file, or a wrong extension", () => {
    const dir = mkdtempSync(join(tmpdir(), "cr2comms-mapping-"));
    expect(errorOf(join(dir, "nope.yaml"))).toBe(
      `cannot read mapping file ${join(dir, "nope.yaml")}: no such file (write one from the account's credentials with \`cr2comms init --mapping ${join(dir, "nope.yaml")}\`, then edit it)`,
    );
    mkdirSync(join(dir, "folder.yaml"));
    expect(errorOf(join(dir, "folder.yaml"))).toContain(join(dir, "folder.yaml"));
    expect(errorOf(file("m.txt", "version: 1"))).toContain("unsupported extension");
  });
});
