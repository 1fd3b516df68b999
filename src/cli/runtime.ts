import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { createCommsClient } from "../comms/index.js";
import type { CommsClient } from "../comms/types.js";
import type { Emulator, Seed } from "../emulator/index.js";
import type { Dispatcher } from "undici";
import type { CommsCredential } from "../domain.js";
import { createDispatcher } from "../http/agent.js";
import { FileLedger } from "../ledger/ledger.js";
import { createLegacyReader } from "../legacy/index.js";
import { createLogger, type Logger } from "../log.js";
import type { LegacySource } from "../observe/observe.js";
import { currentAccountRun } from "./account-run.js";
import { resolveCredentials, resolveSettings, type Credentials, type GlobalArgs, type Settings } from "./config.js";

/** Everything a command needs to talk to Twilio (or the embedded emulator). */
export interface Runtime {
  settings: Settings;
  credentials: Credentials;
  logger: Logger;
  legacy: LegacySource;
  comms: CommsClient;
  ledger: FileLedger;
  emulator?: Emulator;
  close(): Promise<void>;
}

/** Where `--emulator` keeps the Comms side between runs, so plan → apply → rerun behaves like one account. */
export function emulatorStatePath(settings: Settings): string {
  return join(settings.reportsDir, "emulator-state.json");
}

export async function openRuntime(args: GlobalArgs, env: NodeJS.ProcessEnv = process.env): Promise<Runtime> {
  // One account of a fleet: the fleet opened this account's runtime.
  const given = currentAccountRun()?.runtime;
  if (given) return given;
  let settings = resolveSettings(args, env);
  const logger = createLogger(settings.logLevel, { format: settings.logFormat });
  let emulator: Emulator | undefined;
  let credentials: Credentials;
  if (settings.emulator) {
    const statePath = emulatorStatePath(settings);
    // Loaded only for --emulator: a real run never needs it.
    const { SAMPLE_SEED, startEmulator } = await import("../emulator/index.js");
    const saved = loadEmulatorState(statePath);
    const seed: Seed = saved ? { ...SAMPLE_SEED, commsCredentials: saved } : SAMPLE_SEED;
    emulator = await startEmulator({ port: 0, seed });
    settings = { ...settings, conversationsUrl: emulator.url, commsUrl: emulator.url };
    credentials = {
      accountSid: emulator.accountSid,
      username: emulator.accountSid,
      password: emulator.authToken,
      kind: "auth-token",
      label: `the emulator's auth token for ${emulator.accountSid}`,
    };
    logger.info({ url: emulator.url, state: statePath }, "using the embedded emulator (sample data; no Twilio account is contacted)");
  } else {
    credentials = resolveCredentials(args, env);
  }
  // One agent for both APIs; the emulator is on loopback and never goes through a proxy.
  const dispatcher = createDispatcher({ proxy: !settings.emulator, env });
  const rt = accountRuntime({ settings, credentials, logger, dispatcher });
  const em = emulator;
  return {
    ...rt,
    ...(em ? { emulator: em } : {}),
    async close() {
      await rt.close();
      await dispatcher.close();
      if (em) {
        saveEmulatorState(emulatorStatePath(settings), em.state);
        await em.close();
      }
    },
  };
}

/** Writes the emulator's Comms credentials of one account, for the next rehearsal run to start from. */
export function saveEmulatorState(statePath: string, state: { commsCredentials(): CommsCredential[] }): void {
  mkdirSync(dirname(statePath), { recursive: true });
  const commsCredentials = state.commsCredentials().map((c) => ({
    id: c.id,
    appName: c.appName,
    credentialType: c.credentialType,
    isDefault: c.isDefault,
    createdAt: c.createdAt,
  }));
  writeFileSync(statePath, JSON.stringify({ commsCredentials }, null, 2) + "\n");
}

/** The Comms credentials a previous rehearsal left, if any. */
export function loadEmulatorState(statePath: string): Seed["commsCredentials"] | undefined {
  if (!existsSync(statePath)) return undefined;
  return (JSON.parse(readFileSync(statePath, "utf8")) as { commsCredentials: Seed["commsCredentials"] }).commsCredentials;
}

/**
 * One account's clients and ledger over a dispatcher the caller owns (and closes): a single-account
 * run's, or one account's of a fleet, all over the fleet's one agent.
 */
export function accountRuntime(opts: { settings: Settings; credentials: Credentials; logger: Logger; dispatcher: Dispatcher }): Runtime {
  const { settings, credentials, logger, dispatcher } = opts;
  const legacy = createLegacyReader({
    accountSid: credentials.accountSid,
    username: credentials.username,
    password: credentials.password,
    ...(credentials.label !== undefined ? { credentialLabel: credentials.label } : {}),
    baseUrl: settings.conversationsUrl,
    logger,
    dispatcher,
  });
  const comms = createCommsClient({
    baseUrl: settings.commsUrl,
    apiVersion: settings.commsApiVersion,
    accountSid: credentials.accountSid,
    username: credentials.username,
    password: credentials.password,
    ...(credentials.label !== undefined ? { credentialLabel: credentials.label } : {}),
    logger,
    dispatcher,
  });
  const ledger = new FileLedger(settings.ledgerPath, () => new Date(), credentials.accountSid);
  return {
    settings,
    credentials,
    logger,
    legacy,
    comms,
    ledger,
    async close() {
      await comms.close();
    },
  };
}
