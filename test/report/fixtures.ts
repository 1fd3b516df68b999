import type { ApplyResult } from "../../src/apply/types.js";
import type { Plan } from "../../src/plan/types.js";

export const ACCOUNT = "AC00000000000000000000000000000000";
export const sid = (n: number): string => `CR${String(n).padStart(32, "0")}`;

/** A plan with one item of each kind that matters for rendering. */
export function samplePlan(): Plan {
  return {
    schemaVersion: 1,
    generatedAt: "2025-03-04T05:06:07.000Z",
    accountSid: ACCOUNT,
    mappingPath: "/repo/mappings/demo.yaml",
    problems: [`mapping lists ${sid(99)}, which does not exist in the account`],
    warnings: ["a general warning"],
    observedFingerprint: "f".repeat(64),
    items: [
      {
        legacySid: sid(1),
        friendlyName: "Limonade | iOS\nprod",
        legacyType: "apn",
        sandbox: false,
        action: "create",
        target: { appName: "limonade_ios", credentialType: "APN", isDefault: true },
        reconcileFrom: { attemptId: "att_1", startedAt: "2025-03-04T05:00:00.000Z" },
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
      },
      {
        legacySid: sid(3),
        friendlyName: "Limonade Android",
        legacyType: "fcm",
        sandbox: null,
        action: "already-migrated",
        target: { appName: "limonade_android", credentialType: "FCM", isDefault: false },
        commsCredentialId: "comms_credential_01",
        warnings: ["the legacy FCM server key cannot be used by Comms"],
        problems: [],
        secret: { kind: "fcm", contentSha256: "d".repeat(64), projectId: "limonade-prod", clientEmail: "push@limonade.iam.gserviceaccount.com" },
      },
      {
        legacySid: sid(4),
        friendlyName: "Old GCM",
        legacyType: "gcm",
        sandbox: null,
        action: "drop",
        warnings: [`${sid(4)}: gcm has no Comms equivalent (GCM was shut down in 2019); dropped`],
        problems: [],
      },
      {
        legacySid: sid(5),
        friendlyName: "Beta",
        legacyType: "apn",
        sandbox: true,
        action: "blocked",
        target: { appName: "limonade_ios", credentialType: "APN_SANDBOX", isDefault: false },
        warnings: [],
        problems: ["certificate file secrets/beta.cert.pem not found"],
      },
      { legacySid: sid(6), friendlyName: null, legacyType: "apn", sandbox: null, action: "skip", warnings: [], problems: [] },
      { legacySid: sid(7), friendlyName: "Stray", legacyType: "fcm", sandbox: null, action: "unmapped", warnings: [], problems: [] },
    ],
  };
}

/** An applied result: one confirmed create, one failed create, one already migrated. */
export function sampleResult(): ApplyResult {
  return {
    kind: "apply",
    runId: "run_0001",
    startedAt: "2025-03-04T06:00:00.000Z",
    finishedAt: "2025-03-04T06:00:09.000Z",
    accountSid: ACCOUNT,
    mappingPath: "/repo/mappings/demo.yaml",
    problems: [],
    warnings: [],
    interrupted: false,
    requests: { create: 2, get: 3, list: 1 },
    items: [
      {
        legacySid: sid(1),
        friendlyName: "Limonade iOS",
        legacyType: "apn",
        sandbox: false,
        action: "create",
        status: "confirmed",
        target: { appName: "limonade_ios", credentialType: "APN", isDefault: true },
        commsCredentialId: "comms_credential_02",
        attempts: 1,
        timings: { startedAt: "2025-03-04T06:00:01.000Z", finishedAt: "2025-03-04T06:00:02.000Z", ms: 1000 },
        warnings: [],
        problems: [],
      },
      {
        legacySid: sid(2),
        friendlyName: "Limonade iOS dev",
        legacyType: "apn",
        sandbox: true,
        action: "create",
        status: "failed",
        error: "Comms API error 400 (code 20001): invalid certificate",
        target: { appName: "limonade_ios", credentialType: "APN_SANDBOX", isDefault: false },
        attempts: 1,
        warnings: [],
        problems: [],
      },
      {
        legacySid: sid(3),
        friendlyName: "Limonade Android",
        legacyType: "fcm",
        sandbox: null,
        action: "already-migrated",
        status: "skipped",
        target: { appName: "limonade_android", credentialType: "FCM", isDefault: false },
        commsCredentialId: "comms_credential_01",
        warnings: [],
        problems: [],
      },
    ],
  };
}
