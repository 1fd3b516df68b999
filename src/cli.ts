#!/usr/bin/env node
import "./heap.js";
import yargs, { type Argv } from "yargs";
import { hideBin } from "yargs/helpers";
import { Cr2commsError, EXIT, UsageError } from "./errors.js";
import { TOOL_VERSION } from "./version.js";
import { applyCommand } from "./cli/commands/apply.js";
import { emulatorCommand } from "./cli/commands/emulator.js";
import { initCommand } from "./cli/commands/init.js";
import { inventoryCommand } from "./cli/commands/inventory.js";
import { planCommand } from "./cli/commands/plan.js";
import { rollbackCommand } from "./cli/commands/rollback.js";
import { statusCommand } from "./cli/commands/status.js";

/** Options every command takes (SPEC); each falls back to its environment variable, then its default. */
function globalOptions<T>(y: Argv<T>) {
  return y
    .option("account-sid", { type: "string", describe: "Twilio Account SID [TWILIO_ACCOUNT_SID]" })
    .option("auth-token", { type: "string", describe: "Auth token [TWILIO_AUTH_TOKEN]" })
    .option("api-key", { type: "string", describe: "API key SID, with --api-secret [TWILIO_API_KEY]" })
    .option("api-secret", { type: "string", describe: "API key secret [TWILIO_API_SECRET]" })
    .option("conversations-url", { type: "string", describe: "Conversations API base URL [CR2COMMS_CONVERSATIONS_URL] (default https://conversations.twilio.com)" })
    .option("comms-url", { type: "string", describe: "Comms API base URL [CR2COMMS_COMMS_URL] (default https://comms.twilio.com)" })
    .option("comms-api-version", { type: "string", describe: "v1 or preview [CR2COMMS_COMMS_API_VERSION] (default v1)" })
    .option("mapping", { type: "string", describe: "mapping file [CR2COMMS_MAPPING] (default mappings/migration.yaml)" })
    .option("reports-dir", { type: "string", describe: "where reports go [CR2COMMS_REPORTS_DIR] (default reports)" })
    .option("ledger", { type: "string", describe: "ledger file [CR2COMMS_LEDGER] (default <reports-dir>/ledger.jsonl)" })
    .option("concurrency", { type: "number", describe: "requests in flight, fixed [CR2COMMS_CONCURRENCY] (default: adaptive, from 4 up to 32)" })
    .option("settle-seconds", { type: "number", describe: "how long a create with an unknown outcome is waited for before it is sent again [CR2COMMS_SETTLE_SECONDS] (default 600)" })
    .option("json", { type: "boolean", describe: "machine-readable result on stdout" })
    .option("log-level", { type: "string", describe: "pino level for stderr logs [LOG_LEVEL] (default info)" })
    .option("emulator", { type: "boolean", describe: "rehearse against an embedded emulator with sample data (no Twilio account)" });
}

type Handler = (argv: Record<string, unknown>) => Promise<number>;
let exitCode: number = EXIT.ok;
const run = (handler: Handler) => async (argv: Record<string, unknown>) => {
  exitCode = await handler(argv);
};

