/**
 * The two per-request costs that no longer grow with the accounts a run works: every limiter's slot
 * state in one storage, and remembered secrets looked up by a hash of each 8-character piece. Each
 * is checked against the implementation it replaced (kept under `fixtures/` as an oracle).
 */
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it, vi } from "vitest";
import { AdaptiveLimiter } from "../../src/apply/adaptive.js";
import { createCommsClient } from "../../src/comms/index.js";
import { runAsAccount, type AccountRun } from "../../src/cli/account-run.js";
import { resolveSettings } from "../../src/cli/config.js";
import { withOutput } from "../../src/cli/output.js";
import { observeAndPlan } from "../../src/cli/pipeline.js";
import { accountRuntime } from "../../src/cli/runtime.js";
import { watchStopSignals } from "../../src/cli/signals.js";
import type { SecretResult } from "../../src/domain.js";
import { sampleSubaccount, startEmulator } from "../../src/emulator/index.js";
import { createDispatcher } from "../../src/http/agent.js";
import { silentLogger } from "../../src/log.js";
import { startLocalServer } from "../comms/local-server.js";
import { ROOT } from "../e2e/harness.js";
import { cleanServerText, rememberSecret, SentSecrets } from "../../src/http/server-text.js";
import { AdaptiveLimiter as PerInstanceLimiter } from "./fixtures/adaptive-per-instance.js";
import { cleanServerText as linearClean, rememberSecret as linearRemember } from "./fixtures/server-text-linear.js";

/** A small seeded generator (mulberry32): the same cases on every run. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => Math.floor(next() * n);
  return { next, int, pick: <T>(xs: readonly T[]): T => xs[int(xs.length)]! };
}

type Limiter = Pick<AdaptiveLimiter, "run" | "outside" | "answer" | "limit" | "inFlight" | "queued" | "stats">;
type MakeLimiter = (opts: ConstructorParameters<typeof AdaptiveLimiter>[0], mode?: "adaptive" | "fixed") => Limiter;

const microtasks = async (n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await null;
};

/**
 * Random tasks over three limiters: runs nested in other limiters' runs (in one order, so no two
 * tasks wait on each other), answers told from inside and outside slots, retry waits, and
 * continuations a run did not await that wait or answer after it settled. Only microtasks: the
 * trace depends on nothing but the limiters' behaviour.
 */
async function limiterScenario(make: MakeLimiter, seed: number): Promise<string[]> {
  const r = rng(seed);
  let clock = 0;
  const now = (): number => (clock += 1 + r.int(5));
  let workLeft = 40;
  const limiters: Limiter[] = [
    make({ start: 2, min: 1, max: 6, probeWindows: 1, startGrowth: 1.5, workLeft: () => workLeft, now }),
    make({ start: 1, min: 1, max: 4, probeWindows: 2, startGrowth: 1, now }),
    make({ start: 2, min: 2, max: 2 }, "fixed"),
  ];
  const trace: string[] = [];
  const note = (what: string): void => {
    trace.push(`${what} | ${limiters.map((l) => `${l.limit}/${l.inFlight}/${l.queued}`).join(" ")}`);
  };
  const stragglers: Promise<void>[] = [];
  const body = async (task: number, stack: number[]): Promise<void> => {
    const actions = 1 + r.int(3);
    for (let k = 0; k < actions; k++) {
      const choice = r.int(5);
      if (choice === 0) {
        const i = r.int(3);
        const status = r.pick([200, 200, 201, 429, 429, 503]);
        limiters[i]!.answer(status);
        workLeft = Math.max(0, workLeft - 1);
        note(`t${task} answer ${i} ${status}`);
      } else if (choice === 1) {
        // A retry wait on the innermost slot, or on a limiter this task holds no slot of.
        const free = [0, 1, 2].filter((i) => !stack.includes(i));
        const i = r.next() < 0.6 && stack.length > 0 ? stack[stack.length - 1]! : r.pick(free.length ? free : stack);
        await limiters[i]!.outside(() => microtasks(1 + r.int(6)));
        note(`t${task} waited ${i}`);
      } else if (choice === 2 && stack.length < 3) {
        const above = [0, 1, 2].filter((i) => i > Math.max(-1, ...stack));
        if (above.length) await step(task, stack, r.pick(above));
      } else if (choice === 3) {
        const i = r.int(3);
        const delay = r.int(12);
        const status = r.pick([200, 429]);
        stragglers.push(
          (async () => {
            await microtasks(delay);
            await limiters[i]!.outside(() => microtasks(1 + r.int(4)));
            limiters[i]!.answer(status);
            note(`t${task} straggler ${i} ${status}`);
          })(),
        );
      } else await microtasks(r.int(4));
    }
  };
  const step = async (task: number, stack: number[], i: number): Promise<void> => {
    const priority = r.pick([0, 0, 1, 3, Number.MAX_SAFE_INTEGER]);
    await limiters[i]!.run(() => body(task, [...stack, i]), priority);
    note(`t${task} ran ${i}`);
  };
  const tasks = Array.from({ length: 10 }, (_, t) => microtasks(r.int(5)).then(() => step(t, [], r.int(3))));
  await Promise.all(tasks);
  while (stragglers.length) await stragglers.shift();
  note("end");
  trace.push(JSON.stringify(limiters.map((l) => l.stats())));
  return trace;
}

