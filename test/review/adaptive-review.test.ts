/**
 * Review (h-review) of 069cb08: adaptive concurrency (growth, priorities, a slot given back during a
 * retry wait) and the confirmer's learned first look. Each test states the EXPECTED behaviour; a
 * failing test is a finding. No wall-clock assertions: only the order of calls and counts.
 */
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AdaptiveLimiter } from "../../src/apply/adaptive.js";
import { tick, traffic } from "../apply/limiter-traffic.js";
import { apply } from "../../src/apply/writer.js";
import { createCommsClient } from "../../src/comms/index.js";
import type { CommsClient } from "../../src/comms/types.js";
import type { SecretResult } from "../../src/domain.js";
import { startEmulator, type Emulator, type EmulatorOptions } from "../../src/emulator/index.js";
import { MemoryLedger } from "../../src/ledger/ledger.js";
import { createLegacyReader } from "../../src/legacy/index.js";
import type { Mapping, MappingEntry } from "../../src/mapping/types.js";
import { observe } from "../../src/observe/observe.js";
import { plan as makePlan, secretsNeeded } from "../../src/plan/index.js";
import { resolveEntrySecrets } from "../../src/secrets/index.js";
import { ROOT } from "../e2e/harness.js";
import { virtualClock } from "../apply/fake-comms.js";

/** A promise and the function that settles it. */
function deferred<T = void>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Counts the work running inside the limiter's slots ("sending"), and the most at once. */
function meter() {
  let now = 0;
  let peak = 0;
  return {
    enter() {
      now++;
      peak = Math.max(peak, now);
    },
    leave() {
      now--;
    },
    get peak() {
      return peak;
    },
  };
}

/** Two requests that each hold their slot until their gate opens, counted by `m`. */
function gatedRuns(limiter: AdaptiveLimiter, m: ReturnType<typeof meter>) {
  const gates = [deferred(), deferred()];
  const runs = gates.map((g) =>
    limiter.run(async () => {
      m.enter();
      await g.promise;
      m.leave();
    }),
  );
  return { gates, runs };
}

describe("review: AdaptiveLimiter slots given back during a wait", () => {
  it("A1: a wait begun after its run settled (a detached continuation still in the slot's context) gives back no slot", async () => {
    const limiter = new AdaptiveLimiter({ start: 1, min: 1, max: 1 }); // adaptive: only it gives a slot back during a wait
    const m = meter();
    const later = deferred();
    const waitEnds = deferred();
    let detached!: Promise<void>;
    // The run starts something it does not await (fire-and-forget): it inherits the slot's context.
    await limiter.run(async () => {
      detached = later.promise.then(() => limiter.outside(() => waitEnds.promise));
    });
    expect(limiter.inFlight).toBe(0);
    later.resolve();
    await tick();
    // Two pieces of work now: with limit 1 they must run one after the other.
    const { gates, runs } = gatedRuns(limiter, m);
    await tick();
    expect(m.peak).toBe(1);
    gates.forEach((g) => g.resolve());
    waitEnds.resolve();
    await Promise.all([...runs, detached]);
    expect(limiter.inFlight).toBe(0);
  });

  it("A2: a run that settles while its own retry wait is still pending gives its slot back once, and the wait does not keep one", async () => {
    const limiter = new AdaptiveLimiter({ start: 1, min: 1, max: 1 }); // adaptive: only it gives a slot back during a wait
    const m = meter();
    const waitEnds = deferred();
    let pendingWait!: Promise<void>;
    // E.g. a request raced against an abort: the run gives up while the request sleeps out a Retry-After.
    await limiter.run(async () => {
      pendingWait = limiter.outside(() => waitEnds.promise);
      await tick();
    });
    const { gates, runs } = gatedRuns(limiter, m);
    await tick();
    expect(m.peak).toBe(1);
    gates.forEach((g) => g.resolve());
    waitEnds.resolve();
    await Promise.all([...runs, pendingWait]);
    await tick();
    // The wait ended after its run: it must not hold a slot nobody gives back.
    expect(limiter.inFlight).toBe(0);
    await limiter.run(async () => undefined);
  });

  it("A3: two retry waits in one slot: the one that ends while the slot is given back takes it again before it sends", async () => {
    const limiter = new AdaptiveLimiter({ start: 1, min: 1, max: 1 }); // adaptive: only it gives a slot back during a wait
    const m = meter();
    const longWait = deferred();
    const shortWait = deferred();
    const other = deferred();
    const slot = limiter.run(() =>
      Promise.all([
        limiter.outside(() => longWait.promise).then(() => {
          m.enter();
          m.leave();
        }),
        limiter.outside(() => shortWait.promise).then(() => {
          m.enter(); // the re-send (counted while the other run may hold the only slot)
          m.leave();
        }),
      ]),
    );
    await tick();
    expect(limiter.inFlight).toBe(0); // the slot was given back for the waits
    const o = limiter.run(async () => {
      m.enter();
      await other.promise;
      m.leave();
    });
    await tick();
    shortWait.resolve(); // ends while the other request holds the only slot
    await tick();
    await tick();
    expect(m.peak).toBe(1);
    other.resolve();
    longWait.resolve();
    await Promise.all([slot, o]);
    expect(limiter.inFlight).toBe(0);
    expect(m.peak).toBe(1);
  });
});

