import { describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadMapping } from "../../src/mapping/index.js";
import { describeAccountAction, plan, serializePlanFile } from "../../src/plan/index.js";
import { parsePlanFile } from "../../src/plan/planfile-read.js";
import { hasChanges } from "../../src/plan/types.js";
import { planMarkdown, planReport } from "../../src/report/index.js";
import { comms, entry, ledgerEntry, ledgerOf, legacy, mapping, NOW, secretsFor, sid, snapshot } from "./builders.js";

const app = (name: string, isDefault = false) => ({ name, isDefault, createdAt: "2025-01-01T00:00:00Z", updatedAt: "2025-01-01T00:00:00Z" });
const withDefault = (m: ReturnType<typeof mapping>, defaultApp: string) => ({ ...m, defaultApp });

describe("plan: the account's default App", () => {
  it("on an account without Apps: a first-create action, counted as a change", () => {
    const m = withDefault(mapping(entry({ sid: sid(1), appName: "ios" }), entry({ sid: sid(2), appName: "android" })), "android");
    const p = plan(snapshot({ legacy: [legacy({ sid: sid(1) }), legacy({ sid: sid(2), type: "fcm" })], apps: [] }), m, secretsFor(sid(1), sid(2)), { now: NOW });
    expect(p.accountActions).toEqual([{ action: "set-default-app", appName: "android", via: "first-create", appCreated: true }]);
    expect(p.problems).toEqual([]);
    expect(describeAccountAction(p.accountActions![0]!)).toMatch(/created first and Comms makes it the default App/);
  });

  it("on an account whose default App is another: a PATCH action naming the current default; only that is a change", () => {
    const live = comms({ id: "comms_credential_live", appName: "ios" });
    const snap = snapshot({
      legacy: [legacy({ sid: sid(1) })],
      comms: [live, comms({ appName: "web", credentialType: "FCM" })],
      apps: [app("web", true), app("ios")],
      ledger: ledgerOf(ledgerEntry({ legacySid: sid(1), appName: "ios", commsCredentialId: "comms_credential_live" })),
    });
    const p = plan(snap, withDefault(mapping(entry({ sid: sid(1), appName: "ios" })), "ios"), secretsFor(sid(1)), { now: NOW });
    expect(p.items[0]?.action).toBe("already-migrated");
    expect(p.accountActions).toEqual([{ action: "set-default-app", appName: "ios", from: "web", via: "patch" }]);
    expect(hasChanges(p)).toBe(true);
    expect(describeAccountAction(p.accountActions![0]!)).toBe("default App: ios instead of web — set with PATCH /PushNotifications/Apps/ios {isDefault: true}");
  });

  it("nothing when the App already is the default, or when the mapping names no defaultApp", () => {
    const snap = snapshot({ legacy: [legacy({ sid: sid(1) })], comms: [comms({ appName: "ios" })], apps: [app("ios", true)] });
    const m = mapping(entry({ sid: sid(1), appName: "ios" }));
    expect(plan(snap, withDefault(m, "ios"), secretsFor(sid(1)), { now: NOW }).accountActions).toBeUndefined();
    expect(plan(snap, m, secretsFor(sid(1)), { now: NOW }).accountActions).toBeUndefined();
  });

  it("an App this plan creates on an account with Apps: PATCH after its first create", () => {
    const snap = snapshot({ legacy: [legacy({ sid: sid(1) })], comms: [comms({ appName: "web" })], apps: [app("web", true)] });
    const p = plan(snap, withDefault(mapping(entry({ sid: sid(1), appName: "ios" })), "ios"), secretsFor(sid(1)), { now: NOW });
    expect(p.accountActions).toEqual([{ action: "set-default-app", appName: "ios", from: "web", via: "patch", appCreated: true }]);
    expect(describeAccountAction(p.accountActions![0]!)).toMatch(/once its first credential is created$/);
  });

  it("on an account without Apps, a defaultApp no credential reaches is an account problem: nothing is applied", () => {
    const snap = snapshot({ legacy: [legacy({ sid: sid(1) })], apps: [] });
    const typo = plan(snap, withDefault(mapping(entry({ sid: sid(1), appName: "ios" })), "iso"), secretsFor(sid(1)), { now: NOW });
    expect(typo.accountProblems).toEqual([expect.stringMatching(/^defaultApp iso is neither an existing Comms App nor the appName of a credential/)]);
    expect(typo.problems).toEqual(typo.accountProblems);
    expect(typo.accountActions).toBeUndefined();
    // Its only credential is blocked (no secret): on an empty account another App would become the default.
    const blocked = plan(snap, withDefault(mapping(entry({ sid: sid(1), appName: "ios" })), "ios"), new Map(), { now: NOW });
    expect(blocked.accountProblems).toEqual([expect.stringMatching(/^defaultApp ios: none of its credentials can be created/)]);
  });

  it("on an account with Apps, a typo is a blocking problem that leaves the other credentials to apply; blocked credentials only defer the switch", () => {
    const snap = snapshot({ legacy: [legacy({ sid: sid(1) }), legacy({ sid: sid(2), type: "fcm" })], comms: [comms({ appName: "web" })], apps: [app("web", true)] });
    const m = mapping(entry({ sid: sid(1), appName: "ios" }), entry({ sid: sid(2), appName: "android" }));
    const typo = plan(snap, withDefault(m, "iso"), secretsFor(sid(1), sid(2)), { now: NOW });
    expect(typo.accountProblems).toEqual([]);
    expect(typo.problems).toEqual([expect.stringMatching(/^defaultApp iso is neither an existing Comms App nor the appName of a credential in the mapping — correct it or remove it$/)]);
    expect(typo.items.map((i) => i.action)).toEqual(["create", "create"]);
    const deferred = plan(snap, withDefault(m, "ios"), secretsFor(sid(2)), { now: NOW });
    expect(deferred.problems).toEqual([]);
    expect(deferred.accountActions).toBeUndefined();
    expect(deferred.warnings).toEqual([expect.stringMatching(/^defaultApp ios cannot be made the account's default App yet/)]);
  });

  it("without the Apps list, an account without credentials counts as having no Apps", () => {
    const p = plan(snapshot({ legacy: [legacy({ sid: sid(1) })] }), withDefault(mapping(entry({ sid: sid(1), appName: "ios" })), "ios"), secretsFor(sid(1)), { now: NOW });
    expect(p.accountActions?.[0]?.via).toBe("first-create");
  });

  it("survives a saved plan file, changes the observed fingerprint, and is rendered in both reports", () => {
    const base = snapshot({ legacy: [legacy({ sid: sid(1) })], comms: [comms({ appName: "web" }), comms({ appName: "ios" })], apps: [app("web", true), app("ios")] });
    const m = withDefault(mapping(entry({ sid: sid(1), appName: "ios" })), "ios");
    const p = plan(base, m, secretsFor(sid(1)), { now: NOW });
    expect(parsePlanFile(serializePlanFile(p), "p.json").accountActions).toEqual(p.accountActions);
    const switched = plan({ ...base, apps: [app("web"), app("ios", true)] }, m, secretsFor(sid(1)), { now: NOW });
    expect(switched.observedFingerprint).not.toBe(p.observedFingerprint);
    expect(plan(base, { ...m, defaultApp: "web" }, secretsFor(sid(1)), { now: NOW }).observedParts?.mapping).not.toBe(p.observedParts?.mapping);

    const json = planReport(p);
    expect(json.accountActions).toEqual([{ action: "set-default-app", appName: "ios", from: "web", via: "patch" }]);
    expect(json.summary["set-default-app"]).toBe(1);
    expect(planMarkdown(p)).toContain("## Account\n\n- default App: ios instead of web");
    expect(planReport(switched).accountActions).toBeUndefined();
  });
});

describe("mapping: defaultApp", () => {
  const dir = mkdtempSync(join(tmpdir(), "cr2comms-defaultapp-"));
  const write = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  it("reads a top-level defaultApp and refuses one that is not an appName", () => {
    expect(loadMapping(write("ok.yaml", "version: 1\ndefaultApp: limonade_ios\ncredentials: []\n")).defaultApp).toBe("limonade_ios");
    expect(loadMapping(write("none.yaml", "version: 1\ncredentials: []\n")).defaultApp).toBeUndefined();
    expect(() => loadMapping(write("bad.yaml", "version: 1\ndefaultApp: Limonade-iOS\ncredentials: []\n"))).toThrow(/defaultApp "Limonade-iOS" must be 1..64 characters/);
    expect(() => loadMapping(write("list.yaml", "version: 1\ndefaultApp: [a]\ncredentials: []\n"))).toThrow(/defaultApp must be an appName .* not a list/);
    expect(() => loadMapping(write("typo.yaml", "version: 1\ndefaultapp: x\ncredentials: []\n"))).toThrow(/did you mean "defaultApp"/);
  });
});
