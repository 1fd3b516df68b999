/**
 * The default-App step on its own (`carryOutDefaultApp`), against a scripted App read-back on a
 * virtual clock: what is PATCHed, what is journalled, what the step reports.
 */
import { describe, expect, it } from "vitest";
import { carryOutDefaultApp, FirstCreateGate, type DefaultAppDeps } from "../../src/apply/default-app.js";
import type { AppliedItem } from "../../src/apply/types.js";
import type { CommsApp, CommsClient } from "../../src/comms/types.js";
import { MemoryLedger } from "../../src/ledger/ledger.js";
import type { AccountAction } from "../../src/plan/types.js";
import { virtualClock } from "./fake-comms.js";

const APP = "limonade_android";

/**
 * `reads` scripts what each App read returns, in order (the last one repeats): an App, null (not
 * there), or "error" (the read fails). Every request is logged with its virtual time.
 */
function world(reads: (Partial<CommsApp> | null | "error")[], over: Partial<DefaultAppDeps> = {}) {
  const clock = virtualClock(0);
  const ledger = new MemoryLedger(clock.now);
  const calls: string[] = [];
  let patchError: unknown;
  let n = 0;
  let scheduled = 0;
  const comms = {
    async fetchApp(appName: string) {
      calls.push(`${clock.ms()} fetchApp ${appName}`);
      const r = reads[Math.min(n++, reads.length - 1)];
      if (r === "error") throw new Error("503 unavailable");
      return r === null || r === undefined ? null : { name: appName, isDefault: false, createdAt: "", updatedAt: "", ...r };
    },
    async setDefaultApp(appName: string) {
      calls.push(`${clock.ms()} setDefaultApp ${appName}`);
      if (patchError) throw patchError;
      return { resourceId: appName, resourceLocation: `x/${appName}` };
    },
  } as unknown as CommsClient;
  const controller = new AbortController();
  const deps: DefaultAppDeps = {
    comms,
    ledger,
    runId: "run-1",
    now: clock.now,
    sleep: clock.sleep,
    signal: controller.signal,
    schedule: (fn) => (scheduled++, fn()),
    timeoutMs: 1_000,
    initialDelayMs: 100,
    maxDelayMs: 400,
    ...over,
  };
  return {
    deps,
    ledger,
    calls,
    controller,
    scheduled: () => scheduled,
    failPatch: (e: unknown) => void (patchError = e),
    patches: () => calls.filter((c) => c.includes("setDefaultApp")),
    events: () => ledger.list.map(({ ts: _, v: __, ...e }) => e),
  };
}

const viaPatch: AccountAction = { action: "set-default-app", appName: APP, from: "limonade_ios", via: "patch" };
const firstCreate: AccountAction = { action: "set-default-app", appName: APP, via: "first-create", appCreated: true };
const gateOpen = (confirmed: boolean) => {
  const gate = new FirstCreateGate(APP, 1);
  gate.report({ status: confirmed ? "confirmed" : "failed" } as AppliedItem);
  return gate;
};