describe("review: AdaptiveLimiter order after a retry wait", () => {
  // Decided (A5): a request back from its retry wait takes its place by its own priority — ahead of
  // every request of that priority or lower queued after it, behind a higher one (a confirm read, a
  // longer (App, type) chain's create), which is the critical path. The waiting create keeps its
  // (App, type) lock meanwhile, so nothing is lost or duplicated; the docs said "ahead of every
  // request queued after it" and now say this.
  it("A5: a request back from its retry wait starts after a higher-priority request queued during the wait, before an equal one", async () => {
    const limiter = new AdaptiveLimiter({ start: 1, min: 1, max: 1 }); // adaptive: only it gives a slot back during a wait
    const order: string[] = [];
    const endWait = deferred();
    const a = limiter.run(async () => {
      await limiter.outside(() => endWait.promise);
      order.push("a again");
    }, 1);
    await tick();
    const holdB = deferred();
    const b = limiter.run(() => holdB.promise);
    await tick();
    const c = limiter.run(async () => void order.push("c (higher)"), 5); // queued after a's wait began
    const d = limiter.run(async () => void order.push("d (equal)"), 1); // likewise, a's own priority
    await tick();
    endWait.resolve();
    await tick();
    holdB.resolve();
    await Promise.all([a, b, c, d]);
    expect(order).toEqual(["c (higher)", "a again", "d (equal)"]);
  });
});

describe("review: AdaptiveLimiter cuts", () => {
  it("A4: a 429 while a probe is out, to a request whose slot was taken just before it, goes back to the proven level (not halved)", async () => {
    // A slot is given its level when it is taken, not when its request is sent: the writer's create
    // journals its attempt (a group-commit fsync) before it sends. Taken at 4, sent after the probe
    // to 5 went out, it is the request the server refuses — the probe's fault, not a shrunken room.
    const limiter = new AdaptiveLimiter({ start: 4, startGrowth: 1 });
    const t = traffic(limiter, 300);
    await t.answer(200, 4); // a clean window at 4: proven, probe 5 (3 slots taken at 4, 2 at 5)
    expect(limiter.limit).toBe(5);
    await t.answer(429); // the oldest slot, taken at 4
    expect(limiter.limit).toBe(4);
    expect(limiter.stats()).toMatchObject({ throttled: 1, decreases: 1 });
    await t.finish();
  });
});

// ---------------------------------------------------------------------------------------------
// The writer: every request it sends goes through the run-wide limit.

