/**
 * Review (h-review): attacks on the writer's lost-create handling. Each test states the EXPECTED
 * (correct) behaviour; a failing test is a finding.
 */
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { apply } from "../../src/apply/writer.js";
import { createCommsClient } from "../../src/comms/index.js";
import type { CommsClient } from "../../src/comms/types.js";
import type { SecretResult } from "../../src/domain.js";
import { startEmulator, type Emulator, type EmulatorOptions } from "../../src/emulator/index.js";
import { MemoryLedger } from "../../src/ledger/ledger.js";
import type { Ledger } from "../../src/ledger/types.js";
import { createLegacyReader } from "../../src/legacy/index.js";
import type { Mapping, MappingEntry } from "../../src/mapping/types.js";
import { observe } from "../../src/observe/observe.js";
import { plan as makePlan, secretsNeeded } from "../../src/plan/index.js";
import { resolveEntrySecrets } from "../../src/secrets/index.js";
import { ROOT } from "../e2e/harness.js";
import { applyMarkdown } from "../../src/report/index.js";

const SECRETS = join(ROOT, "mappings", "examples", "secrets");
const SID2 = "CR00000000000000000000000000000002";
const SID5 = "CR00000000000000000000000000000005";
const E2: Omit<MappingEntry, "index"> = { sid: SID2, appName: "limonade_ios", secrets: { p12: "file:limonade-ios-dev.p12", passphrase: "env:P" } };
const E5: Omit<MappingEntry, "index"> = { sid: SID5, appName: "limonade_ios", secrets: { certificate: "file:ios-sandbox-2.cert.pem", privateKey: "file:ios-sandbox-2.key.pem" } };
const POST = { method: "POST", path: "/PushNotifications/Credentials" };
const sleepReal = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

let emu: Emulator | undefined;
let client: CommsClient | undefined;
afterEach(async () => {
  await client?.close();
  await emu?.close();
  emu = client = undefined;
});

async function world(opts: EmulatorOptions = {}) {
  emu = await startEmulator({ port: 0, ...opts });
  const e = emu;
  const c = (client = createCommsClient({ baseUrl: e.url, apiVersion: "v1", accountSid: e.accountSid, username: e.accountSid, password: e.authToken }));
  const ledger = new MemoryLedger();
  const planFor = async (entries: Omit<MappingEntry, "index">[], l: Ledger = ledger) => {
    const mapping: Mapping = { version: 1, credentials: entries.map((x, index) => ({ ...x, index })), path: join(SECRETS, "m.yaml") };
    const legacy = createLegacyReader({ accountSid: e.accountSid, username: e.accountSid, password: e.authToken, baseUrl: e.url });
    const snapshot = await observe({ accountSid: e.accountSid, legacy, comms: c, ledger: l, now: () => new Date() });
    const secrets = new Map<string, SecretResult>();
    for (const { entry, target } of secretsNeeded(snapshot, mapping)) {
      secrets.set(entry.sid, await resolveEntrySecrets(entry, target, { mappingDir: SECRETS, env: { P: "fake-demo-passphrase" }, now: new Date(), interactive: false }));
    }
    return { plan: makePlan(snapshot, mapping, secrets, { now: new Date() }), secrets, existing: snapshot.comms };
  };
  const posts = () => e.requests.filter((r) => r.method === "POST").length;
  const sandbox = () => e.state.commsCredentials().filter((x) => x.appName === "limonade_ios" && x.credentialType === "APN_SANDBOX");
  return { emu: e, comms: c, ledger, planFor, posts, sandbox };
}

/** The certificate the emulator stored for a credential id (the content is kept by the store). */
function storedCert(e: Emulator, id: string): string | undefined {
  const raw = (e.state as unknown as { comms: Map<string, { content?: Record<string, string> }> }).comms?.get?.(id);
  return raw?.content?.certificate;
}

