/**
 * A 403 to a write is an account-level stop: the key lacks write permission. No further write is
 * sent in that account, the item whose write got the 403 is failed, the others stay planned.
 */
import { afterEach, describe, expect, it } from "vitest";
import { apply } from "../../src/apply/writer.js";
import { createCommsClient } from "../../src/comms/index.js";
import type { CommsClient } from "../../src/comms/types.js";
import { WritesStoppedError } from "../../src/errors.js";
import { MemoryLedger } from "../../src/ledger/ledger.js";
import { rollback, type RollbackPlan } from "../../src/rollback/rollback.js";
import { sid } from "../plan/builders.js";
import { startLocalServer, type SeenRequest } from "../comms/local-server.js";
import { item, planOf, world } from "../apply/writer-world.js";

const SECRET = "s3cr3t-auth-token-value";
let closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

/** A Comms double whose key may read but not write: every POST, PATCH and DELETE is answered 403. */
async function readOnlyComms(): Promise<{ client: CommsClient; requests: SeenRequest[]; writes: () => SeenRequest[] }> {
  const server = await startLocalServer((req) =>
    req.method === "GET"
      ? { status: 200, json: { credentials: [], pagination: {} } }
      : { status: 403, json: { code: 20403, message: "Permission denied", status: 403 } },
  );
  const client = createCommsClient({ baseUrl: server.url, apiVersion: "v1", accountSid: "AC00000000000000000000000000000000", username: "SK00000000000000000000000000000000", password: SECRET, sleep: async () => undefined });
  closers.push(() => client.close(), () => server.close());
  return { client, requests: server.requests, writes: () => server.requests.filter((r) => r.method !== "GET") };
}

describe("a 403 to a write stops every write in the account", () => {
  it("K4: the client refuses, without sending it, every write after a 403 to one; reads go on", async () => {
    const { client, writes, requests } = await readOnlyComms();
    const body = { credentialType: "APN" as const, appName: "app_ios", content: { certificate: "Y2VydA==", privateKey: "a2V5" } };
    const first = await client.create(body).catch((e: unknown) => e);
    expect((first as Error).message).toMatch(/403.*the key lacks write permission on 127\.0\.0\.1:\d+; no further write is sent in this account/);
    expect((first as Error).message).not.toContain(SECRET);
    for (const next of [() => client.create(body), () => client.setDefault("comms_credential_1", true), () => client.delete("comms_credential_1"), () => client.setDefaultApp("app_ios")]) {
      await expect(next()).rejects.toBeInstanceOf(WritesStoppedError);
    }
    expect(writes()).toHaveLength(1);
    expect(await client.list({ appName: "app_ios" })).toEqual([]);
    expect(requests.at(-1)?.method).toBe("GET");
  });

  it("K4: apply: the item whose create got the 403 is failed, the queued ones stay planned with nothing sent or journalled, and the run says the key lacks write permission", async () => {
    const { client, writes } = await readOnlyComms();
    const w = world();
    const plan = planOf(item(), item({ legacySid: sid(2), target: { appName: "app_other", credentialType: "APN", isDefault: false } }));
    const r = await apply(plan, w.deps([], { comms: client, concurrency: 1 }));
    expect(writes()).toHaveLength(1);
    const [a, b] = r.items;
    expect(a).toMatchObject({ legacySid: sid(1), status: "failed" });
    expect(a!.error).toMatch(/the key lacks write permission on 127\.0\.0\.1/);
    expect(b).toMatchObject({ legacySid: sid(2), status: "planned" });
    expect(b!.warnings.join(" ")).toMatch(/not started: no write is sent after .*lacks write permission/);
    expect(r.problems.join("\n")).toMatch(/^stopped writing: .*the key lacks write permission on 127\.0\.0\.1.*the items not sent stay planned$/m);
    expect(JSON.stringify(r)).not.toContain(SECRET);
    // Journalled: the 403'd attempt failed; nothing for the item never sent.
    expect(w.ledger.list.filter((e) => "legacySid" in e && e.legacySid === sid(2))).toEqual([]);
    expect(w.ledger.list.map((e) => e.event)).toEqual(["attempt", "failed"]);
  });

  it("K4: rollback: the delete that got the 403 is failed, the others are not sent and stay planned, and the run says why", async () => {
    const { client, writes } = await readOnlyComms();
    const c = (n: number) => ({ legacySid: sid(n), commsCredentialId: `comms_credential_${n}`, appName: "app_ios", credentialType: "APN" as const });
    const plan: RollbackPlan = { deletes: [c(1), c(2), c(3)], refused: [], gone: [], warnings: [] };
    const ledger = new MemoryLedger();
    const r = await rollback(plan, { comms: client, ledger, concurrency: 1, runId: "r", accountSid: "AC1", sleep: async () => {} });
    expect(writes()).toHaveLength(1);
    expect(r.items.map((i) => i.status)).toEqual(["failed", "planned", "planned"]);
    expect(r.items[0]!.error).toMatch(/the key lacks write permission on 127\.0\.0\.1/);
    expect(r.items[1]!.warnings.join(" ")).toMatch(/not started: no delete is sent after/);
    expect(r.problems.join("\n")).toMatch(/stopped deleting: .*lacks write permission/);
    expect(ledger.list).toEqual([]);
  });
});
