/** The mapping's defaultApp against the emulator: created first on an empty account, switched with one PATCH otherwise. */
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FirstCreateGate } from "../../src/apply/default-app.js";
import type { AppliedItem, ApplyResult } from "../../src/apply/types.js";
import { apply } from "../../src/apply/writer.js";
import { createCommsClient } from "../../src/comms/index.js";
import type { CommsClient } from "../../src/comms/types.js";
import type { SecretResult } from "../../src/domain.js";
import { SAMPLE_SEED, startEmulator, type Emulator, type EmulatorOptions } from "../../src/emulator/index.js";
import { MemoryLedger, replay } from "../../src/ledger/ledger.js";
import type { Ledger, LedgerEventInput } from "../../src/ledger/types.js";
import { createLegacyReader } from "../../src/legacy/index.js";
import type { Mapping, MappingEntry } from "../../src/mapping/types.js";
import { observe } from "../../src/observe/observe.js";
import { plan as makePlan, secretsNeeded } from "../../src/plan/index.js";
import { resolveEntrySecrets } from "../../src/secrets/index.js";
import { ROOT } from "../e2e/harness.js";

const SECRETS = join(ROOT, "mappings", "examples", "secrets");
const SID1 = "CR00000000000000000000000000000001";
const SID3 = "CR00000000000000000000000000000003";
const SID6 = "CR00000000000000000000000000000006";
const PROD = { certificate: "file:limonade-ios-prod.cert.pem", privateKey: "file:limonade-ios-prod.key.pem" };
const ANDROID = { serviceAccount: "file:limonade-android-sa.json" };
/** Two Apps; the defaultApp's credential (SID3) comes after the other App's in the plan. */
const ENTRIES: Omit<MappingEntry, "index">[] = [
  { sid: SID1, appName: "limonade_ios", secrets: PROD },
  { sid: SID3, appName: "limonade_android", secrets: ANDROID },
];
const EMPTY = { ...SAMPLE_SEED, commsCredentials: [] };
const FAST_CONFIRM = { timeoutMs: 2_000, initialDelayMs: 5, maxDelayMs: 20 };

let emu: Emulator | undefined;
let comms: CommsClient | undefined;
afterEach(async () => {
  await comms?.close();
  await emu?.close();
  emu = comms = undefined;
});

async function world(opts: EmulatorOptions = {}) {
  emu = await startEmulator({ port: 0, ...opts });
  const e = emu;
  const c = (comms = createCommsClient({ baseUrl: e.url, apiVersion: "v1", accountSid: e.accountSid, username: e.accountSid, password: e.authToken }));
  const ledger = new MemoryLedger();
  const planFor = async (entries: Omit<MappingEntry, "index">[], defaultApp?: string) => {
    const mapping: Mapping = {
      version: 1,
      ...(defaultApp ? { defaultApp } : {}),
      credentials: entries.map((x, index) => ({ ...x, index })),
      path: join(SECRETS, "m.yaml"),
    };
    const legacy = createLegacyReader({ accountSid: e.accountSid, username: e.accountSid, password: e.authToken, baseUrl: e.url });
    const snapshot = await observe({ accountSid: e.accountSid, legacy, comms: c, ledger, now: () => new Date(), readApps: defaultApp !== undefined });
    const secrets = new Map<string, SecretResult>();
    for (const { entry, target } of secretsNeeded(snapshot, mapping)) {
      secrets.set(entry.sid, await resolveEntrySecrets(entry, target, { mappingDir: SECRETS, env: {}, now: new Date(), interactive: false }));
    }
    return { plan: makePlan(snapshot, mapping, secrets, { now: new Date() }), secrets, existing: snapshot.comms };
  };
  const run = (p: Awaited<ReturnType<typeof planFor>>, l: Ledger = ledger): Promise<ApplyResult> =>
    apply(p.plan, { comms: c, ledger: l, secrets: p.secrets, existing: p.existing, concurrency: 4, confirm: FAST_CONFIRM });
  const patches = () => e.requests.filter((r) => r.method === "PATCH");
  return { emu: e, comms: c, ledger, planFor, run, patches };
}

