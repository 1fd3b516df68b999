import type { ApplyDeps } from "../../src/apply/writer.js";
import type { CommsCredential, SecretResult } from "../../src/domain.js";
import { MemoryLedger } from "../../src/ledger/ledger.js";
import type { Plan, PlanItem } from "../../src/plan/types.js";
import { ACCOUNT, okSecret, sid } from "../plan/builders.js";
import { fakeComms, virtualClock } from "./fake-comms.js";

export const APP = "app_ios";

/** A plan item (a create of sid(1) into app_ios APN unless overridden). */
export function item(over: Partial<PlanItem> = {}): PlanItem {
  return {
    legacySid: sid(1),
    friendlyName: "ios prod",
    legacyType: "apn",
    sandbox: false,
    action: "create",
    target: { appName: APP, credentialType: "APN", isDefault: false },
    warnings: [],
    problems: [],
    ...over,
  };
}

export function planOf(...items: PlanItem[]): Plan {
  return { schemaVersion: 1, generatedAt: "2025-06-01T12:00:00.000Z", accountSid: ACCOUNT, mappingPath: "/m/migration.yaml", problems: [], warnings: [], items, observedFingerprint: "f" };
}

/** A fake Comms, a ledger and the writer's dependencies, all on one virtual clock. */
export function world(clock: Pick<ReturnType<typeof virtualClock>, "now" | "ms" | "advance" | "sleep"> = virtualClock()) {
  const comms = fakeComms(clock);
  const ledger = new MemoryLedger(clock.now);
  const deps = (existing: CommsCredential[], over: Partial<ApplyDeps> = {}): ApplyDeps => ({
    comms: comms.client,
    ledger,
    existing,
    secrets: new Map<string, SecretResult>([[sid(1), okSecret(sid(1))], [sid(2), okSecret(sid(2))]]),
    concurrency: 4,
    now: clock.now,
    sleep: clock.sleep,
    confirm: { timeoutMs: 5_000, initialDelayMs: 100, maxDelayMs: 1_000 },
    reconcileWindowMs: 3_000,
    ...over,
  });
  const events = () => ledger.list.map((e) => e.event);
  return { clock, comms, ledger, deps, events };
}
