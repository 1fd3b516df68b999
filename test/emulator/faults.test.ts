import { afterEach, describe, expect, it } from "vitest";
import { SAMPLE_SEED, startEmulator, type Emulator, type FaultKind } from "../../src/emulator/index.js";
import { apnBody, client, CREDS, fcmBody } from "./helpers.js";

let em: Emulator | undefined;
afterEach(async () => {
  await em?.close();
  em = undefined;
});

const empty = { ...SAMPLE_SEED, commsCredentials: [] };

describe("emulator faults", () => {
  it("injects a scripted 429 with Retry-After and code 20429, without processing the write", async () => {
    em = await startEmulator({ seed: empty, faults: { script: [{ method: "POST", path: "/PushNotifications/Credentials", kind: "429" }] } });
    const c = client(em);
    expect((await c.get(CREDS)).status).toBe(200); // GET does not match the script
    const first = await c.post(CREDS, fcmBody("app"));
    expect(first.status).toBe(429);
    expect(first.headers.get("retry-after")).toBe("1");
    expect(first.json.errors[0]).toMatchObject({ code: 20429, message: "Too Many Requests" });
    expect(em.state.comms.size).toBe(0);
    const second = await c.post(CREDS, fcmBody("app"));
    expect(second.status).toBe(202);
    expect(em.requests.map((r) => [r.method, r.status, r.fault])).toEqual([
      ["GET", 200, undefined],
      ["POST", 429, "429"],
      ["POST", 202, undefined],
    ]);
  });

  it("injects 503 with a configurable Retry-After (0 allowed), on the legacy API too", async () => {
    em = await startEmulator({ faults: { retryAfterSeconds: 0, script: [{ path: /^\/v1\/Credentials$/, kind: "503", times: 2 }] } });
    const c = client(em);
    for (let i = 0; i < 2; i++) {
      const r = await c.get("/v1/Credentials");
      expect(r.status).toBe(503);
      expect(r.headers.get("retry-after")).toBe("0");
      expect(r.json).toMatchObject({ code: 20503, status: 503 });
    }
    expect((await c.get("/v1/Credentials")).status).toBe(200);
    expect(em.requests.map((r) => r.api)).toEqual(["legacy", "legacy", "legacy"]);
  });

  it("drop-before-commit destroys the connection and does nothing", async () => {
    em = await startEmulator({ seed: empty, faults: { script: [{ method: "POST", kind: "drop-before-commit" }] } });
    await expect(client(em).post(CREDS, fcmBody("app"))).rejects.toThrow(TypeError);
    expect(em.state.comms.size).toBe(0);
    expect(em.requests[0]).toMatchObject({ method: "POST", status: "dropped", fault: "drop-before-commit", api: "comms" });
    expect((await client(em).get(CREDS)).json.credentials).toEqual([]);
  });

  it("drop-after-commit does the write, then destroys the connection without answering", async () => {
    em = await startEmulator({ seed: empty, faults: { script: [{ method: "POST", kind: "drop-after-commit" }] } });
    await expect(client(em).post(CREDS, fcmBody("app"))).rejects.toThrow(TypeError);
    expect(em.requests[0]).toMatchObject({ status: "dropped", fault: "drop-after-commit" });
    const list = await client(em).get(`${CREDS}?appName=app`);
    expect(list.json.credentials).toHaveLength(1);
  });

  it("drop-after-commit on a legacy DELETE still deletes", async () => {
    em = await startEmulator({ faults: { script: [{ method: "DELETE", kind: "drop-after-commit" }] } });
    const sid = "CR00000000000000000000000000000004";
    await expect(client(em).del(`/v1/Credentials/${sid}`)).rejects.toThrow(TypeError);
    expect((await client(em).get(`/v1/Credentials/${sid}`)).status).toBe(404);
  });

  it("500-after-commit does the write and answers 500", async () => {
    em = await startEmulator({ seed: empty, faults: { script: [{ method: "POST", kind: "500-after-commit" }] } });
    const r = await client(em).post(CREDS, apnBody("app"));
    expect(r.status).toBe(500);
    expect(r.json.errors[0].code).toBe(20500);
    expect(em.state.commsCredentials()).toHaveLength(1);
    expect(em.requests[0]).toMatchObject({ status: 500, fault: "500-after-commit" });
  });

  it("random faults follow rate and kinds, and are reproducible with the same seed", async () => {
    const run = async (seed: number) => {
      const e = await startEmulator({ faults: { rate: 0.5, seed, kinds: ["429", "503"] } });
      try {
        const c = client(e);
        for (let i = 0; i < 40; i++) await c.get("/v1/Credentials");
        return e.requests.map((r) => r.fault ?? null);
      } finally {
        await e.close();
      }
    };
    const a = await run(42);
    const b = await run(42);
    const other = await run(7);
    expect(a).toEqual(b);
    expect(a).not.toEqual(other);
    const kinds = new Set(a.filter((x): x is FaultKind => x !== null));
    expect([...kinds].sort()).toEqual(["429", "503"]);
    expect(a.filter((x) => x === null).length).toBeGreaterThan(5);
    expect(a.filter((x) => x !== null).length).toBeGreaterThan(5);
  });

  it("setFaults replaces the settings at run time; scripted faults come before random ones", async () => {
    em = await startEmulator({ faults: { rate: 1, kinds: ["503"], script: [{ kind: "429" }] } });
    const c = client(em);
    expect((await c.get("/v1/Credentials")).status).toBe(429);
    expect((await c.get("/v1/Credentials")).status).toBe(503);
    em.setFaults(undefined);
    expect((await c.get("/v1/Credentials")).status).toBe(200);
  });

  it("answers 429 (20429, Retry-After) to requests beyond maxInFlight", async () => {
    em = await startEmulator({ latencyMs: 400, maxInFlight: 2 });
    const e = em;
    const results = await Promise.all(Array.from({ length: 6 }, () => client(e).get("/v1/Credentials")));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 200, 429, 429, 429, 429]);
    const rejected = results.find((r) => r.status === 429);
    expect(rejected?.json).toMatchObject({ code: 20429, message: "Too Many Requests", status: 429 });
    expect(rejected?.headers.get("retry-after")).toBe("1");
    em.setMaxInFlight(undefined);
    em.setLatencyMs(0);
    const again = await Promise.all(Array.from({ length: 6 }, () => client(e).get("/v1/Credentials")));
    expect(again.every((r) => r.status === 200)).toBe(true);
  });

  it("counts writes to either API (and only writes)", async () => {
    em = await startEmulator();
    const c = client(em);
    await c.get("/v1/Credentials");
    await c.get(CREDS);
    expect(em.writeCount()).toBe(0);
    await c.post(CREDS, { bad: true });
    await c.form("/v1/Credentials", { Type: "fcm" });
    const id = em.state.commsCredentials()[0]?.id;
    await c.patch(`${CREDS}/${id}`, { isDefault: true });
    await c.del(`${CREDS}/${id}`);
    expect(em.writeCount()).toBe(4);
    expect(em.requests.map((r) => r.api)).toEqual(["legacy", "comms", "comms", "legacy", "comms", "comms"]);
    expect(em.requests[0]?.query).toEqual({});
  });
});
