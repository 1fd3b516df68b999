import type { CommsClient } from "../comms/types.js";
import type { LegacyCredential } from "../domain.js";
import type { Ledger } from "../ledger/types.js";
import type { Snapshot } from "../plan/types.js";

export interface LegacySource {
  listAll(onPage?: (count: number) => void): Promise<LegacyCredential[]>;
}

/** The only I/O before planning: legacy credentials, every Comms credential, and the ledger. */
export async function observe(deps: {
  accountSid: string;
  legacy: LegacySource;
  comms: CommsClient;
  ledger: Ledger;
  now: () => Date;
}): Promise<Snapshot> {
  const [legacy, comms, ledger] = await Promise.all([deps.legacy.listAll(), deps.comms.list(), deps.ledger.entries()]);
  return { accountSid: deps.accountSid, legacy, comms, ledger, observedAt: deps.now().toISOString() };
}
