import { describe, expect, it } from "vitest";
import { mapCredential } from "../../src/plan/mapper.js";
import { entry, legacy } from "./builders.js";

describe("mapCredential", () => {
  it("maps apn with sandbox true to APN_SANDBOX and false to APN, without warnings", () => {
    expect(mapCredential(legacy({ sandbox: true }), entry())).toEqual({
      target: { appName: "app_ios", credentialType: "APN_SANDBOX", isDefault: false },
      warnings: [],
      problems: [],
    });
    expect(mapCredential(legacy({ sandbox: false }), entry()).target?.credentialType).toBe("APN");
    expect(mapCredential(legacy({ sandbox: false }), entry()).warnings).toEqual([]);
  });

  it("maps apn with a missing sandbox flag to APN and warns", () => {
    const r = mapCredential(legacy({ sandbox: null, sandboxRaw: null }), entry());
    expect(r.target?.credentialType).toBe("APN");
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toMatch(/sandbox flag is missing/);
  });

  it("maps fcm to FCM and says the server key cannot be used", () => {
    const r = mapCredential(legacy({ type: "fcm", sandbox: null }), entry({ appName: "app_android" }));
    expect(r.target).toEqual({ appName: "app_android", credentialType: "FCM", isDefault: false });
    expect(r.warnings.join(" ")).toMatch(/server key cannot be used.*service-account JSON \(FCM HTTP v1\)/);
    expect(r.problems).toEqual([]);
  });

  it("takes isDefault from the entry", () => {
    expect(mapCredential(legacy(), entry({ isDefault: true })).target?.isDefault).toBe(true);
    expect(mapCredential(legacy(), entry({ isDefault: false })).target?.isDefault).toBe(false);
  });

  it("lets credentialType override the sandbox flag for apn, with a warning only when it differs", () => {
    const over = mapCredential(legacy({ sandbox: false }), entry({ credentialType: "APN_SANDBOX" }));
    expect(over.target?.credentialType).toBe("APN_SANDBOX");
    expect(over.warnings.join(" ")).toMatch(/overrides the legacy sandbox flag/);

    const same = mapCredential(legacy({ sandbox: true }), entry({ credentialType: "APN_SANDBOX" }));
    expect(same.target?.credentialType).toBe("APN_SANDBOX");
    expect(same.warnings).toEqual([]);

    const back = mapCredential(legacy({ sandbox: true }), entry({ credentialType: "APN" }));
    expect(back.target?.credentialType).toBe("APN");
    expect(back.warnings.join(" ")).toMatch(/overrides the legacy sandbox flag/);
  });

  it("refuses a credentialType outside the legacy type's family", () => {
    const apnAsFcm = mapCredential(legacy(), entry({ credentialType: "FCM" }));
    expect(apnAsFcm.target).toBeUndefined();
    expect(apnAsFcm.problems.join(" ")).toMatch(/FCM is not valid for a legacy apn/);

    const fcmAsApn = mapCredential(legacy({ type: "fcm" }), entry({ credentialType: "APN" }));
    expect(fcmAsApn.target).toBeUndefined();
    expect(fcmAsApn.problems.join(" ")).toMatch(/APN is not valid for a legacy fcm/);

    expect(mapCredential(legacy({ type: "fcm" }), entry({ credentialType: "FCM" })).target?.credentialType).toBe("FCM");
  });

  it("reports a missing or invalid appName as a problem", () => {
    const { appName: _drop, ...noApp } = entry();
    const missing = mapCredential(legacy(), noApp);
    expect(missing.target).toBeUndefined();
    expect(missing.problems.join(" ")).toMatch(/no appName/);

    const bad = mapCredential(legacy(), entry({ appName: "App-iOS" }));
    expect(bad.target).toBeUndefined();
    expect(bad.problems.join(" ")).toMatch(/must match/);
  });
});