describe("one slot storage for every limiter behaves as one storage per limiter did", () => {
  it("gives the same limits, slots, queues and stats as the per-instance storage over 150 random nested runs", async () => {
    const current: MakeLimiter = (opts, mode) => new AdaptiveLimiter(opts, mode);
    const perInstance: MakeLimiter = (opts, mode) => new PerInstanceLimiter(opts, mode);
    let cuts = 0;
    for (let seed = 1; seed <= 150; seed++) {
      const expected = await limiterScenario(perInstance, seed);
      expect(await limiterScenario(current, seed), `seed ${seed}`).toEqual(expected);
      cuts += (JSON.parse(expected[expected.length - 1]!) as { decreases: number }[])[0]!.decreases;
    }
    // The scenarios do reach the 429 paths the slot state steers.
    expect(cuts).toBeGreaterThan(25);
  });

  it("a limiter's answer inside another limiter's run is judged by its own slot: a 429 of a cut's wave cuts nothing more", async () => {
    const outer = new AdaptiveLimiter({ start: 4, min: 1, max: 8, startGrowth: 1 });
    const inner = new AdaptiveLimiter({ start: 2, min: 1, max: 8, startGrowth: 1 });
    let release = (): void => undefined;
    const gate = new Promise<void>((r) => (release = r));
    // Sent at 4 before the cut below: its 429 belongs to that cut's wave.
    const early = outer.run(async () => {
      await gate;
      await inner.run(async () => outer.answer(429));
    });
    await outer.run(async () => outer.answer(429)); // 4 → 2
    release();
    await early;
    expect(outer.limit).toBe(2);
    expect(outer.stats()).toMatchObject({ throttled: 2, decreases: 1 });
    expect(inner.stats()).toMatchObject({ throttled: 0, decreases: 0 });
  });

  it("a sibling task started in another limiter's run sees no slot a second task took meanwhile", async () => {
    const a = new AdaptiveLimiter({ start: 2, min: 1, max: 2 });
    const b = new AdaptiveLimiter({ start: 1, min: 1, max: 1 });
    let heldDuringSiblingWait: number | undefined;
    await a.run(async () => {
      let release = (): void => undefined;
      const gate = new Promise<void>((r) => (release = r));
      const inB = b.run(() => gate);
      await microtasks(3);
      expect(b.inFlight).toBe(1);
      // Not inside b's run: it has no slot of b to give back, so b's slot stays taken.
      await b.outside(async () => (heldDuringSiblingWait = b.inFlight));
      release();
      await inB;
    });
    expect(heldDuringSiblingWait).toBe(1);
    expect([a.inFlight, b.inFlight]).toEqual([0, 0]);
  });
});

/** `gc()` for this test file (vitest runs without --expose-gc). */
function collector(): () => void {
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as () => void;
}

describe("a finished limiter is not kept by what its runs left behind", () => {
  it.each([
    ["one storage for every limiter", (opts: ConstructorParameters<typeof AdaptiveLimiter>[0]) => new AdaptiveLimiter(opts)],
    ["one storage per limiter (as before)", (opts: ConstructorParameters<typeof AdaptiveLimiter>[0]) => new PerInstanceLimiter(opts)],
  ] as const)("N1: %s: a promise made inside a run (kept by a long-lived object) keeps the slot's state, not the limiter and what it closes over", async (_, make) => {
    const gc = collector();
    // What a long-lived object (a client's first-write gate, a shared timer) keeps from an account's run.
    const keptForever: Promise<void>[] = [];
    // The writer's `workLeft` closes over the whole run's state: a plan, results, a ledger.
    const account = async (i: number): Promise<WeakRef<Limiter>> => {
      const runState = new Array(10_000).fill(i);
      const limiter = make({ workLeft: () => runState.length });
      await limiter.run(async () => {
        keptForever.push(new Promise<void>(() => undefined));
      });
      return new WeakRef(limiter);
    };
    const refs: WeakRef<Limiter>[] = [];
    for (let i = 0; i < 20; i++) refs.push(await account(i));
    await new Promise((r) => setImmediate(r));
    gc();
    await new Promise((r) => setImmediate(r));
    gc();
    expect(keptForever).toHaveLength(20);
    expect(refs.filter((r) => r.deref() !== undefined)).toHaveLength(0);
  });
});