describe("the default-App step: a PATCH", () => {
  it("journals the request before the PATCH and the result once a read shows it, naming the App it replaces", async () => {
    const w = world([{ isDefault: false }, { isDefault: true }]);
    const done = await carryOutDefaultApp(viaPatch, w.deps);
    expect(done).toEqual({ ...viaPatch, status: "confirmed", patched: true, warnings: [] });
    expect(w.events()).toEqual([
      { event: "app-default-requested", appName: APP, from: "limonade_ios", runId: "run-1" },
      { event: "app-default-set", appName: APP, from: "limonade_ios", patched: true, runId: "run-1" },
    ]);
    // The PATCH first, then reads with a doubling pause until one shows the App as the default.
    expect(w.calls).toEqual([`0 setDefaultApp ${APP}`, `0 fetchApp ${APP}`, `100 fetchApp ${APP}`]);
    expect(w.scheduled()).toBe(3);
  });

  it("a PATCH accepted but never visible is accepted-unconfirmed after the read-back timeout; only the request is journalled", async () => {
    const w = world([{ isDefault: false }]);
    const done = await carryOutDefaultApp(viaPatch, w.deps);
    expect(done).toMatchObject({ status: "accepted-unconfirmed", patched: true });
    expect(done.warnings.join(" ")).toMatch(/accepted \(202\) but not yet visible; a rerun confirms it/);
    expect(w.events().map((e) => e.event)).toEqual(["app-default-requested"]);
    // Reads at 0, 100, 300, 700 (pauses double up to 400), and a last one at the deadline or after it.
    expect(w.calls.slice(1).map((c) => Number(c.split(" ")[0]))).toEqual([0, 100, 300, 700, 1_100]);
  });

  it("a read landing exactly on the deadline is the last one: not visible then is accepted-unconfirmed, even if a later read would show it", async () => {
    // Reads at 0, 100, 300 — the third exactly at the 300 ms deadline; the App shows as the default only from the fourth.
    const w = world([{ isDefault: false }, { isDefault: false }, { isDefault: false }, { isDefault: true }], { timeoutMs: 300 });
    const done = await carryOutDefaultApp(viaPatch, w.deps);
    expect(w.calls.slice(1).map((c) => Number(c.split(" ")[0]))).toEqual([0, 100, 300]);
    expect(done).toMatchObject({ status: "accepted-unconfirmed", patched: true });
  });

  it("a read landing exactly on the deadline that shows the App as the default confirms it", async () => {
    const w = world([{ isDefault: false }, { isDefault: false }, { isDefault: true }], { timeoutMs: 300 });
    const done = await carryOutDefaultApp(viaPatch, w.deps);
    expect(w.calls.slice(1).map((c) => Number(c.split(" ")[0]))).toEqual([0, 100, 300]);
    expect(done).toMatchObject({ status: "confirmed", patched: true });
  });

  it("a read that fails counts as not there yet, and reading goes on", async () => {
    const w = world(["error", { isDefault: true }]);
    const done = await carryOutDefaultApp(viaPatch, w.deps);
    expect(done.status).toBe("confirmed");
    expect(w.calls.filter((c) => c.includes("fetchApp"))).toHaveLength(2);
  });

  it("a refused PATCH fails the step with the API's message; nothing after the request is journalled", async () => {
    const w = world([{ isDefault: true }]);
    w.failPatch(new Error("400 App not found"));
    const done = await carryOutDefaultApp(viaPatch, w.deps);
    expect(done).toMatchObject({ status: "failed", error: "400 App not found", patched: true });
    expect(w.events().map((e) => e.event)).toEqual(["app-default-requested"]);
    expect(w.calls.filter((c) => c.includes("fetchApp"))).toEqual([]);
  });

  it("a PATCH that fails with something other than an Error still says what failed", async () => {
    const w = world([{ isDefault: true }]);
    w.failPatch("connection reset");
    expect(await carryOutDefaultApp(viaPatch, w.deps)).toMatchObject({ status: "failed", error: "connection reset" });
  });

  it("an interrupted run sends no PATCH and journals nothing", async () => {
    const w = world([{ isDefault: true }]);
    w.controller.abort();
    const done = await carryOutDefaultApp(viaPatch, w.deps);
    expect(done).toMatchObject({ status: "planned", warnings: ["not started: the run was interrupted"] });
    expect(w.calls).toEqual([]);
    expect(w.ledger.list).toEqual([]);
  });

  it("interrupted during the read-back, stops reading at once and leaves it unconfirmed", async () => {
    const w = world([{ isDefault: false }]);
    const sleep = w.deps.sleep;
    const done = await carryOutDefaultApp(viaPatch, { ...w.deps, sleep: async (ms) => (w.controller.abort(), sleep(ms)) });
    expect(done.status).toBe("accepted-unconfirmed");
    expect(w.calls.filter((c) => c.includes("fetchApp"))).toHaveLength(2);
  });

  it("without an App it replaces (an account without a default), journals no `from`", async () => {
    const w = world([{ isDefault: true }]);
    const { from: _, ...noFrom } = viaPatch;
    await carryOutDefaultApp(noFrom, w.deps);
    expect(w.events()).toEqual([
      { event: "app-default-requested", appName: APP, runId: "run-1" },
      { event: "app-default-set", appName: APP, patched: true, runId: "run-1" },
    ]);
  });
});

