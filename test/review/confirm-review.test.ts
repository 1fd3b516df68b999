import { getEventListeners } from "node:events";
import { describe, expect, it } from "vitest";
import { Confirmer } from "../../src/apply/confirm.js";
import type { CommsClient } from "../../src/comms/types.js";
import type { CommsCredential } from "../../src/domain.js";

/** A Comms double whose listed ids are visible at once; past 200 looks every look hangs (a loop without sleep). */
function world() {
  const calls: string[] = [];
  const visible = new Set<string>();
  const cred = (id: string): CommsCredential => ({ id, appName: "app", credentialType: "APN", isDefault: false, createdAt: "", updatedAt: "" });
  const runaway = () => (calls.length > 200 ? new Promise<never>(() => {}) : undefined);
  const fetch = async (id: string) => {
    calls.push(`fetch ${id}`);
    await runaway();
    return visible.has(id) ? cred(id) : null;
  };
  const comms = {
    stats: { requests: 0, retries: 0, byKind: {} },
    async list() {
      calls.push("list");
      await runaway();
      return [...visible].map(cred);
    },
    fetch,
    fetchLocation: (l: string) => fetch(l.split("/").pop()!),
  } as unknown as CommsClient;
  return { comms, calls, visible };
}

const realPause = (ms: number) => new Promise((r) => setTimeout(r, ms));
const HUNG = Symbol("hung");

describe("Confirmer: waiters that settle leave nothing behind", () => {
  it("C1: a wait registered the moment the App's last waiter is confirmed is looked for, not stranded", async () => {
    const w = world();
    const c = new Confirmer(w.comms, { initialDelayMs: 1, maxDelayMs: 2, timeoutMs: 500 });
    w.visible.add("c1");
    w.visible.add("c2");
    // The second wait starts in the microtask right after the first resolves, while its loop ends.
    const second = c.waitFor("app", "c1").then(() => c.waitFor("app", "c2"));
    const r = await Promise.race([second, realPause(2_000).then(() => HUNG)]);
    expect(r === HUNG ? "stranded" : (r as CommsCredential | null)?.id, w.calls.join(",")).toBe("c2");
  });

  it("C1: a confirmed waiter removes its abort listener, and an abort after the run sends no request", async () => {
    const w = world();
    const c = new Confirmer(w.comms, { initialDelayMs: 1, maxDelayMs: 2, timeoutMs: 500 });
    const stop = new AbortController();
    w.visible.add("c1");
    expect((await c.waitFor("app", "c1", { signal: stop.signal }))?.id).toBe("c1");
    expect(getEventListeners(stop.signal, "abort")).toHaveLength(0);
    // A later wait in the same App, without a signal (as the default-change waits), then Ctrl-C.
    w.visible.add("c2");
    expect((await c.waitFor("app", "c2"))?.id).toBe("c2");
    stop.abort();
    const after = w.calls.length;
    await realPause(100);
    expect(w.calls.slice(after)).toEqual([]);
  });

  it("C1: a waiter that times out removes its abort listener too", async () => {
    const w = world();
    const c = new Confirmer(w.comms, { initialDelayMs: 1, maxDelayMs: 2, timeoutMs: 20 });
    const stop = new AbortController();
    expect(await c.waitFor("app", "never", { signal: stop.signal })).toBeNull();
    expect(getEventListeners(stop.signal, "abort")).toHaveLength(0);
  });
});
