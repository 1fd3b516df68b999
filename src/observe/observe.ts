import type { CommsClient } from "../comms/types.js";
import type { LegacyCredential } from "../domain.js";
import type { Ledger } from "../ledger/types.js";
import type { Snapshot } from "../plan/types.js";

export interface LegacySource {
  listAll(onPage?: (count: number) => void): Promise<LegacyCredential[]>;
  /** What the last `listAll` had to skip (records without a sid), as sentences for the plan. */
  readonly warnings?: readonly string[];
}

/**
 * The only I/O before planning: legacy credentials, every Comms credential, the ledger, and — with
 * `readApps` (the mapping names a `defaultApp`) — the Comms Apps, to know the account's default App.
 * `readApps` may be a promise (the mapping still loading): the other reads do not wait for it.
 */
export async function observe(deps: {
  accountSid: string;
  legacy: LegacySource;
  comms: CommsClient;
  ledger: Ledger;
  now: () => Date;
  readApps?: boolean | Promise<boolean>;
}): Promise<Snapshot> {
  const [legacy, comms, ledger, apps] = await Promise.all([
    deps.legacy.listAll(),
    deps.comms.list(),
    deps.ledger.entries(),
    Promise.resolve(deps.readApps).then((read) => (read ? deps.comms.listApps() : undefined)),
  ]);
  const incomplete = comms.filter((c) => c.missing?.length);
  const warnings = [
    ...(deps.legacy.warnings ?? []),
    ...(incomplete.length
      ? [`Comms listed ${incomplete.length} credential(s) without ${[...new Set(incomplete.flatMap((c) => c.missing ?? []))].join("/")}; they are counted where their App is known, and never adopted or deleted`]
      : []),
  ];
  return { accountSid: deps.accountSid, legacy, comms, ledger, ...(apps ? { apps } : {}), observedAt: deps.now().toISOString(), ...(warnings.length ? { warnings } : {}) };
}
