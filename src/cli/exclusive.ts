import { acquireLock, assertLedgerNotLost, checkWritable } from "../ledger/index.js";
import type { Runtime } from "./runtime.js";

/**
 * Everything `apply` and `rollback` prove before their first write to Comms: the reports dir and
 * the ledger can be written, this run alone holds the ledger's lock, the ledger was not lost
 * (apply), and a torn last line left by a crash is set aside. Returns the lock's release.
 */
export async function holdLedger(rt: Runtime, command: "apply" | "rollback"): Promise<() => Promise<void>> {
  const { ledgerPath, reportsDir } = rt.settings;
  await checkWritable({ ledgerPath, reportsDir });
  const lock = await acquireLock(ledgerPath, { command });
  try {
    for (const w of lock.warnings) rt.logger.warn(w);
    if (command === "apply") await assertLedgerNotLost({ ledgerPath, reportsDir, accountSid: rt.credentials.accountSid });
    for (const w of await rt.ledger.prepareForAppend()) rt.logger.warn(w);
  } catch (err) {
    await lock.release();
    throw err;
  }
  return () => lock.release();
}