/** The index's hash of an 8-character piece (FNV-1a, 30 bits), to build pieces that share one. */
function pieceHash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < 8; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h & 0x3fffffff;
}

/** Two different 8-character pieces of letters and digits with the same hash (a bounded birthday search). */
function collidingPieces(): [string, string] {
  const r = rng(7);
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  const seen = new Map<number, string>();
  for (let n = 0; n < 2_000_000; n++) {
    let piece = "";
    for (let i = 0; i < 8; i++) piece += alphabet[r.int(alphabet.length)];
    const h = pieceHash(piece);
    const other = seen.get(h);
    if (other !== undefined && other !== piece) return [other, piece];
    seen.set(h, piece);
  }
  throw new Error("no collision found");
}

const b64 = (s: string): string => Buffer.from(s, "utf8").toString("base64");

describe("remembered secrets looked up by a hash of each 8-character piece clean as the linear scan did", () => {
  it("gives the linear scan's output on 4,000 random texts over 400 secrets remembered as the run goes", () => {
    const r = rng(20261207);
    const hex = (n: number): string => Array.from({ length: n }, () => "0123456789abcdef"[r.int(16)]).join("");
    const word = (n: number, alphabet: string): string => Array.from({ length: n }, () => alphabet[r.int(alphabet.length)]).join("");
    const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    const values: string[] = [];
    // Everything a remembered value expands to that the generator knows of: its decoded forms too.
    const material: string[] = [];
    const newSecret = (): string[] => {
      const token = hex(32);
      const sid = `AC${hex(32)}`;
      switch (r.int(7)) {
        case 0:
          return [token];
        case 1:
          return [word(32, B64)];
        case 2:
          material.push(`${sid}:${token}`);
          return [token, b64(`${sid}:${token}`), `Basic ${b64(`${sid}:${token}`)}`];
        case 3: {
          // Non-ASCII and astral characters around and inside the secret's runs.
          const leaf = `pässwörd-😀${word(10, B64)}日本${word(9, B64)}`;
          material.push(leaf);
          return [b64(JSON.stringify({ private_key: leaf, token }))];
        }
        case 4: {
          // Shares a piece (and more) with a secret remembered earlier.
          const earlier = values.length ? values[r.int(values.length)]! : token;
          return [earlier.slice(0, 8 + r.int(12)) + word(12, B64)];
        }
        case 5:
          return values.length ? [values[r.int(values.length)]!] : [token]; // the same value again
        default:
          return [word(5, B64), `${word(8, B64)}`];
      }
    };
    const FILLER = ["credential", "not found", "/v1/PushNotifications/Credentials/", `CR${"0".repeat(32)}`, "é", "😀", "\ud83d", "=", "_", ".", "@", "-", "/", "+"];
    const slice = (source: string): string => {
      const at = r.int(Math.max(1, source.length - 6));
      return source.slice(at, at + 6 + r.int(30));
    };
    let compared = 0;
    let redacted = 0;
    for (let round = 0; round < 200; round++) {
      const known = material.length;
      const fresh = newSecret();
      // The new secret and its decoded forms: what a request sends before it is remembered, if ever.
      const freshPool = [...fresh, ...material.slice(known)];
      const texts = (pool: readonly string[]): string[] =>
        Array.from({ length: 10 }, () => {
          const parts: string[] = [];
          for (let k = 0, n = 1 + r.int(5); k < n; k++) {
            const roll = r.next();
            const from = roll < 0.3 ? r.pick(freshPool) : roll < 0.6 && pool.length ? pool[r.int(pool.length)]! : r.pick(FILLER);
            parts.push(from.length > 8 ? slice(from) : from, r.pick(["", " ", ", ", '"', ":", "/", "é", "😀"]));
          }
          return parts.join("");
        });
      const check = (pool: readonly string[]): void => {
        for (const text of texts(pool)) {
          // What a request sent, remembered or not yet (a client passes its contents as `sent`).
          const roll = r.next();
          const sent = roll < 0.2 ? { sent: fresh } : roll < 0.3 ? { sent: [r.pick([...fresh, ...values])] } : {};
          const expected = linearClean(text, sent);
          expect(cleanServerText(text, sent), JSON.stringify(text)).toBe(expected);
          if (sent.sent) {
            // As a client passes it: what it sent, expanded once as it was added.
            const soFar = new SentSecrets();
            soFar.add(values.slice(0, r.int(values.length)));
            soFar.add(sent.sent);
            expect(cleanServerText(text, { sent: soFar }), JSON.stringify(text)).toBe(linearClean(text, { sent: [...values, ...sent.sent] }));
          }
          compared++;
          if (expected.includes("[redacted]")) redacted++;
        }
      };
      // Texts cleaned before the secret is remembered, then after.
      check([...fresh, ...values, ...material]);
      rememberSecret(...fresh);
      linearRemember(...fresh);
      values.push(...fresh);
      check([...fresh, ...values, ...material]);
    }
    expect(compared).toBe(4000);
    // Most texts hold a remembered run: the comparison is about what cleaning removes.
    expect(redacted).toBeGreaterThan(2000);
  });

  it("removes every 8-character run of a remembered token at every offset, and a run of every longer length", () => {
    const token = "9c1e4b7a2f6d08e35a7b1c9d4e2f6a80";
    rememberSecret(token);
    for (let at = 0; at + 8 <= token.length; at++) {
      for (let len = 8; at + len <= token.length; len++) {
        const run = token.slice(at, at + len);
        expect(cleanServerText(`echo ${run} end`)).toBe("echo [redacted] end");
      }
    }
  });

  it("keeps every secret whose first piece hashes like another's: both are removed, an unrelated run with that hash is kept", () => {
    const [first, second] = collidingPieces();
    expect(pieceHash(first)).toBe(pieceHash(second));
    const a = `${first}Qx7Tz2Lm`;
    const b = `${second}Wk4Rn8Hp`;
    rememberSecret(a);
    rememberSecret(b);
    for (const run of [first, second, a, b, `${second}Wk4`]) expect(cleanServerText(`x ${run} y`), run).toBe("x [redacted] y");
    // The same hash as both, in neither: a collision costs a look, not a redaction.
    expect(cleanServerText(`x ${first}Wk4 y`)).toBe(`x ${first}Wk4 y`);
  });

  it("removes a secret holding one piece twice (also one whose hash two others share) and one that expands to a secret remembered before", () => {
    const [first, second] = collidingPieces();
    rememberSecret(`${first}Pq3Vb6Ns`, `${second}Gy5Dc1Xr`);
    const twice = `${second}-Ja7Ke2-${second}-Mo4`;
    const repeated = "Zt6Hw2Lq-Zt6Hw2Lq";
    rememberSecret(twice, repeated);
    const inner = "Rc8Uy3Fx7Bn1Wm5T";
    rememberSecret(inner);
    // Its decoded form is remembered already: only the base64 form is new.
    rememberSecret(b64(inner));
    for (const run of [`${second}-Ja7Ke2`, "Ja7Ke2-" + second.slice(0, 2), "Zt6Hw2Lq", inner, b64(inner)]) expect(cleanServerText(`x ${run} y`), run).toBe("x [redacted] y");
  });

  it("a client's sent secrets: a value added twice is not new, one that expands to what was added is, and each form is removed", () => {
    const key = "Tb4Mz8Qe2Wn6Ry0Kp";
    const sent = new SentSecrets();
    expect(sent.add([key])).toBe(true);
    expect(sent.add([key])).toBe(false);
    expect(sent.add([b64(key), key])).toBe(true);
    expect(sent.material).toEqual([key, b64(key)]);
    expect(cleanServerText(`echo ${key} and ${b64(key)}`, { sent })).toBe("echo [redacted] and [redacted]");
  });
});

