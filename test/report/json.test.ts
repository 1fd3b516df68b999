import { describe, expect, it } from "vitest";
import { applyReport, planReport } from "../../src/report/json.js";
import { TOOL_VERSION } from "../../src/version.js";
import { ACCOUNT, sampleResult, samplePlan, sid } from "./fixtures.js";

describe("planReport", () => {
  it("has the SPEC shape, with every item", () => {
    const plan = samplePlan();
    const r = planReport(plan);
    expect(Object.keys(r)).toEqual([
      "schemaVersion", "kind", "mode", "generatedAt", "accountSid", "tool", "mappingPath",
      "observedFingerprint", "summary", "problems", "warnings", "items",
    ]);
    expect(r).toMatchObject({
      schemaVersion: 1,
      kind: "plan",
      mode: "dry-run",
      generatedAt: "2025-03-04T05:06:07.000Z",
      accountSid: ACCOUNT,
      tool: { name: "cr2comms", version: TOOL_VERSION },
      mappingPath: "/repo/mappings/demo.yaml",
      summary: { create: 1, "already-migrated": 1, drop: 1, blocked: 1, skip: 1, unmapped: 1 },
      problems: plan.problems,
      warnings: ["a general warning"],
    });
    expect(r.items.map((i) => i.legacySid)).toEqual(plan.items.map((i) => i.legacySid));
    expect(r.items[0]).toEqual({
      legacySid: sid(1),
      friendlyName: "Limonade | iOS\nprod",
      legacyType: "apn",
      sandbox: false,
      action: "create",
      target: { appName: "limonade_ios", credentialType: "APN", isDefault: true },
      warnings: [],
      problems: [],
      secret: {
        kind: "apn",
        contentSha256: "c".repeat(64),
        certSha256: "a".repeat(64),
        subject: "CN=Apple Push Services: com.limonade.ios",
        notAfter: "2026-01-01T00:00:00.000Z",
        environment: "production",
      },
    });
    expect(r.items[1]).toMatchObject({ commsCredentialId: "comms_credential_01", secret: { projectId: "limonade-prod" } });
    expect(r.items[2]).toEqual({
      legacySid: sid(4), friendlyName: "Old GCM", legacyType: "gcm", sandbox: null, action: "drop", target: null,
      warnings: plan.items[2]!.warnings, problems: [],
    });
    expect(r.items[3]!.problems).toEqual(["certificate file secrets/beta.cert.pem not found"]);
    // Items carry no apply-only fields, and internal planning state stays out.
    for (const item of r.items) expect(item).not.toHaveProperty("status");
    expect(JSON.stringify(r)).not.toContain("reconcileFrom");
  });

  it("copies only known fingerprint fields into `secret`", () => {
    const plan = samplePlan();
    (plan.items[0]!.secret as unknown as Record<string, unknown>).privateKeyPem = "-----BEGIN PRIVATE KEY-----";
    expect(JSON.stringify(planReport(plan))).not.toContain("PRIVATE KEY");
  });
});

describe("applyReport", () => {
  it("has the SPEC shape with statuses and actions in one flat summary", () => {
    const r = applyReport(sampleResult());
    expect(r).toMatchObject({
      schemaVersion: 1,
      kind: "apply",
      mode: "applied",
      generatedAt: "2025-03-04T06:00:09.000Z",
      accountSid: ACCOUNT,
      tool: { name: "cr2comms", version: TOOL_VERSION },
      mappingPath: "/repo/mappings/demo.yaml",
      runId: "run_0001",
      startedAt: "2025-03-04T06:00:00.000Z",
      finishedAt: "2025-03-04T06:00:09.000Z",
      interrupted: false,
      requests: { create: 2, get: 3, list: 1 },
      problems: [],
      warnings: [],
    });
    expect(r.summary).toEqual({ confirmed: 1, failed: 1, skipped: 1, create: 2, "already-migrated": 1 });
    expect(r.items[0]).toEqual({
      legacySid: sid(1),
      friendlyName: "Limonade iOS",
      legacyType: "apn",
      sandbox: false,
      action: "create",
      target: { appName: "limonade_ios", credentialType: "APN", isDefault: true },
      commsCredentialId: "comms_credential_02",
      status: "confirmed",
      timings: { startedAt: "2025-03-04T06:00:01.000Z", finishedAt: "2025-03-04T06:00:02.000Z", ms: 1000 },
      attempts: 1,
      warnings: [],
      problems: [],
    });
    expect(r.items[1]).toMatchObject({ status: "failed", error: "Comms API error 400 (code 20001): invalid certificate" });
  });

  it("renders a rollback run, with no mapping path and no request counts", () => {
    const result = sampleResult();
    result.kind = "rollback";
    delete result.mappingPath;
    delete result.requests;
    result.items = [{ ...result.items[0]!, action: "delete", status: "confirmed" }];
    const r = applyReport(result);
    expect(r.kind).toBe("rollback");
    expect(r).not.toHaveProperty("mappingPath");
    expect(r.requests).toEqual({});
    expect(r.summary).toEqual({ confirmed: 1, delete: 1 });
  });
});