describe("review: lost creates and rivals", () => {
  it("F1: a pending attempt the planner already resolved is not a rival for another lost create in the same (App, type)", async () => {
    // Run 1: SID2's create is carried out but its answer is lost, and the credential is not visible
    // yet; with --no-wait the attempt stays open (pending, unknownAt set).
    const w = await world({ visibilityDelayMs: 400, faults: { script: [{ ...POST, kind: "drop-after-commit" }] } });
    const p1 = await w.planFor([E2]);
    const r1 = await apply(p1.plan, { comms: w.comms, ledger: w.ledger, secrets: p1.secrets, existing: p1.existing, concurrency: 4, wait: false, reconcileWindowMs: 0 });
    expect(r1.items.find((i) => i.legacySid === SID2)?.status).toBe("failed");
    expect((await w.ledger.entries()).get(SID2)?.state).toBe("pending");
    await sleepReal(500); // X is visible now

    // Run 2 (the rerun the message asks for), now with SID5 too; SID5's answer is lost as well, but
    // its credential is visible at once. The planner adopts X for SID2 (already-migrated).
    w.emu.setVisibilityDelayMs(0);
    w.emu.setFaults({ script: [{ ...POST, kind: "drop-after-commit" }] });
    const p2 = await w.planFor([E2, E5]);
    expect(p2.plan.items.find((i) => i.legacySid === SID2)?.action).toBe("already-migrated");
    const r2 = await apply(p2.plan, { comms: w.comms, ledger: w.ledger, secrets: p2.secrets, existing: p2.existing, concurrency: 4, wait: true, settleMs: 2_000 });
    const i5 = r2.items.find((i) => i.legacySid === SID5)!;
    // SID5's lost create made exactly one new credential, and SID2's old attempt was already settled
    // (adopted X) before this run: SID5 should adopt it.
    expect(w.posts()).toBe(2);
    expect(w.sandbox()).toHaveLength(2);
    expect(i5.error ?? "").toBe("");
    expect(i5.status).toBe("confirmed");
  });

  it("F2: an abandoned attempt's late credential is never adopted by ANOTHER sid (wrong certificate)", async () => {
    // Run 1 (settle 300 ms): SID2's create is carried out, answer lost, invisible for 3 s. Nothing
    // appears within the settle time: abandoned, sent again (visible at once this time).
    const w = await world({ visibilityDelayMs: 3_000, faults: { script: [{ ...POST, kind: "drop-after-commit" }] } });
    const p1 = await w.planFor([E2]);
    const r1 = await apply(p1.plan, {
      comms: w.comms, ledger: w.ledger, secrets: p1.secrets, existing: p1.existing, concurrency: 4, wait: true, settleMs: 300, clockSkewMs: 0,
      onWaiting: () => w.emu.setVisibilityDelayMs(0),
    });
    const i2 = r1.items.find((i) => i.legacySid === SID2)!;
    expect(i2.status).toBe("confirmed");
    const x = w.emu.state.commsCredentials().find((c) => c.id !== i2.commsCredentialId && c.appName === "limonade_ios")!;
    expect(x).toBeDefined(); // the first attempt's credential, still invisible

    // Run 2, at once: SID5 is added; its create's answer is lost and nothing was made.
    w.emu.setFaults({ script: [{ ...POST, kind: "drop-before-commit" }] });
    const p2 = await w.planFor([E2, E5]);
    const r2 = await apply(p2.plan, { comms: w.comms, ledger: w.ledger, secrets: p2.secrets, existing: p2.existing, concurrency: 4, wait: true, settleMs: 6_000, clockSkewMs: 0 });
    const i5 = r2.items.find((i) => i.legacySid === SID5)!;
    const sid2Cert = storedCert(w.emu, i2.commsCredentialId!);
    expect(i5.status).toBe("confirmed");
    const sid5Cert = storedCert(w.emu, i5.commsCredentialId!);
    // Whatever SID5 ends up mapped to must not be a credential holding SID2's certificate.
    expect(storedCert(w.emu, x.id)).toBe(sid2Cert); // X holds SID2's certificate
    expect(i5.commsCredentialId).not.toBe(x.id);
    expect(sid5Cert).toBeDefined();
    expect(sid5Cert).not.toBe(sid2Cert);
  }, 20_000);

  it("F3: a crash while another create of the same (App, type) is in flight — queued ahead of the lost create's first look — leaves both blocked on every rerun", async () => {
    // SID2's create is carried out but its answer is lost (visible at once). Its look is queued
    // behind SID5's create (FIFO on the (App, type) lock); the process dies while SID5's POST is in
    // flight (simulated: every append after SID5's attempt line never returns).
    const w = await world({ latencyMs: 50, faults: { script: [{ ...POST, kind: "drop-after-commit" }] } });
    const p1 = await w.planFor([E2, E5]);
    const live = new MemoryLedger();
    let frozen = false;
    const dying: Ledger = {
      events: () => live.events(),
      entries: () => live.entries(),
      async append(e) {
        if (frozen) return new Promise<void>(() => undefined);
        await live.append(e);
        if (e.event === "attempt" && e.legacySid === SID5) frozen = true;
      },
    };
    void apply(p1.plan, { comms: w.comms, ledger: dying, secrets: p1.secrets, existing: p1.existing, concurrency: 4, wait: true, settleMs: 600_000 });
    for (let i = 0; i < 100 && w.sandbox().length < 2; i++) await sleepReal(20);
    await sleepReal(100);
    expect(w.sandbox()).toHaveLength(2); // both POSTs were carried out: one credential each
    // The lost create's first look happens before the other create starts: it is adopted at once.
    expect(live.list.map((e) => `${e.event} ${e.legacySid?.slice(-1)}`)).toEqual(["attempt 2", "unknown 2", "accepted 2", "confirmed 2", "attempt 5"]);

    // The rerun (a new process: only the journal survives).
    const after = new MemoryLedger();
    after.list.push(...live.list);
    const p2 = await w.planFor([E2, E5], after);
    const actions = Object.fromEntries(p2.plan.items.filter((i) => i.legacySid === SID2 || i.legacySid === SID5).map((i) => [i.legacySid.slice(-1), `${i.action}: ${i.problems.join("; ").slice(0, 160)}`]));
    // SID2's POST completed (lost) before SID5's was sent, under the same lock: the older credential
    // is SID2's and the newer SID5's. One rerun should converge (or at least not ask the user to
    // delete a credential that is theirs).
    expect(actions["2"], JSON.stringify(actions, null, 1)).toMatch(/^already-migrated/);
    expect(actions["5"], JSON.stringify(actions, null, 1)).toMatch(/^already-migrated/);
  });

  it("F4: a lost create is never abandoned and re-sent when no look at Comms succeeded (list failing)", async () => {
    // The create is carried out but its answer is lost; every list after that fails (503 after the
    // client's own retries). The writer has never seen Comms since the loss.
    const w = await world();
    const p = await w.planFor([E2]);
    w.emu.setFaults({ script: [{ ...POST, kind: "drop-after-commit" }, { method: "GET", path: /\/PushNotifications\/Credentials(\?.*)?$/, kind: "503", times: 10_000 }] });
    const fast = createCommsClient({ baseUrl: w.emu.url, apiVersion: "v1", accountSid: w.emu.accountSid, username: w.emu.accountSid, password: w.emu.authToken, sleep: async () => undefined });
    try {
      const r = await apply(p.plan, { comms: fast, ledger: w.ledger, secrets: p.secrets, existing: p.existing, concurrency: 4, wait: true, settleMs: 1_500, settlePollMaxMs: 200, confirm: { timeoutMs: 2_000 } });
      const item = r.items.find((i) => i.legacySid === SID2)!;
      const info = `${item.status} ${item.error ?? ""} ${item.warnings.join(" | ")} events: ${w.ledger.list.map((e) => e.event).join(",")}`;
      // One credential per sid, whatever happens.
      expect(w.sandbox().length, info).toBe(1);
      expect(w.posts(), info).toBe(1);
    } finally {
      await fast.close();
    }
  }, 30_000);

  it("F5: a create answered 202 with a body over the size cap is journalled as unknown (never failed), and the rerun adopts it instead of creating a duplicate", async () => {
    // The size cap is a knob of the client (4 MiB by default); 120 bytes makes the emulator's
    // ordinary 202 body "too large", standing in for a 202 with a >4 MiB body from a broken server.
    const w = await world();
    const p1 = await w.planFor([E2]);
    const capped = createCommsClient({ baseUrl: w.emu.url, apiVersion: "v1", accountSid: w.emu.accountSid, username: w.emu.accountSid, password: w.emu.authToken, maxResponseBytes: 120 });
    try {
      const r1 = await apply(p1.plan, { comms: capped, ledger: w.ledger, secrets: p1.secrets, existing: p1.existing, concurrency: 4, wait: false, reconcileWindowMs: 0 });
      const i1 = r1.items.find((i) => i.legacySid === SID2)!;
      expect(w.sandbox()).toHaveLength(1); // the create was carried out (202)
      const events1 = w.ledger.list.map((e) => e.event).join(",");
      // Journalled as an open attempt whose outcome is unknown — a failed one would be created again.
      const own1 = w.ledger.list.filter((e) => "legacySid" in e && e.legacySid === SID2).map((e) => e.event);
      expect(own1, events1).toContain("unknown");
      expect(own1, events1).not.toContain("failed");
      expect((await w.ledger.entries()).get(SID2)?.state, events1).toBe("pending");
      // Rerun with an ordinary client.
      const p2 = await w.planFor([E2]);
      await apply(p2.plan, { comms: w.comms, ledger: w.ledger, secrets: p2.secrets, existing: p2.existing, concurrency: 4, wait: false });
      const info = `run 1: ${i1.status} ${i1.error ?? ""}; events ${events1}; run 2 plan: ${p2.plan.items.find((i) => i.legacySid === SID2)?.action}`;
      expect(w.sandbox().length, info).toBe(1);
      expect((await w.ledger.entries()).get(SID2)?.commsCredentialId, info).toBe(w.sandbox()[0]!.id);
    } finally {
      await capped.close();
    }
  });

  it("F6: Comms ids (server text) reach item errors and the apply Markdown with control characters intact", async () => {
    const w = await world();
    const p = await w.planFor([E2]);
    // A hostile server (or a proxy) names two credentials of that kind with terminal escapes.
    const evil = ["comms_credential_\u001b]0;PWNED\u0007A", "comms_credential_\u001b[2J\u001b[31mB"];
    const now = new Date().toISOString();
    for (const id of evil) {
      (w.emu.state as unknown as { insertComms(i: object): unknown }).insertComms({ appName: "limonade_ios", credentialType: "APN_SANDBOX", id, createdAt: now, updatedAt: now, visibleAt: 0, verbatimDefault: true });
    }
    w.emu.setFaults({ script: [{ ...POST, kind: "drop-before-commit" }] });
    const r = await apply(p.plan, { comms: w.comms, ledger: w.ledger, secrets: p.secrets, existing: p.existing, concurrency: 4, wait: false, reconcileWindowMs: 0 });
    const item = r.items.find((i) => i.legacySid === SID2)!;
    expect(item.status).toBe("failed");
    // apply.ts printApplySummary prints `failed <sid>: <item.error>` to the terminal as is.
    expect.soft(JSON.stringify(item.error), "item.error carries raw ESC").not.toMatch(/\\u001b/);
    expect.soft(applyMarkdown(r), "apply Markdown carries raw ESC").not.toMatch(/\u001b/);
  });

  it("F4b: an earlier run's accepted (202) create is re-created after the settle time although no look at Comms succeeded", async () => {
    // Run 1: the create is accepted (202) but not visible before the (short) confirmation timeout.
    const w = await world({ visibilityDelayMs: 2_500 });
    const p1 = await w.planFor([E2]);
    const r1 = await apply(p1.plan, { comms: w.comms, ledger: w.ledger, secrets: p1.secrets, existing: p1.existing, concurrency: 4, confirm: { timeoutMs: 300 } });
    expect(r1.items.find((i) => i.legacySid === SID2)?.status).toBe("accepted-unconfirmed");
    // Run 2: every read of Comms fails (503 after the client's retries) for the whole settle time.
    const p2 = await w.planFor([E2]);
    w.emu.setFaults({ script: [{ method: "GET", path: "/PushNotifications/Credentials", kind: "503", times: 10_000 }] });
    const fast = createCommsClient({ baseUrl: w.emu.url, apiVersion: "v1", accountSid: w.emu.accountSid, username: w.emu.accountSid, password: w.emu.authToken, sleep: async () => undefined });
    try {
      const r2 = await apply(p2.plan, { comms: fast, ledger: w.ledger, secrets: p2.secrets, existing: p2.existing, concurrency: 4, wait: true, settleMs: 1_000, settlePollMaxMs: 200, confirm: { timeoutMs: 500 } });
      const item = r2.items.find((i) => i.legacySid === SID2)!;
      await sleepReal(2_600);
      const info = `${item.status} ${item.error ?? ""} ${item.warnings.join(" | ")}`;
      expect(w.sandbox().length, info).toBe(1);
    } finally {
      await fast.close();
    }
  }, 30_000);
});