describe("a finished account of a fleet is not kept by the fleet's shared secrets", () => {
  it("N2: each account with its own secret files: the cached results stay, the finished account's run (clients, ledger, limiter) does not", async () => {
    const gc = collector();
    const PARENT = "AC00000000000000000000000000000000";
    const accounts = [sampleSubaccount(PARENT, 1), sampleSubaccount(PARENT, 2)];
    const emu = await startEmulator({ subaccounts: accounts });
    const dir = mkdtempSync(join(tmpdir(), "cr2comms-retain-"));
    const stop = watchStopSignals(() => undefined);
    const shared = new Map<string, Promise<SecretResult>>();
    const base = resolveSettings({ reportsDir: join(dir, "reports"), logLevel: "silent" }, {}, dir);
    // As a fleet does: one account run per account, its own runtime over the fleet's agent.
    const planFor = async (n: number): Promise<WeakRef<AccountRun>> => {
      const account = accounts[n]!;
      // Each customer has its own certificates: nothing is shared between the accounts.
      cpSync(join(ROOT, "mappings", "examples", "secrets"), join(dir, `secrets-${n}`), { recursive: true });
      const mapping = join(dir, `${account.sid}.yaml`);
      writeFileSync(
        mapping,
        `version: 1\ncredentials:\n  - sid: CR00000000000000000000000000000001\n    appName: ios\n    secrets:\n      certificate: file:secrets-${n}/limonade-ios-prod.cert.pem\n      privateKey: file:secrets-${n}/limonade-ios-prod.key.pem\n`,
      );
      // Its own agent, closed with it: a pooled socket keeps the context it was opened in while it lives.
      const dispatcher = createDispatcher({ proxy: false });
      const runtime = accountRuntime({
        settings: { ...base, mappingPath: mapping, conversationsUrl: emu.url, commsUrl: emu.url, reportsDir: join(dir, "reports", account.sid), ledgerPath: join(dir, "reports", account.sid, "ledger.jsonl") },
        credentials: { accountSid: account.sid, username: account.sid, password: account.authToken, kind: "auth-token" },
        logger: silentLogger,
        dispatcher,
      });
      const run: AccountRun = { runtime, stop, secrets: shared };
      try {
        // The account's output sink, like the fleet's, is a closure of the scope that holds its run.
        const discard = (): void => void run;
        const planned = await withOutput(discard, () => runAsAccount(run, () => observeAndPlan(runtime, { now: () => new Date(), interactive: false, env: {} })));
        expect(planned.plan.items.filter((i) => i.action === "create")).toHaveLength(1);
      } finally {
        await runtime.close();
        await dispatcher.close();
      }
      return new WeakRef(run);
    };
    try {
      // The first account loads what is loaded once per process (modules, the agent's timer) and may stay with it.
      await planFor(0);
      const second = await planFor(1);
      await new Promise((r) => setImmediate(r));
      gc();
      await new Promise((r) => setImmediate(r));
      gc();
      expect(shared.size).toBe(2);
      expect(second.deref()).toBeUndefined();
    } finally {
      stop.dispose();
      await emu.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("what a client sent is expanded once, not at every request", () => {
  it("N3: the 60th create and read of a client decode no more of what was sent than the 5th did", async () => {
    const ids = Array.from({ length: 60 }, (_, i) => `comms_credential_${String(i).padStart(26, "0")}`);
    let created = 0;
    const server = await startLocalServer((req) =>
      req.method === "POST"
        ? { status: 202, json: { resourceId: ids[created], resourceLocation: `/v1/PushNotifications/Credentials/${ids[created++]}` } }
        : { status: 404, json: { code: 20404, message: "not found" } },
    );
    const client = createCommsClient({ baseUrl: server.url, apiVersion: "v1", username: "AC00000000000000000000000000000000", password: "local-token-0001", accountSid: "AC00000000000000000000000000000000", sleep: async () => undefined });
    const pem = (label: string, i: number): string => b64(`-----BEGIN ${label}-----\n${b64(`${label} ${i} `.repeat(40))}\n-----END ${label}-----\n`);
    const from = vi.spyOn(Buffer, "from");
    const decodes = (): number => from.mock.calls.filter((c) => (c as unknown[])[1] === "base64").length;
    const cost: number[] = [];
    try {
      for (let i = 0; i < ids.length; i++) {
        const before = decodes();
        await client.create({ credentialType: "APN", appName: "app", content: { certificate: pem("CERTIFICATE", i), privateKey: pem("PRIVATE KEY", i) } });
        expect(await client.fetch(ids[i]!)).toBeNull();
        cost.push(decodes() - before);
      }
    } finally {
      from.mockRestore();
      await client.close();
      await server.close();
    }
    expect(created).toBe(60);
    // Each create's own contents are expanded once; nothing sent earlier is expanded again.
    expect(cost[59]).toBe(cost[4]);
  });
});
