import { describe, expect, it } from "vitest";
import type { LegacyCredential } from "../../src/domain.js";
import { checkTemplates, renderScaffold, updateScaffold } from "../../src/mapping/scaffold.js";
import { parse } from "yaml";

const cred = (n: number, type: string, sandbox: boolean | null, friendlyName: string | null): LegacyCredential => ({
  sid: `CR${String(n).padStart(32, "0")}`,
  accountSid: "AC" + "1".repeat(32),
  friendlyName,
  type,
  sandbox,
  sandboxRaw: sandbox === null ? null : String(sandbox),
  dateCreated: null,
  dateUpdated: null,
  url: null,
});

const ACCOUNT = "AC" + "a".repeat(32);

describe("init templates", () => {
  it("fills appName and secret references from the templates, made valid appNames, per type", () => {
    const text = renderScaffold([cred(1, "apn", false, "iOS Prod"), cred(2, "apn", true, "iOS Dev"), cred(3, "fcm", null, "Android"), cred(4, "apn", false, "Kiosk")], {
      generatedAt: "2026-01-01T00:00:00Z",
      accountSid: ACCOUNT,
      templates: { accountSid: ACCOUNT, accountName: "Café Olé!", appName: "{accountName}-{type}", secrets: "file:../../secrets/{accountSid}/{sid}.{part}" },
    });
    const doc = parse(text) as { credentials: { sid: string; appName: string; secrets: Record<string, string> }[] };
    expect(doc.credentials.map((c) => c.appName)).toEqual(["cafe_ole_apn", "cafe_ole_apn", "cafe_ole_fcm", "cafe_ole_apn_2"]);
    expect(doc.credentials[0]!.secrets).toEqual({
      certificate: `file:../../secrets/${ACCOUNT}/CR00000000000000000000000000000001.certificate`,
      privateKey: `file:../../secrets/${ACCOUNT}/CR00000000000000000000000000000001.privateKey`,
    });
    expect(doc.credentials[2]!.secrets).toEqual({ serviceAccount: `file:../../secrets/${ACCOUNT}/CR00000000000000000000000000000003.serviceAccount` });
  });

  it("an appName template of {accountSid} and {friendlyName} is cut to 64 characters", () => {
    const text = renderScaffold([cred(1, "apn", false, "A very long friendly name that goes on")], {
      generatedAt: "2026-01-01T00:00:00Z",
      accountSid: ACCOUNT,
      templates: { accountSid: ACCOUNT, appName: "{accountSid}_{friendlyName}" },
    });
    const name = (parse(text) as { credentials: { appName: string }[] }).credentials[0]!.appName;
    expect(name).toMatch(/^[a-z0-9_]{1,64}$/);
    expect(name.startsWith(ACCOUNT.toLowerCase())).toBe(true);
  });

  it("init --update uses the templates for the entries it adds", () => {
    const before = "version: 1\ncredentials:\n  - sid: CR00000000000000000000000000000001\n    appName: kept\n    skip: true\n";
    const update = updateScaffold(before, [cred(1, "apn", false, "x"), cred(2, "fcm", null, "Droid")], {
      generatedAt: "2026-01-01T00:00:00Z",
      path: "m.yaml",
      templates: { accountSid: ACCOUNT, appName: "{type}_{friendlyName}", secrets: "env:SECRET_{part}" },
    });
    const doc = parse(update.text) as { credentials: { appName: string; secrets?: Record<string, string> }[] };
    expect(doc.credentials[1]).toMatchObject({ appName: "fcm_droid", secrets: { serviceAccount: "env:SECRET_serviceAccount" } });
  });

  it.each([
    [{ appName: "{acountSid}" }, /--app-name-template: unknown placeholder \{acountSid\}/],
    [{ secrets: "file:{sid}.{type}" }, /--secrets-template: unknown placeholder \{type\}/],
    [{ secrets: "{sid}.pem" }, /--secrets-template must be a file:<path> or env:<VAR> reference/],
  ])("%j is refused with a usage error naming the flag", (templates, message) => {
    expect(() => checkTemplates(templates)).toThrow(message);
  });
});
