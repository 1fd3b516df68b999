import { acquireAccountLock, acquireLock, assertLedgerNotLost, checkWritable, type HeldLock } from "../ledger/index.js";
import type { Runtime } from "./runtime.js";

/**
 * Everything `apply` and `rollback` prove before their first write to Comms: the reports dir and
 * the ledger can be written, this run alone holds the ledger's lock and the account's lock (one
 * run per account on this machine, whatever the ledger's path), the ledger was not lost (apply),
 * and a torn last line left by a crash is set aside. Returns the release of both locks.
 */
export async function holdLedger(rt: Runtime, command: "apply" | "rollback"): Promise<() => Promise<void>> {
  const { ledgerPath, reportsDir } = rt.settings;
  await checkWritable({ ledgerPath, reportsDir });
  const locks: HeldLock[] = [await acquireLock(ledgerPath, { command })];
  const release = async () => {
    for (const lock of [...locks].reverse()) await lock.release();
  };
  try {
    locks.push(await accountLock(rt, command, locks[0]!.ledgerPath));
    for (const w of locks.flatMap((l) => l.warnings)) rt.logger.warn(w);
    if (command === "apply") await assertLedgerNotLost({ ledgerPath, reportsDir, accountSid: rt.credentials.accountSid });
    for (const w of await rt.ledger.prepareForAppend()) rt.logger.warn(w);
  } catch (err) {
    await release();
    throw err;
  }
  return release;
}

/** The account's lock, keyed on the account and the origin of the Comms API this run writes to. */
export function accountLock(rt: Pick<Runtime, "settings" | "credentials">, command: string, ledgerPath: string): Promise<HeldLock> {
  const { stateDir, stateDirFrom, commsUrl } = rt.settings;
  return acquireAccountLock({ command, stateDir, stateDirFrom, accountSid: rt.credentials.accountSid, origin: new URL(commsUrl).origin, ledgerPath });
}