export async function main(argv: string[]): Promise<number> {
  let debug = argv.includes("debug");
  try {
    await yargs(argv)
      .scriptName("cr2comms")
      .version(TOOL_VERSION)
      .strict()
      .recommendCommands()
      .demandCommand(1, "name a command (see --help)")
      .fail((msg, err) => {
        if (err) throw err;
        throw new UsageError(msg);
      })
      .command("inventory", "list legacy credentials (and, with --comms, Comms credentials by App)", (y) =>
        globalOptions(y).option("comms", { type: "boolean", describe: "also list existing Comms credentials grouped by App" }),
        run((a) => inventoryCommand(a)),
      )
      .command("init", "write a mapping file scaffold from the live inventory", (y) =>
        globalOptions(y)
          .option("out", { type: "string", describe: "where to write it (default: the --mapping path)" })
          .option("force", { type: "boolean", describe: "overwrite an existing file" }),
        run((a) => initCommand(a)),
      )
      .command("plan", "dry run: read everything, validate secrets, write a plan report", (y) =>
        globalOptions(y)
          .option("out", { type: "string", describe: "also save the plan for `apply --plan`" })
          .option("detailed-exitcode", { type: "boolean", describe: "exit 2 when the plan is valid and has changes" }),
        run((a) => planCommand(a)),
      )
      .command("apply", "carry out the plan in Comms, journalled in the ledger (safe to rerun)", (y) =>
        globalOptions(y)
          .option("yes", { type: "boolean", describe: "do not ask for confirmation (required without a terminal)" })
          .option("plan", { type: "string", describe: "apply exactly this saved plan; refused if anything changed since" })
          .option("wait", { type: "boolean", default: true, describe: "wait (up to --settle-seconds) for creates whose outcome is unknown; --no-wait exits 1 with the time to rerun" }),
        run((a) => applyCommand(a)),
      )
      .command("status", "compare the ledger with live Comms state (exit 0 in sync, 2 drift)", (y) => globalOptions(y), run((a) => statusCommand(a)))
      .command("rollback", "delete the Comms credentials this tool created (from the ledger)", (y) =>
        globalOptions(y)
          .option("yes", { type: "boolean", describe: "do not ask for confirmation (required without a terminal)" })
          .option("report", { type: "string", describe: "only the credentials created by this apply report" })
          .option("allow-app-deletion", { type: "boolean", describe: "allow deleting an App's last credential (deletes the App and its device registrations)" }),
        run((a) => rollbackCommand(a)),
      )
      .command("ledger <action>", "check the ledger, set unreadable lines aside (repair), or rebuild it from the apply reports", (y) =>
        globalOptions(y)
          .positional("action", { choices: ["check", "repair", "rebuild"] as const, describe: "check: say what is wrong (exit 1); repair: move unreadable lines aside; rebuild: from apply/rollback reports" })
          .option("force", { type: "boolean", describe: "rebuild: replace a ledger that holds events (the old one is moved aside first)" }),
        run(async (a) => (await import("./cli/commands/ledger.js")).ledgerCommand(a)),
      )
      .command("emulator", "serve the embedded Twilio emulator on loopback until Ctrl-C", (y) =>
        y
          .option("port", { type: "number", default: 0, describe: "port (0 = any free port)" })
          .option("seed", { type: "string", describe: "seed file (JSON); default: built-in sample data" })
          .option("latency-ms", { type: "number", describe: "added to every response" })
          .option("visibility-delay-ms", { type: "number", describe: "a created credential is invisible for this long after its 202" })
          .option("fault-rate", { type: "number", describe: "0..1: share of requests answered 429/503 or dropped" })
          .option("max-in-flight", { type: "number", describe: "answer 429 beyond this many requests in flight" })
          .option("log-level", { type: "string" }),
        run((a) => emulatorCommand(a)),
      )
      .help()
      .parseAsync();
    return exitCode;
  } catch (err) {
    debug ||= process.env.LOG_LEVEL === "debug";
    if (err instanceof Cr2commsError) {
      if (err.message) process.stderr.write(`cr2comms: ${err.message}\n`);
      if (debug && err.cause) process.stderr.write(`${String((err.cause as Error).stack ?? err.cause)}\n`);
      return err.exitCode;
    }
    process.stderr.write(`cr2comms: unexpected error: ${(err as Error).message ?? String(err)}\n`);
    if (debug) process.stderr.write(`${(err as Error).stack}\n`);
    return EXIT.failure;
  }
}

const code = await main(hideBin(process.argv));
// Exit once stdout/stderr are flushed (a large --json result into a pipe is written
// asynchronously): idle keep-alive sockets or a stray timer must not hold a finished command open.
const flushed = (stream: NodeJS.WriteStream) => new Promise<void>((resolve) => stream.write("", () => resolve()));
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
process.exit(code);
