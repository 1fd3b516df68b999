import { dirname } from "node:path";
import type { SecretResult } from "../domain.js";
import { observe } from "../observe/observe.js";
import { plan as makePlan, secretsNeeded } from "../plan/index.js";
import type { Plan, Snapshot } from "../plan/types.js";
import { promptHidden, resolveEntrySecrets } from "../secrets/index.js";
import type { Runtime } from "./runtime.js";
import { currentAccountRun, outlivingAccount } from "./account-run.js";
import { tryParseSecretRef } from "../secrets/index.js";
import type { CredentialType } from "../domain.js";
import { homedir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";

/**
 * What identifies a secret across accounts: the target type and where each field comes from
 * (absolute file paths, variable names). Undefined when a field is a prompt or not a reference.
 */
export function sharedSecretKey(secrets: object, target: CredentialType, mappingDir: string): string | undefined {
  const parts: string[] = [target];
  for (const [field, value] of Object.entries(secrets).sort(([a], [b]) => a.localeCompare(b))) {
    if (typeof value !== "string") continue;
    const parsed = tryParseSecretRef(value);
    if ("error" in parsed || parsed.ref.kind === "prompt") return undefined;
    const ref = parsed.ref;
    const where = ref.kind === "env" ? `env:${ref.name}` : `file:${ref.path.startsWith("~/") ? join(homedir(), ref.path.slice(2)) : isAbsolute(ref.path) ? ref.path : resolve(mappingDir, ref.path)}`;
    parts.push(`${field}=${where}`);
  }
  return parts.join("\n");
}

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
    const shared = currentAccountRun()?.secrets;
    const key = shared ? sharedSecretKey(entry.secrets ?? {}, target, ctx.mappingDir) : undefined;
    if (shared && key) {
      // Across the accounts of a fleet, the same files and variables are read and validated once.
      let result = shared.get(key);
      if (!result) {
        result = outlivingAccount(resolveEntrySecrets(entry, target, ctx));
        shared.set(key, result);
      }
      secrets.set(entry.sid, await result);
    } else {
      secrets.set(entry.sid, await resolveEntrySecrets(entry, target, ctx));
    }
  }
  const plan = makePlan(snapshot, mapping, secrets, { now: opts.now(), clockSkewMs: rt.settings.clockSkewMs, ...(opts.replace?.size ? { replace: opts.replace } : {}) });
  return { plan, snapshot, secrets };
}
