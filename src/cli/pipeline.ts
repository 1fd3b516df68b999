import { dirname } from "node:path";
import type { SecretResult } from "../domain.js";
import { observe } from "../observe/observe.js";
import { plan as makePlan, secretsNeeded } from "../plan/index.js";
import type { Plan, Snapshot } from "../plan/types.js";
import { promptHidden, resolveEntrySecrets } from "../secrets/index.js";
import type { Runtime } from "./runtime.js";

export interface Planned {
  plan: Plan;
  snapshot: Snapshot;
  secrets: Map<string, SecretResult>;
}

/**
 * observe → resolve the secrets the plan needs → plan. Shared by `plan` and `apply`.
 *
 * The account's reads go out first and the mapping — with the YAML parser and zod, the costliest
 * modules to load — is read while they are in flight: only the Apps read waits for it (it is made
 * when the mapping names a defaultApp). A bad mapping is still the error reported, before anything
 * the reads found; the reads it abandons are only reads.
 */
export async function observeAndPlan(rt: Runtime, opts: { now: () => Date; interactive: boolean; env: NodeJS.ProcessEnv; replace?: ReadonlySet<string> }): Promise<Planned> {
  const loading = import("../mapping/load.js").then(({ loadMapping }) => loadMapping(rt.settings.mappingPath));
  const observing = observe({
    accountSid: rt.credentials.accountSid,
    legacy: rt.legacy,
    comms: rt.comms,
    ledger: rt.ledger,
    now: opts.now,
    readApps: loading.then((m) => m.defaultApp !== undefined),
  });
  observing.catch(() => undefined); // when the mapping fails, its error is the one thrown
  const mapping = await loading;
  const snapshot = await observing;
  rt.logger.debug({ legacy: snapshot.legacy.length, comms: snapshot.comms.length }, "observed");
  const secrets = new Map<string, SecretResult>();
  // One at a time: a `prompt` reference asks on the terminal.
  for (const { entry, target } of secretsNeeded(snapshot, mapping)) {
    const ctx = {
      mappingDir: dirname(mapping.path),
      env: opts.env,
      now: opts.now(),
      interactive: opts.interactive,
      prompt: promptHidden,
    };
    secrets.set(entry.sid, await resolveEntrySecrets(entry, target, ctx));
  }
  const plan = makePlan(snapshot, mapping, secrets, { now: opts.now(), clockSkewMs: rt.settings.clockSkewMs, ...(opts.replace?.size ? { replace: opts.replace } : {}) });
  return { plan, snapshot, secrets };
}
