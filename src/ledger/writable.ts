import { randomBytes } from "node:crypto";
import { mkdir, open, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import { NotWritableError } from "../errors.js";
import { describeOsError } from "./oserror.js";

/**
 * Proves, before anything goes to Comms, that the run can journal and report: creates the folders,
 * opens the ledger for appending, and creates and removes a probe file in the reports dir.
 * Throws `NotWritableError` with one line naming what cannot be written and why.
 */
export async function checkWritable(paths: { ledgerPath: string; reportsDir: string }): Promise<void> {
  const fail = (what: string, err: unknown): never => {
    throw new NotWritableError(`cannot write ${what}: ${describeOsError(err)}; nothing was sent to Comms`, { cause: err });
  };
  await mkdir(paths.reportsDir, { recursive: true }).catch((err: unknown) => fail(`the reports dir ${paths.reportsDir}`, err));
  const probe = join(paths.reportsDir, `.cr2comms-write-probe-${randomBytes(6).toString("hex")}`);
  const handle = await open(probe, "wx", 0o600).catch((err: unknown) => fail(`the reports dir ${paths.reportsDir}`, err));
  await handle.close();
  await unlink(probe).catch((err: unknown) => fail(`the reports dir ${paths.reportsDir} (cannot remove ${probe})`, err));

  const ledgerDir = dirname(paths.ledgerPath);
  await mkdir(ledgerDir, { recursive: true }).catch((err: unknown) => fail(`the ledger's folder ${ledgerDir}`, err));
  const ledger = await open(paths.ledgerPath, "a", 0o644).catch((err: unknown) => fail(`the ledger ${paths.ledgerPath}`, err));
  await ledger.close();
}
