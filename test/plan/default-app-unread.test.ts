import { describe, expect, it } from "vitest";
import { describeAccountAction, plan } from "../../src/plan/index.js";
import { comms, entry, legacy, mapping, NOW, secretsFor, sid, snapshot } from "./builders.js";

const withDefault = (m: ReturnType<typeof mapping>, defaultApp: string) => ({ ...m, defaultApp });

describe("plan: the default App when the Comms Apps were not read", () => {
  it("the Apps the credentials name stand in: an existing one is PATCHed, with a warning that the current default is unknown", () => {
    // A credential listed without an appName names no App.
    const snap = snapshot({ legacy: [legacy({ sid: sid(1) })], comms: [comms({ appName: "web" }), comms({ appName: "ios" }), comms({ appName: "" })] });
    const p = plan(snap, withDefault(mapping(entry({ sid: sid(1), appName: "ios" })), "ios"), secretsFor(sid(1)), { now: NOW });
    expect(p.accountActions).toEqual([{ action: "set-default-app", appName: "ios", via: "patch" }]);
    expect(p.warnings).toContain("the Comms Apps were not read, so the account's default App is not known; ios is made the default (a PATCH that changes nothing if it already is)");
    expect(describeAccountAction(p.accountActions![0]!)).toBe("default App: ios (no App is the default now) — set with PATCH /PushNotifications/Apps/ios {isDefault: true}");
  });

  it("a new App among Apps known only from credentials is PATCHed once its first credential exists", () => {
    const snap = snapshot({ legacy: [legacy({ sid: sid(1) })], comms: [comms({ appName: "web" })] });
    const p = plan(snap, withDefault(mapping(entry({ sid: sid(1), appName: "ios" })), "ios"), secretsFor(sid(1)), { now: NOW });
    expect(p.accountActions).toEqual([{ action: "set-default-app", appName: "ios", via: "patch", appCreated: true }]);
    expect(describeAccountAction(p.accountActions![0]!)).toMatch(/, once its first credential is created$/);
  });

  it("only credentials without an appName: no App is known, so the default App comes from the first create", () => {
    const snap = snapshot({ legacy: [legacy({ sid: sid(1) })], comms: [comms({ appName: "" })] });
    const p = plan(snap, withDefault(mapping(entry({ sid: sid(1), appName: "ios" })), "ios"), secretsFor(sid(1)), { now: NOW });
    expect(p.accountActions).toEqual([{ action: "set-default-app", appName: "ios", via: "first-create", appCreated: true }]);
  });
});

describe("plan: no defaultApp, or the right one already", () => {
  it("has no account action at all", () => {
    const snap = snapshot({ legacy: [legacy({ sid: sid(1) })], comms: [comms({ appName: "ios" })], apps: [{ name: "ios", isDefault: true, createdAt: "", updatedAt: "" }] });
    const m = mapping(entry({ sid: sid(1), appName: "ios" }));
    expect(plan(snap, m, secretsFor(sid(1)), { now: NOW }).accountActions).toBeUndefined();
    const already = plan(snap, withDefault(m, "ios"), secretsFor(sid(1)), { now: NOW });
    expect(already.accountActions).toBeUndefined();
    expect(already.warnings).toEqual([]);
  });
});

describe("plan: switching the default App when the Apps were read", () => {
  it("PATCHes from the current default, with no warning", () => {
    const snap = snapshot({
      legacy: [legacy({ sid: sid(1) })],
      comms: [comms({ appName: "ios" }), comms({ appName: "web" })],
      apps: [{ name: "web", isDefault: true, createdAt: "", updatedAt: "" }, { name: "ios", isDefault: false, createdAt: "", updatedAt: "" }],
    });
    const p = plan(snap, withDefault(mapping(entry({ sid: sid(1), appName: "ios" })), "ios"), secretsFor(sid(1)), { now: NOW });
    expect(p.accountActions).toEqual([{ action: "set-default-app", appName: "ios", from: "web", via: "patch" }]);
    expect(p.warnings).toEqual([]);
  });
});
