import { describe, expect, it } from "vitest";
import type { AppliedItem, ApplyResult } from "../../src/apply/types.js";
import { applyReport, planReport } from "../../src/report/json.js";
import { applyMarkdown, planMarkdown } from "../../src/report/markdown.js";
import { samplePlan, sid } from "./fixtures.js";

const OLD = { kind: "apn" as const, contentSha256: "c".repeat(64), certSha256: "0".repeat(64), notAfter: "2026-01-01T00:00:00.000Z", subject: "CN=old" };
const NEW = { kind: "apn" as const, contentSha256: "d".repeat(64), certSha256: "1".repeat(64), notAfter: "2027-01-01T00:00:00.000Z", subject: "CN=new" };

function replacePlan() {
  const plan = samplePlan();
  plan.items = [
    {
      legacySid: sid(1),
      friendlyName: "iOS",
      legacyType: "apn",
      sandbox: false,
      action: "replace",
      target: { appName: "limonade_ios", credentialType: "APN", isDefault: false },
      replace: { oldId: "comms_credential_old", oldSecret: OLD, oldWasDefault: true },
      warnings: [],
      problems: [],
      secret: NEW,
    },
    {
      legacySid: sid(2),
      friendlyName: null,
      legacyType: "fcm",
      sandbox: null,
      action: "legacy-gone",
      target: { appName: "limonade_android", credentialType: "FCM", isDefault: true },
      commsCredentialId: "comms_credential_android",
      liveDefault: true,
      warnings: ["the legacy credential no longer exists"],
      problems: [],
      secret: { kind: "fcm", contentSha256: "e".repeat(64), projectId: "proj", keyId: "ab".repeat(20) },
    },
  ];
  return plan;
}

describe("reports show a replacement: old → new fingerprint and the new expiry", () => {
  it("JSON: replaces {commsCredentialId, secret, wasDefault}; secret is the new one; keyId for FCM", () => {
    const r = planReport(replacePlan());
    expect(r.summary).toEqual({ replace: 1, "legacy-gone": 1 });
    expect(r.items[0]).toMatchObject({
      action: "replace",
      replaces: { commsCredentialId: "comms_credential_old", secret: { certSha256: OLD.certSha256, notAfter: OLD.notAfter }, wasDefault: true },
      secret: { certSha256: NEW.certSha256, notAfter: NEW.notAfter },
    });
    expect(r.items[0]!.replaces!.forced).toBeUndefined();
    expect(r.items[1]!.secret!.keyId).toBe("ab".repeat(20));
  });

  it("Markdown: the action names what is replaced, the secret cell reads old → new, the default moves", () => {
    const md = planMarkdown(replacePlan());
    const row = md.split("\n").find((l) => l.includes(sid(1)) && l.startsWith("|"))!;
    expect(row).toContain("replace of comms_credential_old");
    expect(row).toContain(`certificate SHA-256 ${"0".repeat(16)}…; not after ${OLD.notAfter} → CN=new; certificate SHA-256 ${"1".repeat(16)}…; not after ${NEW.notAfter}`);
    expect(row).toContain("yes (moves to the new credential)");
    const gone = md.split("\n").find((l) => l.includes(sid(2)) && l.startsWith("|"))!;
    expect(gone).toContain("legacy-gone");
    expect(gone).toContain(`key ${"ab".repeat(8)}…`);
  });

  it("applied: the new credential's id, the status, and what it replaced", () => {
    const plan = replacePlan();
    const item: AppliedItem = { ...plan.items[0]!, commsCredentialId: "comms_credential_new", status: "confirmed", attempts: 1 };
    const result: ApplyResult = { kind: "apply", runId: "r", startedAt: "2026-01-01T00:00:00.000Z", finishedAt: "2026-01-01T00:00:01.000Z", accountSid: plan.accountSid, items: [item], problems: [], warnings: [], interrupted: false };
    const r = applyReport(result);
    expect(r.items[0]).toMatchObject({ action: "replace", status: "confirmed", commsCredentialId: "comms_credential_new", replaces: { commsCredentialId: "comms_credential_old" } });
    expect(applyMarkdown(result)).toContain("replace of comms_credential_old: confirmed");
  });
});
