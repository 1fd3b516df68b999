import { describe, expect, it } from "vitest";
import { serializePlanFile } from "../../src/plan/index.js";
import { parsePlanFile } from "../../src/plan/planfile-read.js";
import type { Plan } from "../../src/plan/types.js";

describe("saved plan files", () => {
  it("keep every field a lost create is reconciled with (App, type, window, credentials that existed before)", () => {
    const plan: Plan = {
      schemaVersion: 1,
      generatedAt: "2026-11-23T10:00:00.000Z",
      accountSid: "AC00000000000000000000000000000000",
      mappingPath: "/m.yaml",
      problems: [],
      accountProblems: [],
      warnings: [],
      observedFingerprint: "0".repeat(64),
      items: [
        {
          legacySid: "CR00000000000000000000000000000001",
          friendlyName: null,
          legacyType: "apn",
          sandbox: false,
          action: "create",
          target: { appName: "app_new", credentialType: "APN", isDefault: false },
          reconcileFrom: {
            attemptId: "a1",
            startedAt: "2026-11-23T09:00:00.000Z",
            appName: "app_old",
            credentialType: "APN_SANDBOX",
            unknownAt: "2026-11-23T09:00:05.000Z",
            lastSentAt: "2026-11-23T09:00:02.000Z",
            priorIds: ["comms_credential_x"],
          },
          warnings: [],
          problems: [],
        },
      ],
    };
    const back = parsePlanFile(serializePlanFile(plan), "p.json");
    expect(back.items[0]?.reconcileFrom).toEqual(plan.items[0]?.reconcileFrom);
    expect(back.accountProblems).toEqual([]);
  });
});
