import { Cr2commsError, EXIT } from "../../errors.js";
import type { GlobalArgs } from "../config.js";

export interface LedgerArgs extends GlobalArgs {
  action?: string;
  force?: boolean;
}

/** Placeholder so the command table compiles; the ledger command itself lands from another branch. */
export async function ledgerCommand(_args: LedgerArgs): Promise<number> {
  throw new Cr2commsError("cr2comms ledger is not built yet", EXIT.failure);
}