const SECRETS = join(ROOT, "mappings", "examples", "secrets");
const SID1 = "CR00000000000000000000000000000001";
const SID6 = "CR00000000000000000000000000000006";
const PROD = { certificate: "file:limonade-ios-prod.cert.pem", privateKey: "file:limonade-ios-prod.key.pem" };

let emu: Emulator | undefined;
let client: CommsClient | undefined;
afterEach(async () => {
  await client?.close();
  await emu?.close();
  emu = client = undefined;
});

/** A Comms client that counts its calls in progress at once (every call is a request, or pages one after another). */
function counted(c: CommsClient) {
  const m = meter();
  const skip = new Set(["watchAnswers", "aroundRetryWaits", "lastServerDate", "close"]);
  const proxy = new Proxy(c, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== "function") return v;
      const f = v as (...args: unknown[]) => unknown;
      if (typeof prop !== "string" || skip.has(prop)) return f.bind(target);
      return async (...args: unknown[]) => {
        m.enter();
        try {
          return await f.apply(target, args);
        } finally {
          m.leave();
        }
      };
    },
  });
  return { comms: proxy, meter: m };
}

async function world(opts: EmulatorOptions = {}) {
  emu = await startEmulator({ port: 0, ...opts });
  const e = emu;
  const c = (client = createCommsClient({ baseUrl: e.url, apiVersion: "v1", accountSid: e.accountSid, username: e.accountSid, password: e.authToken }));
  const clock = virtualClock(Date.now());
  const time = { now: clock.now, sleep: clock.sleep };
  const ledger = new MemoryLedger(clock.now);
  const planFor = async (entries: Omit<MappingEntry, "index">[]) => {
    const mapping: Mapping = { version: 1, credentials: entries.map((x, index) => ({ ...x, index })), path: join(SECRETS, "m.yaml") };
    const legacy = createLegacyReader({ accountSid: e.accountSid, username: e.accountSid, password: e.authToken, baseUrl: e.url });
    const snapshot = await observe({ accountSid: e.accountSid, legacy, comms: c, ledger, now: () => new Date() });
    const secrets = new Map<string, SecretResult>();
    for (const { entry, target } of secretsNeeded(snapshot, mapping)) {
      secrets.set(entry.sid, await resolveEntrySecrets(entry, target, { mappingDir: SECRETS, env: {}, now: new Date(), interactive: false }));
    }
    return { plan: makePlan(snapshot, mapping, secrets, { now: new Date() }), secrets, existing: snapshot.comms };
  };
  return { emu: e, comms: c, ledger, time, planFor };
}

describe("review: the writer keeps every request within the limit", () => {
  it("W1: the settle check of an earlier run's accepted create (a GET) holds a slot like every other request", async () => {
    const w = await world({ visibilityDelayMs: 600_000 });
    const entries = [
      { sid: SID1, appName: "limonade_ios", secrets: PROD },
      { sid: SID6, appName: "limonade_ios", secrets: PROD },
    ];
    const first = await w.planFor(entries);
    const made = await apply(first.plan, { ...w.time, comms: w.comms, ledger: w.ledger, secrets: first.secrets, existing: first.existing, concurrency: 1, confirm: { timeoutMs: 200, initialDelayMs: 50 } });
    expect(made.items.filter((i) => i.action === "create").map((i) => i.status)).toEqual(["accepted-unconfirmed", "accepted-unconfirmed"]);

    // Rerun once both have settled (settleMs 0), still invisible: each is looked up with one GET.
    const rerun = await w.planFor(entries);
    const { comms, meter: m } = counted(w.comms);
    await apply(rerun.plan, { ...w.time, comms, ledger: w.ledger, secrets: rerun.secrets, existing: rerun.existing, concurrency: 1, settleMs: 0, confirm: { timeoutMs: 100, initialDelayMs: 50 } });
    expect(w.emu.requests.some((r) => r.method === "GET" && /\/Credentials\/[^/]+$/.test(r.path))).toBe(true);
    // --concurrency 1: never two requests at once.
    expect(m.peak).toBe(1);
  });
});
