import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { observeAndPlan } from "../../src/cli/pipeline.js";
import { openRuntime, type Runtime } from "../../src/cli/runtime.js";
import type { CommsClient } from "../../src/comms/types.js";
import { startEmulator, type Emulator } from "../../src/emulator/index.js";
import type { Ledger } from "../../src/ledger/types.js";
import { observe } from "../../src/observe/observe.js";

/** What happened first: the account's reads, or reading the mapping file. */
const order = vi.hoisted(() => [] as string[]);
vi.mock("../../src/mapping/load.js", async (importOriginal) => {
  const actual = await importOriginal<typeof import("../../src/mapping/load.js")>();
  return { ...actual, loadMapping: (path: string) => (order.push("mapping"), actual.loadMapping(path)) };
});

let runtime: Runtime | undefined;
let emulator: Emulator | undefined;
afterEach(async () => {
  await runtime?.close();
  await emulator?.close();
  runtime = emulator = undefined;
  order.length = 0;
});

function mappingFile(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), "cr2comms-pipeline-")), "migration.yaml");
  writeFileSync(path, text);
  return path;
}

const opts = { now: () => new Date(), interactive: false, env: {} };

describe("observeAndPlan: the account is read while the mapping loads", () => {
  it("sends the account's reads before it reads the mapping, and plans from both", async () => {
    const reportsDir = join(mkdtempSync(join(tmpdir(), "cr2comms-pipeline-")), "reports");
    runtime = await openRuntime({ emulator: true, reportsDir, mapping: mappingFile("version: 1\ncredentials: []\n"), logLevel: "silent" }, {});
    const rt = runtime;
    const listAll = rt.legacy.listAll.bind(rt.legacy);
    rt.legacy.listAll = (onPage) => (order.push("legacy"), listAll(onPage));
    const { plan, snapshot } = await observeAndPlan(rt, opts);
    expect(order).toEqual(["legacy", "mapping"]);
    expect(snapshot.legacy.length).toBeGreaterThan(0);
    expect(plan.items).toHaveLength(snapshot.legacy.length);
  });

  it("reports a bad mapping, not what the reads it abandoned ran into", async () => {
    emulator = await startEmulator({ port: 0 });
    const reportsDir = join(mkdtempSync(join(tmpdir(), "cr2comms-pipeline-")), "reports");
    const env = { TWILIO_ACCOUNT_SID: emulator.accountSid, TWILIO_AUTH_TOKEN: "wrong-token", CR2COMMS_CONVERSATIONS_URL: emulator.url, CR2COMMS_COMMS_URL: emulator.url };
    runtime = await openRuntime({ reportsDir, mapping: mappingFile("version: 1\ncredentials: 7\n"), logLevel: "silent" }, env);
    await expect(observeAndPlan(runtime, opts)).rejects.toThrow(/invalid mapping file/);
    // The reads were sent and refused (wrong token); their failure, abandoned, is no unhandled rejection.
    const emu = emulator;
    await vi.waitFor(() => expect(emu.requests.some((r) => r.status === 401)).toBe(true));
    await new Promise((r) => setTimeout(r, 50));
  });
});

describe("observe: the Apps read waits for the mapping, the other reads do not", () => {
  const legacy = { listAll: vi.fn(async () => []) };
  const ledger = { entries: async () => new Map() } as unknown as Ledger;
  function comms(): CommsClient & { listApps: ReturnType<typeof vi.fn> } {
    return { list: vi.fn(async () => []), listApps: vi.fn(async () => []) } as unknown as CommsClient & { listApps: ReturnType<typeof vi.fn> };
  }

  it("reads the Apps once the mapping says it names a defaultApp", async () => {
    const c = comms();
    let named!: (v: boolean) => void;
    const observing = observe({ accountSid: "AC1", legacy, comms: c, ledger, now: () => new Date(), readApps: new Promise<boolean>((r) => (named = r)) });
    await new Promise((r) => setImmediate(r));
    expect(c.list).toHaveBeenCalledOnce();
    expect(c.listApps).not.toHaveBeenCalled();
    named(true);
    expect((await observing).apps).toEqual([]);
    expect(c.listApps).toHaveBeenCalledOnce();
  });

  it("does not read the Apps when the mapping names none", async () => {
    const c = comms();
    const snapshot = await observe({ accountSid: "AC1", legacy, comms: c, ledger, now: () => new Date(), readApps: Promise.resolve(false) });
    expect(c.listApps).not.toHaveBeenCalled();
    expect(snapshot.apps).toBeUndefined();
  });
});