describe("the default-App step: an App this run creates", () => {
  it("on an account without Apps, Comms made it the default by itself: journalled without a PATCH", async () => {
    const w = world([null, { isDefault: true }]);
    const done = await carryOutDefaultApp(firstCreate, { ...w.deps, gate: gateOpen(true) });
    expect(done).toEqual({ ...firstCreate, status: "confirmed", patched: false, warnings: [] });
    expect(w.patches()).toEqual([]);
    expect(w.events()).toEqual([{ event: "app-default-set", appName: APP, patched: false, runId: "run-1" }]);
  });

  it("another App became the default first (made outside this run): switched with a PATCH", async () => {
    const w = world([{ isDefault: false }, { isDefault: false }, { isDefault: true }]);
    const done = await carryOutDefaultApp(firstCreate, { ...w.deps, gate: gateOpen(true) });
    expect(done).toMatchObject({ status: "confirmed", patched: true });
    expect(w.patches()).toHaveLength(1);
    // The App it replaces is not known (it was not there when planned): no `from`.
    expect(w.events()).toEqual([
      { event: "app-default-requested", appName: APP, runId: "run-1" },
      { event: "app-default-set", appName: APP, patched: true, runId: "run-1" },
    ]);
  });

  it("created but never visible as an App: accepted-unconfirmed, no PATCH, nothing journalled", async () => {
    const w = world([null]);
    const done = await carryOutDefaultApp(firstCreate, { ...w.deps, gate: gateOpen(true) });
    expect(done).toMatchObject({ status: "accepted-unconfirmed" });
    expect(done.warnings.join(" ")).toMatch(new RegExp(`${APP} was created but is not visible as an App yet`));
    expect(w.patches()).toEqual([]);
    expect(w.ledger.list).toEqual([]);
  });

  it("not created in this run: the step fails naming the App, and nothing is sent", async () => {
    for (const gate of [gateOpen(false), undefined]) {
      const w = world([{ isDefault: true }]);
      const done = await carryOutDefaultApp({ ...viaPatch, appCreated: true }, { ...w.deps, ...(gate ? { gate } : {}) });
      expect(done).toMatchObject({ status: "failed", error: expect.stringMatching(new RegExp(`^${APP} was not created in this run`)) });
      expect(w.calls).toEqual([]);
      expect(w.ledger.list).toEqual([]);
    }
  });

  it("not created because the run was interrupted: planned, with why", async () => {
    const w = world([{ isDefault: true }]);
    w.controller.abort();
    const done = await carryOutDefaultApp(firstCreate, { ...w.deps, gate: gateOpen(false) });
    expect(done).toMatchObject({ status: "planned", warnings: [`not started: the run was interrupted before ${APP} was created`] });
    expect(w.calls).toEqual([]);
  });

  it("a PATCH into an App this run creates waits for the App's first create", async () => {
    const w = world([{ isDefault: true }]);
    const gate = new FirstCreateGate(APP, 2);
    let finished = false;
    const step = carryOutDefaultApp({ ...viaPatch, appCreated: true }, { ...w.deps, gate }).then((d) => ((finished = true), d));
    await new Promise((r) => setImmediate(r));
    expect(finished).toBe(false);
    expect(w.calls).toEqual([]);
    gate.report({ status: "failed" } as AppliedItem);
    await new Promise((r) => setImmediate(r));
    expect(w.calls).toEqual([]);
    gate.report({ status: "confirmed" } as AppliedItem);
    expect((await step).status).toBe("confirmed");
    expect(w.patches()).toHaveLength(1);
  });
});
