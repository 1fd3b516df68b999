/**
 * The embedded Twilio emulator: the legacy Conversations Credentials API and the Comms Push
 * Notifications API (`/v1` and `/preview`: Credentials, Apps with the default App, Device
 * Registrations) on one loopback port, with Basic auth, paging, validation, limits, the App
 * deletion cascade, 202 + delayed visibility and fault injection.
 */
import { Cr2commsError, EXIT } from "../errors.js";
import { loadSeedFile, resolveSeed, SAMPLE_SEED } from "./seed.js";
import { startEmulator, type Emulator, type EmulatorOptions } from "./server.js";
import { sampleSubaccounts } from "./accounts.js";

export { startEmulator } from "./server.js";
export type { Emulator, EmulatorOptions, RequestLogEntry } from "./server.js";
export type { FaultKind, FaultOptions, ScriptedFault } from "./faults.js";
export { COMMS_ID_PATTERN, generateLegacyCredentials, loadSeedFile, resolveSeed, SAMPLE_SEED, validateSeed } from "./seed.js";
export type { ResolvedSeed, Seed, SeedApiKey, SeedCommsCredential, SeedDeviceRegistration, SeedLegacyCredential } from "./seed.js";
export { EmulatorState } from "./state.js";
export { sampleSubaccount, sampleSubaccounts, ACCOUNTS_MAX_PAGE_SIZE } from "./accounts.js";
export type { EmulatorAccount, EmulatorAccountStatus, SubaccountSpec } from "./accounts.js";
export type { CommsLimitError, LegacyRecord, StoredApp, StoredCommsCredential, StoredRegistration } from "./state.js";

/**
 * `cr2comms emulator`: loads the seed (file or SAMPLE_SEED), starts the emulator and prints (in one
 * message of short lines) where it listens, which credentials it accepts and which environment
 * variables to set.
 * The caller keeps it running and closes it.
 */
export async function runEmulatorCommand(
  opts: EmulatorOptions & { seedFile?: string; /** Serve this many sample subaccounts of the seed's account. */ subaccountCount?: number },
  log: (line: string) => void,
): Promise<Emulator> {
  const { seedFile, subaccountCount, ...rest } = opts;
  const seed = seedFile !== undefined ? loadSeedFile(seedFile) : resolveSeed(rest.seed ?? SAMPLE_SEED);
  const subaccounts = subaccountCount ? sampleSubaccounts(seed.accountSid, subaccountCount) : rest.subaccounts;
  let emulator: Emulator;
  try {
    emulator = await startEmulator({ ...rest, seed, ...(subaccounts ? { subaccounts } : {}) });
  } catch (err) {
    // A busy port is the user's to resolve, not a crash: one line, exit 1 (the run failed; the
    // command line itself was well-formed).
    if ((err as NodeJS.ErrnoException).code === "EADDRINUSE") {
      throw new Cr2commsError(`port ${rest.port ?? 0} is already in use; pick another with --port (or --port 0 for any free port)`, EXIT.failure, { cause: err });
    }
    throw err;
  }
  const key = seed.apiKeys.find((k) => k.readOnly !== true);
  const readOnlyKey = seed.apiKeys.find((k) => k.readOnly === true);
  const vars: [string, string][] = [
    ["CR2COMMS_CONVERSATIONS_URL", emulator.url],
    ["CR2COMMS_COMMS_URL", emulator.url],
    ["TWILIO_ACCOUNT_SID", emulator.accountSid],
    ["TWILIO_AUTH_TOKEN", emulator.authToken],
    // Its ledger and reports are kept apart from a real account's (the default ./reports).
    ["CR2COMMS_REPORTS_DIR", "reports/emulator"],
    ...(emulator.accounts.size > 1 ? [["CR2COMMS_API_URL", emulator.url] as [string, string]] : []),
  ];
  log(
    [
      `Twilio emulator listening on ${emulator.url}`,
      "  legacy /v1/Credentials; Comms /v1 and /preview PushNotifications",
      `  Credentials, Apps, DeviceRegistrations; ${seed.legacyCredentials.length} legacy credentials`,
      ...(emulator.accounts.size > 1 ? [`  ${emulator.accounts.size - 1} subaccounts and the 2010 Accounts API (their tokens are read through the parent)`] : []),
      `  account ${emulator.accountSid}, auth token ${emulator.authToken}`,
      ...(key ? [`  or API key ${key.sid} / ${key.secret}`] : []),
      ...(readOnlyKey ? [`  or read-only API key ${readOnlyKey.sid} / ${readOnlyKey.secret}`, "    (reads only: writes are answered 403)"] : []),
      "Point cr2comms at it (reports and ledger apart from a real account's):",
      ...vars.map(([name, value]) => `  export ${name}=${value}`),
      "Ctrl-C stops it.",
    ].join("\n"),
  );
  return emulator;
}