describe("apply: the account's default App", () => {
  it("on an account without Apps, creates the defaultApp's credential first so Comms makes it the default App (no PATCH); a rerun writes nothing", async () => {
    // Latency makes the order matter: without the gate the other App's create lands first.
    const w = await world({ seed: EMPTY, latencyMs: 5 });
    const p = await w.planFor(ENTRIES, "limonade_android");
    expect(p.plan.accountActions).toEqual([{ action: "set-default-app", appName: "limonade_android", via: "first-create", appCreated: true }]);

    const result = await w.run(p);
    expect(result.items.filter((i) => i.action === "create").map((i) => i.status)).toEqual(["confirmed", "confirmed"]);
    expect(result.accountActions).toEqual([expect.objectContaining({ appName: "limonade_android", status: "confirmed", patched: false })]);
    expect(w.emu.state.defaultApp()?.name).toBe("limonade_android");
    expect(w.emu.state.appList().map((a) => a.name)).toEqual(["limonade_android", "limonade_ios"]);
    expect(w.patches()).toHaveLength(0);
    const events = await w.ledger.events();
    expect(events.filter((e) => e.event === "app-default-set")).toEqual([expect.objectContaining({ appName: "limonade_android", patched: false })]);
    expect([...replay(events).keys()].sort()).toEqual([SID1, SID3]);

    const writes = w.emu.writeCount();
    const again = await w.planFor(ENTRIES, "limonade_android");
    expect(again.plan.accountActions).toBeUndefined();
    await w.run(again);
    expect(w.emu.writeCount()).toBe(writes);
  });

  it("switches the default App of an account whose default is another with one PATCH, after the App's first create; a rerun writes nothing", async () => {
    const w = await world(); // SAMPLE_SEED: marketing_web is the default App
    const p = await w.planFor(ENTRIES, "limonade_ios");
    expect(p.plan.accountActions).toEqual([{ action: "set-default-app", appName: "limonade_ios", from: "marketing_web", via: "patch", appCreated: true }]);
    const result = await w.run(p);
    expect(result.accountActions).toEqual([expect.objectContaining({ status: "confirmed", patched: true, from: "marketing_web" })]);
    expect(w.patches().map((r) => r.path)).toEqual(["/v1/PushNotifications/Apps/limonade_ios"]);
    expect(w.emu.state.defaultApp()?.name).toBe("limonade_ios");
    // The PATCH came after the App existed (its create was accepted first).
    const firstPost = w.emu.requests.findIndex((r) => r.method === "POST");
    expect(w.emu.requests.findIndex((r) => r.method === "PATCH")).toBeGreaterThan(firstPost);
    expect((await w.ledger.events()).map((e) => e.event).filter((e) => e.startsWith("app-"))).toEqual(["app-default-requested", "app-default-set"]);

    const writes = w.emu.writeCount();
    const again = await w.planFor(ENTRIES, "limonade_ios");
    expect(again.plan.accountActions).toBeUndefined();
    await w.run(again);
    expect(w.emu.writeCount()).toBe(writes);
  });

  it("makes an existing App the default with only a PATCH when its credentials are already migrated", async () => {
    const w = await world();
    await w.run(await w.planFor(ENTRIES));
    expect(w.emu.state.defaultApp()?.name).toBe("marketing_web");
    const writes = w.emu.writeCount();
    const p = await w.planFor(ENTRIES, "limonade_android");
    expect(p.plan.accountActions).toEqual([{ action: "set-default-app", appName: "limonade_android", from: "marketing_web", via: "patch" }]);
    expect(p.plan.items.every((i) => i.action !== "create")).toBe(true);
    await w.run(p);
    expect(w.emu.writeCount()).toBe(writes + 1);
    expect(w.emu.state.defaultApp()?.name).toBe("limonade_android");
  });

  it("a crash between the PATCH and its journal entry: the rerun sees the App is the default and writes nothing", async () => {
    const w = await world();
    await w.run(await w.planFor(ENTRIES));
    const p = await w.planFor(ENTRIES, "limonade_ios");
    // The ledger dies right after the PATCH: the `app-default-set` append fails (as a crash would lose it).
    const dying: Ledger = {
      events: () => w.ledger.events(),
      entries: () => w.ledger.entries(),
      append: async (e: LedgerEventInput) => {
        if (e.event === "app-default-set") throw new Error("disk full");
        await w.ledger.append(e);
      },
    };
    const crashed = await w.run(p, dying);
    expect(crashed.problems.join(" ")).toMatch(/stopped: .*disk full/);
    expect(crashed.accountActions?.[0]?.status).toBe("failed");
    expect(w.patches()).toHaveLength(1);
    const events = await w.ledger.events();
    expect(events.map((e) => e.event).filter((e) => e.startsWith("app-"))).toEqual(["app-default-requested"]);
    expect([...replay(events).keys()].every((k) => typeof k === "string" && k.startsWith("CR"))).toBe(true);

    const writes = w.emu.writeCount();
    const again = await w.planFor(ENTRIES, "limonade_ios");
    expect(again.plan.accountActions).toBeUndefined();
    await w.run(again);
    expect(w.emu.writeCount()).toBe(writes);
    expect(w.emu.state.defaultApp()?.name).toBe("limonade_ios");
  });

  it("with account problems nothing is written, and the default App change is reported as planned", async () => {
    const w = await world({ seed: EMPTY });
    const p = await w.planFor(ENTRIES, "limonade_typo");
    expect(p.plan.accountProblems).toEqual([expect.stringMatching(/defaultApp limonade_typo is neither an existing Comms App nor the appName/)]);
    const result = await w.run(p);
    expect(w.emu.writeCount()).toBe(0);
    expect(result.accountActions).toBeUndefined();
  });

  it("on an empty account, the other Apps' creates are not started when the defaultApp's create fails", async () => {
    const w = await world({ seed: EMPTY });
    const p = await w.planFor([...ENTRIES, { sid: SID6, appName: "kiosk", secrets: PROD }], "limonade_android");
    // Comms refuses the defaultApp's create (a 400 for its content): it is not created.
    w.emu.state.createComms = ((orig) =>
      function (this: typeof w.emu.state, input: Parameters<typeof orig>[0]) {
        if (input.appName === "limonade_android") return { limit: "apps" as const, message: "refused for the test" };
        return orig.call(this, input);
      })(w.emu.state.createComms);
    const result = await w.run(p);
    const byApp = (app: string) => result.items.filter((i) => i.target?.appName === app).map((i) => i.status);
    expect(byApp("limonade_android")).toEqual(["failed"]);
    expect(byApp("limonade_ios")).toEqual(["planned"]);
    expect(byApp("kiosk")).toEqual(["planned"]);
    expect(result.items.find((i) => i.legacySid === SID1)?.warnings.join(" ")).toMatch(/defaultApp limonade_android must be created first/);
    expect(result.accountActions?.[0]).toMatchObject({ status: "failed", error: expect.stringMatching(/was not created in this run/) });
    expect(w.emu.state.appList()).toEqual([]);
  });
});

describe("FirstCreateGate", () => {
  const done = (status: AppliedItem["status"]) => ({ status }) as AppliedItem;
  it("opens true on the first confirmed create, false once every create finished without one, false at once without creates", async () => {
    const a = new FirstCreateGate("x", 2);
    a.report(done("failed"));
    a.report(done("confirmed"));
    expect(await a.ready).toBe(true);
    const b = new FirstCreateGate("x", 2);
    b.report(done("failed"));
    b.report(done("accepted-unconfirmed"));
    expect(await b.ready).toBe(false);
    expect(await new FirstCreateGate("x", 0).ready).toBe(false);
  });
});
