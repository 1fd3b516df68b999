#!/usr/bin/env node
/**
 * The entry point. It loads only yargs and the option tables below (and for a bare `--version`
 * not even yargs); each command's module (and with it twilio, undici, zod, node-forge, inquirer,
 * pino, cli-progress) is imported when that command runs, so start-up stays close to Node's own.
 */
import "./heap.js";
import { realpathSync } from "node:fs";
import { pathToFileURL } from "node:url";
import type { Argv, Options } from "yargs";
import { Cr2commsError, EXIT, UsageError } from "./errors.js";
import { TOOL_VERSION } from "./version.js";
import { colorEnabled, paint } from "./cli/color.js";
import { helpWidth, ignoreClosedStdout, wrapText } from "./cli/output.js";
import { editDistance, escapeControl } from "./text.js";
import type { FleetCommand } from "./fleet/options.js";

type Args = Record<string, unknown>;

interface CommandDef {
  /** yargs command string, e.g. "ledger <action>". */
  command: string;
  describe: string;
  /** This command's own options, shown first in its help. */
  options: Record<string, Options>;
  positionals?: Record<string, { describe: string; choices: string[] }>;
  /** Takes the global options (every command but `emulator`). */
  global: boolean;
  examples: [string, string][];
  /**
   * Sends nothing to Twilio: a signal ends it at once with one line saying so (exit 128 + n).
   * `apply` and `rollback` handle signals themselves (finish what is in flight, journal, report).
   */
  readsOnly?: boolean;
  /** Also runs over many accounts (the fleet flags). */
  fleet?: boolean;
  run: (args: Args) => Promise<number>;
}

/** A string option must be followed by its value: `--mapping` at the end is a usage error. */
const str = (describe: string): Options => ({ type: "string", requiresArg: true, describe });
const bool = (describe: string): Options => ({ type: "boolean", describe });

/** Options every command takes (SPEC); each falls back to its environment variable, then its default. */
export const GLOBAL_OPTIONS: Record<string, Options> = {
  "account-sid": str("Twilio Account SID [TWILIO_ACCOUNT_SID]"),
  "auth-token": str("auth token [TWILIO_AUTH_TOKEN]"),
  "api-key": str("API key SID, with --api-secret [TWILIO_API_KEY]"),
  "api-secret": str("API key secret [TWILIO_API_SECRET]"),
  "conversations-url": str("Conversations API base URL [CR2COMMS_CONVERSATIONS_URL] (default https://conversations.twilio.com, or the TWILIO_REGION/TWILIO_EDGE host)"),
  "comms-url": str("Comms API base URL [CR2COMMS_COMMS_URL] (default https://comms.twilio.com; required with TWILIO_REGION/TWILIO_EDGE)"),
  "comms-api-version": str("v1 or preview [CR2COMMS_COMMS_API_VERSION] (default v1)"),
  mapping: str("mapping file [CR2COMMS_MAPPING] (default mappings/migration.yaml)"),
  "reports-dir": str("where reports go [CR2COMMS_REPORTS_DIR] (default reports; reports/emulator with --emulator)"),
  ledger: str("ledger file [CR2COMMS_LEDGER] (default <reports-dir>/ledger.jsonl)"),
  concurrency: str("requests in flight, fixed, 1-32 [CR2COMMS_CONCURRENCY] (default: adaptive, from 4)"),
  "settle-seconds": str("how long a create with an unknown outcome is waited for before it is sent again, ≥ 1 [CR2COMMS_SETTLE_SECONDS] (default 600)"),
  "clock-skew-seconds": str("how far this machine's clock may be from Twilio's when matching a lost create to what Comms lists, 0-3600 [CR2COMMS_CLOCK_SKEW_SECONDS] (default 30)"),
  json: bool("machine-readable result on stdout"),
  "log-level": str("trace, debug, info, warn, error, fatal or silent; logs go to stderr [LOG_LEVEL] (default info)"),
  "log-format": str("pretty or json (default pretty when stderr is a terminal, else json)"),
  emulator: bool("rehearse against an embedded emulator with sample data (no Twilio account); reports go to reports/emulator"),
};

/** Options of a run over many accounts (SPEC "Many accounts in one run"). */
export const FLEET_OPTIONS: Record<string, Options> = {
  "all-subaccounts": bool("every subaccount of the --account-sid parent (suspended and closed ones are listed, not worked)"),
  accounts: str("only the accounts listed in this file, one AC sid a line [CR2COMMS_ACCOUNTS]"),
  "include-parent": bool("with --all-subaccounts: the parent account too"),
  "accounts-concurrency": str("accounts worked at once, 1-64 [CR2COMMS_ACCOUNTS_CONCURRENCY] (default 32)"),
  "mapping-dir": str("where each account's mapping is, <dir>/<ACsid>.yaml [CR2COMMS_MAPPING_DIR] (default mappings/accounts)"),
  "api-url": str("2010 Accounts API base URL [CR2COMMS_API_URL] (default https://api.twilio.com, or the TWILIO_REGION/TWILIO_EDGE host)"),
};

const EXIT_CODES =
  "Exit codes: 0 success · 1 failure or blocking problems (the report is still written) · " +
  "2 plan --detailed-exitcode has changes, or status found drift or expiring certificates · 64 bad usage · " +
  "128+n stopped by a signal (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP)";

export const COMMANDS: CommandDef[] = [
  {
    command: "inventory",
    fleet: true,
    readsOnly: true,
    describe: "list legacy credentials (and, with --comms, Comms credentials by App)",
    options: { comms: bool("also list existing Comms credentials grouped by App") },
    global: true,
    examples: [
      ["$0 inventory --emulator", "rehearse: list the sample account's credentials"],
      ["$0 inventory --comms --json", "everything, machine-readable"],
    ],
    run: async (a) => (await import("./cli/commands/inventory.js")).inventoryCommand(a),
  },
  {
    command: "init",
    fleet: true,
    readsOnly: true,
    describe: "write a mapping file scaffold from the live inventory",
    options: {
      out: str("where to write it (default: the --mapping path)"),
      force: bool("overwrite an existing file"),
      update: bool("add entries for legacy credentials the mapping lacks; keep every edit"),
      "app-name-template": str("appNames from a template: {accountSid}, {accountName}, {friendlyName}, {type} (made a valid appName)"),
      "secrets-template": str("secret references from a template: {accountSid}, {sid}, {part}, e.g. file:../../secrets/{accountSid}/{sid}.{part}"),
    },
    global: true,
    examples: [
      ["$0 init --out mappings/migration.yaml", "scaffold a mapping to edit"],
      ["$0 init --update", "add the account's new legacy credentials to the mapping"],
    ],
    run: async (a) => (await import("./cli/commands/init.js")).initCommand(a),
  },
  {
    command: "plan",
    fleet: true,
    readsOnly: true,
    describe: "dry run: read everything, validate secrets, write a plan report",
    options: {
      out: str("also save the plan for `apply --plan`"),
      "detailed-exitcode": bool("exit 2 when the plan is valid and has changes"),
    },
    global: true,
    examples: [
      ["$0 plan --mapping mappings/migration.yaml", "see what apply would do"],
      ["$0 plan --out plan.json", "save the plan to apply exactly later"],
    ],
    run: async (a) => (await import("./cli/commands/plan.js")).planCommand(a),
  },
  {
    command: "apply",
    fleet: true,
    describe: "carry out the plan in Comms, journalled in the ledger (safe to rerun)",
    options: {
      yes: bool("do not ask for confirmation (required without a terminal)"),
      plan: str("apply exactly this saved plan; refused if anything changed since"),
      wait: { type: "boolean", default: true, describe: "wait out the settle time for unknown outcomes; --no-wait exits 1 with \"rerun after …\" instead" },
      replace: { type: "string", array: true, describe: "force a replacement (new credential, then the old one deleted) of this migrated legacy sid; repeatable" },
    },
    global: true,
    examples: [
      ["$0 apply", "apply after a confirmation prompt"],
      ["$0 apply --yes --plan plan.json", "apply a saved plan without asking (CI)"],
      ["$0 apply --yes --replace CR0123456789abcdef0123456789abcdef", "replace a migrated credential whose fingerprint was never recorded"],
    ],
    run: async (a) => (await import("./cli/commands/apply.js")).applyCommand(a),
  },
  {
    command: "status",
    fleet: true,
    readsOnly: true,
    describe: "compare the ledger with live Comms state (exit 0 in sync, 2 drift)",
    options: {
      "expiring-within": str("exit 2 when a certificate cr2comms put into Comms expires within this many days"),
    },
    global: true,
    examples: [
      ["$0 status --json", "drift, machine-readable"],
      ["$0 status --expiring-within 30", "a cron reminder: exit 2 when a certificate expires within 30 days"],
    ],
    run: async (a) => (await import("./cli/commands/status.js")).statusCommand(a),
  },
  {
    command: "rollback",
    fleet: true,
    describe: "delete the Comms credentials this tool created (from the ledger)",
    options: {
      yes: bool("do not ask for confirmation (required without a terminal)"),
      report: str("only the credentials created by this apply report"),
      "allow-app-deletion": bool("allow deleting an App's last credential (deletes the App and its device registrations)"),
    },
    global: true,
    examples: [["$0 rollback --report reports/apply-20260101T000000Z.json", "undo one apply"]],
    run: async (a) => (await import("./cli/commands/rollback.js")).rollbackCommand(a),
  },
  {
    command: "ledger <action>",
    readsOnly: true,
    describe: "check the ledger, repair it (set unreadable lines aside) or rebuild it from the apply reports",
    options: { force: bool("rebuild even when a ledger exists") },
    positionals: { action: { describe: "what to do", choices: ["check", "repair", "rebuild"] } },
    global: true,
    examples: [["$0 ledger check", "verify every line of the ledger"]],
    run: async (a) => (await import("./cli/commands/ledger.js")).ledgerCommand(a),
  },
  {
    command: "demo",
    describe: "rehearse plan, apply and a rerun against the embedded emulator with the shipped fake secrets (no Twilio account)",
    options: { dir: str("where its reports and ledger go: an empty or new folder (default: a new temporary folder)") },
    global: false,
    examples: [["$0 demo", "a whole rehearsal; its reports go to a new temporary folder"]],
    run: async (a) => (await import("./cli/commands/demo.js")).demoCommand(a),
  },
  {
    command: "emulator",
    describe: "serve the embedded Twilio emulator on loopback until Ctrl-C",
    options: {
      port: { type: "number", default: 0, requiresArg: true, describe: "port (0 = any free port)" },
      seed: str("seed file (JSON); default: built-in sample data"),
      "latency-ms": { type: "number", requiresArg: true, describe: "added to every response" },
      "visibility-delay-ms": { type: "number", requiresArg: true, describe: "a created credential is invisible for this long after its 202" },
      "fault-rate": { type: "number", requiresArg: true, describe: "0..1: share of requests answered 429/503 or dropped" },
      "max-in-flight": { type: "number", requiresArg: true, describe: "answer 429 beyond this many requests in flight (per account)" },
      subaccounts: { type: "number", requiresArg: true, describe: "also serve this many subaccounts of the account, each with the sample legacy credentials and its own token, and the 2010 Accounts API" },
      "log-level": str("ignored (the emulator logs one line)"),
    },
    global: false,
    examples: [["$0 emulator --port 4010", "serve on a fixed port"]],
    run: async (a) => (await import("./cli/commands/emulator.js")).emulatorCommand(a),
  },
];

/** Names a command accepts, for "did you mean". */
function knownOptions(commandName: string | undefined): string[] {
  const def = COMMANDS.find((c) => c.command.split(" ")[0] === commandName);
  const own = def ? Object.keys(def.options) : [];
  const global = !def || def.global ? Object.keys(GLOBAL_OPTIONS) : [];
  if (!def || def.fleet) global.push(...Object.keys(FLEET_OPTIONS));
  return [...own, ...global, "help", "version", ...(own.includes("wait") ? ["no-wait"] : [])];
}

/** The closest known option, if it is close enough to be a typo. */
export function nearestOption(name: string, known: readonly string[]): string | undefined {
  let best: { name: string; d: number } | undefined;
  for (const k of known) {
    const d = editDistance(name, k);
    if (!best || d < best.d) best = { name: k, d };
  }
  return best && best.d <= Math.max(2, Math.floor(name.length / 3)) ? best.name : undefined;
}

/** yargs's validation messages, reworded to name the flag as the user types it. */
export function usageMessage(msg: string, argv: readonly string[]): string {
  if (/^Not enough non-option arguments/.test(msg)) {
    const def = COMMANDS.find((c) => c.command.split(" ")[0] === argv[0]);
    const [name, spec] = Object.entries(def?.positionals ?? {})[0] ?? [];
    if (def && name && spec) {
      const command = def.command.split(" ")[0]!;
      const choices = spec.choices.length > 1 ? `${spec.choices.slice(0, -1).join(", ")} or ${spec.choices.at(-1)}` : spec.choices.join("");
      return `${command} needs ${/^[aeiou]/.test(name) ? "an" : "a"} ${name}: ${choices} (e.g. \`cr2comms ${command} ${spec.choices[0]}\`; see \`cr2comms ${command} --help\`)`;
    }
  }
  const missing = /^Not enough arguments following: (.+)$/.exec(msg);
  if (missing) return `--${missing[1]} needs a value`;
  const command = /^Did you mean (.+)\?$/.exec(msg);
  if (command) return `unknown command "${argv.find((a) => !a.startsWith("-")) ?? ""}" (did you mean ${command[1]}?)`;
  const choice = /Argument: (\S+), Given: (.+), Choices: (.+)/.exec(msg);
  if (choice) return `${choice[1]} must be one of ${choice[3]!.replaceAll('"', "")}, not ${choice[2]}`;
  const unknown = /^Unknown arguments?: (.+)$/.exec(msg);
  if (unknown) {
    const commandName = argv.find((a) => !a.startsWith("-"));
    const known = knownOptions(commandName);
    const names = unknown[1]!.split(", ").filter((n) => !/[A-Z]/.test(n) || !unknown[1]!.includes(kebab(n)));
    return names
      .map((name) => {
        // yargs reports `--no-wiat` as "wiat" (a negated boolean)
        const n = argv.includes(`--no-${name}`) ? `no-${name}` : name;
        if (!argv.some((a) => a === `--${n}` || a.startsWith(`--${n}=`) || a === `-${n}`)) {
          return n === commandName && !COMMANDS.some((c) => c.command.split(" ")[0] === n) ? `unknown command "${n}" (see --help)` : `unexpected argument "${n}"`;
        }
        const near = nearestOption(n, known);
        return `unknown option ${n.length === 1 ? "-" : "--"}${n}${near ? ` (did you mean --${near}?)` : ""}`;
      })
      .join("; ");
  }
  return msg;
}

const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

let exitCode: number = EXIT.ok;

/** A command's positionals, options, groups and examples, as yargs builds them (for its run and its help). */
function builder(def: CommandDef): (cy: Argv) => Argv {
  const name = def.command.split(" ")[0]!;
  return (cy) => {
    let b = cy;
    for (const [p, spec] of Object.entries(def.positionals ?? {})) b = b.positional(p, { type: "string", ...spec });
    const own = Object.keys(def.options);
    b = b.options(def.options);
    if (own.length) b = b.group(own, def.global ? `Options for ${name}:` : "Options:");
    if (def.global) b = b.options(GLOBAL_OPTIONS).group([...Object.keys(GLOBAL_OPTIONS), "help", "version"], "Global options:");
    if (def.fleet) b = b.options(FLEET_OPTIONS).group(Object.keys(FLEET_OPTIONS), "Many accounts:");
    for (const [cmd, what] of def.examples) b = b.example(cmd, what);
    return b.epilogue(EXIT_CODES);
  };
}

function register(y: Argv, def: CommandDef): Argv {
  return y.command(def.command, def.describe, builder(def), async (argv) => {
    exitCode = await runCommand(def, argv as Args);
  });
}

/** Runs a parsed command; one that sends nothing to Twilio ends at once on a signal. */
async function runCommand(def: CommandDef, argv: Args): Promise<number> {
  if (def.fleet) {
    const { isFleetRun } = await import("./fleet/options.js");
    if (isFleetRun(argv)) {
      // Over many accounts the fleet handles signals: no new account starts, the roll-up is written.
      const { runFleet } = await import("./fleet/run.js");
      return runFleet(def.command as FleetCommand, argv, def.run);
    }
  }
  const quiet = def.readsOnly ? stopOnSignal() : undefined;
  try {
    return await def.run(argv);
  } finally {
    quiet?.();
  }
}

/** A signal during a command that sends nothing to Twilio: one plain line, exit 128 + n. Returns the un-install. */
function stopOnSignal(): () => void {
  const names = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
  const numbers = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 } as const;
  const handlers = names.map((name) => {
    const handler = () => {
      process.stderr.write(`cr2comms: interrupted (${name}); nothing was sent to Twilio\n`);
      process.exit(128 + numbers[name]);
    };
    process.on(name, handler);
    return [name, handler] as const;
  });
  return () => {
    for (const [name, handler] of handlers) process.off(name, handler);
  };
}

/**
 * `cr2comms --help`, `help`, `<command> --help` and `help <command>`, rendered from the same tables
 * yargs is given, without loading yargs (it alone costs more start-up than the rest of a `--help`).
 * Anything else — help in another spelling (`--help=true`), an unknown command — is left to yargs
 * (undefined).
 */
export function quickHelp(argv: readonly string[], width: number = helpWidth()): string | undefined {
  const isHelp = (a: string | undefined) => a === "--help" || a === "-h" || a === "help";
  if (argv.length === 1 && isHelp(argv[0])) return renderHelp(undefined, width);
  const find = (name: string | undefined) => COMMANDS.find((c) => c.command.split(" ")[0] === name);
  // `help <command>` is `<command> --help`.
  if (argv.length === 2 && argv[0] === "help") return find(argv[1]) ? renderHelp(find(argv[1]), width) : undefined;
  // `--help` or `-h` anywhere: the help of the command named first (with other arguments too).
  if (!argv.some((a) => a === "--help" || a === "-h")) return undefined;
  const first = argv.find((a) => !a.startsWith("-"));
  if (first === undefined) return renderHelp(undefined, width);
  return find(first) ? renderHelp(find(first), width) : undefined;
}

/** Rows of two columns, the second wrapped to `width` and aligned under its own start. */
function columns(rows: [string, string][], width: number, lead = "  "): string[] {
  const left = Math.max(...rows.map(([l]) => l.length));
  // Too wide a first column leaves the second no room: each row then takes two lines.
  if (lead.length + left + 2 > width * 0.45) return rows.map(([l, r]) => `${lead}${l}\n${wrapText(r, width, lead.length + 4, " ".repeat(lead.length + 4))}`);
  return rows.map(([l, r]) => wrapText(r, width, lead.length + left + 2, `${lead}${l.padEnd(left)}  `));
}

function optionRows(options: Record<string, Options>, width: number, extra: [string, string][] = []): string[] {
  const rows: [string, string][] = [
    ...Object.entries(options).map(([name, o]): [string, string] => {
      const type = o.array ? "array" : String(o.type ?? "string");
      return [`--${name}`, `${String(o.describe ?? "")}  [${type}]${o.default !== undefined ? ` [default: ${String(o.default)}]` : ""}`];
    }),
    ...extra,
  ];
  return columns(rows, width);
}

/** The help of one command, or with none the command list: what `--help`, `-h` and `help` print. */
export function renderHelp(def: CommandDef | undefined, width: number = helpWidth()): string {
  const builtins: [string, string][] = [
    ["--help", "Show help  [boolean]"],
    ["--version", "Show version number  [boolean]"],
  ];
  const examples = (list: [string, string][]) => columns(list.map(([cmd, what]): [string, string] => [cmd.replace("$0", "cr2comms"), what]), width);
  const exitCodes = wrapText(EXIT_CODES, width, 2);
  if (!def) {
    return [
      "cr2comms <command>",
      "",
      "Commands:",
      ...columns(COMMANDS.map((c): [string, string] => [`cr2comms ${c.command}`, c.describe]), width),
      "",
      "Options:",
      ...optionRows({}, width, builtins),
      "",
      "Examples:",
      ...examples(TOP_EXAMPLES),
      "",
      exitCodes,
      "",
    ].join("\n");
  }
  const name = def.command.split(" ")[0]!;
  const own = Object.keys(def.options).length ? [def.global ? `Options for ${name}:` : "Options:", ...optionRows(def.options, width, def.global ? [] : builtins), ""] : [];
  const global = def.global ? ["Global options:", ...optionRows(GLOBAL_OPTIONS, width, builtins), ""] : [];
  if (def.fleet) global.push("Many accounts:", ...optionRows(FLEET_OPTIONS, width), "");
  const positionals = columns(
    Object.entries(def.positionals ?? {}).map(([p, spec]): [string, string] => [p, `${spec.describe}  [choices: ${spec.choices.map((c) => `"${c}"`).join(", ")}]`]),
    width,
  );
  const args = positionals.length ? ["Positionals:", ...positionals, ""] : [];
  return [`cr2comms ${def.command}`, "", wrapText(def.describe, width), "", ...args, ...own, ...global, "Examples:", ...examples(def.examples), "", exitCodes, ""].join("\n");
}

const TOP_EXAMPLES: [string, string][] = [
  ["$0 demo", "rehearse plan and apply with sample data, no Twilio account needed"],
  ["$0 inventory --emulator", "list the sample account's credentials"],
  ["$0 <command> --help", "a command's own options"],
];

/**
 * An argument only the full parser answers as before: help or version in any spelling (`-h`,
 * `--help=true`, `--no-version`…), yargs' shell completion, or a literal `$0` (the per-command
 * parser's name for its command, which it would take as that). Generous on purpose: the full
 * parser is the reference, only slower.
 */
function needsFullParser(arg: string): boolean {
  return /help|version|completion|\$0/i.test(arg) || /^-[^-]*h/.test(arg);
}

/** A command's arguments, parsed strictly by a parser of that command alone (nothing is run). */
function parseCommand(yargs: typeof import("yargs").default, def: CommandDef, argv: string[], fail: (msg: string | null, err: Error | undefined) => never): Promise<Args> {
  return yargs(argv.slice(1))
    .scriptName(`cr2comms ${argv[0]}`)
    .version(false)
    .help(false)
    .strict()
    .fail(fail)
    .command(def.command.replace(/^\S+/, "$0"), def.describe, builder(def))
    .parseAsync() as Promise<Args>;
}

/**
 * The usage error a command line would get from the parser, or undefined when it parses; nothing
 * is run. The docs' test checks every command the README shows with it.
 */
export async function usageErrorOf(argv: string[]): Promise<string | undefined> {
  const def = COMMANDS.find((c) => c.command.split(" ")[0] === argv[0]);
  if (!def) return `unknown command "${argv[0] ?? ""}"`;
  const { default: yargs } = await import("yargs");
  try {
    await parseCommand(yargs, def, argv, (msg, err) => {
      throw new UsageError(usageMessage(msg ?? err?.message ?? "", argv));
    });
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

export async function main(argv: string[]): Promise<number> {
  let debug = argv.includes("debug");
  exitCode = EXIT.ok;
  try {
    // `help <command>` with a command that exists is answered by quickHelp.
    if (argv[0] === "help") {
      const names = COMMANDS.map((c) => c.command.split(" ")[0]).join(", ");
      throw new UsageError(`help takes one command name (${names}), not ${JSON.stringify(escapeControl(argv.slice(1).join(" ")))}`);
    }
    const { default: yargs } = await import("yargs");
    const fail = (msg: string | null, err: Error | undefined): never => {
      // yargs's own validation errors (YError) are usage errors; anything else is a real failure.
      if (err && err.name !== "YError") throw err;
      throw new UsageError(usageMessage(msg ?? err?.message ?? "", argv));
    };
    // A command run as such (no help or version asked for) is parsed by a parser of that command
    // alone, as its default command: yargs lays out a named command's whole help before running it
    // (kept for a failure that may follow), about 0.03 s of every run, and our failures never show it.
    const def = COMMANDS.find((c) => c.command.split(" ")[0] === argv[0]);
    if (def && !argv.some(needsFullParser)) {
      const parsed = await parseCommand(yargs, def, argv, fail);
      return await runCommand(def, { ...parsed, _: [argv[0]!, ...(parsed._ as unknown[])] } as Args);
    }
    let y = yargs(argv)
      .scriptName("cr2comms")
      .version(TOOL_VERSION)
      .strict()
      .recommendCommands()
      .demandCommand(1, "name a command (see --help)")
      .fail(fail);
    for (const d of COMMANDS) y = register(y, d);
    for (const [cmd, what] of TOP_EXAMPLES) y = y.example(cmd, what);
    await y.epilogue(EXIT_CODES).help().wrap(helpWidth()).parseAsync();
    return exitCode;
  } catch (err) {
    debug ||= process.env.LOG_LEVEL === "debug";
    // The run's own last word on a failure stands out on a terminal, as an ERROR log line does.
    const red = colorEnabled(process.env, process.stderr.isTTY) ? paint.red : (s: string) => s;
    if (err instanceof Cr2commsError) {
      if (err.message) process.stderr.write(`${red(`cr2comms: ${err.message}`)}\n`);
      if (debug && err.cause) process.stderr.write(`${String((err.cause as Error).stack ?? err.cause)}\n`);
      return err.exitCode;
    }
    process.stderr.write(`${red(`cr2comms: unexpected error: ${(err as Error).message ?? String(err)}`)}\n`);
    if (debug) process.stderr.write(`${(err as Error).stack}\n`);
    return EXIT.failure;
  }
}

/** Run as the program (`node dist/cli.js`, the installed bin's link to it), not imported by a test. */
function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  // `node dist/cli` names the file without its extension.
  for (const path of [script, `${script}.js`]) {
    try {
      if (pathToFileURL(realpathSync(path)).href === import.meta.url) return true;
    } catch {
      // not this spelling
    }
  }
  return false;
}

if (isEntryPoint()) await runAsProgram();

async function runAsProgram(): Promise<void> {
  ignoreClosedStdout(process.stdout);
  const args = process.argv.slice(2);
  // The one answer that needs no parser: half of start-up is loading yargs (its help layout).
  const fast = args.length === 1 && args[0] === "--version" ? `${TOOL_VERSION}\n` : quickHelp(args);
  // Bare `cr2comms` is a usage error that shows what there is to run.
  const code =
    args.length === 0 ? (process.stderr.write(renderHelp(undefined)), EXIT.usage) : fast !== undefined ? (process.stdout.write(fast), EXIT.ok) : await main(args);
  // Exit once stdout/stderr are flushed (a large --json result into a pipe is written
  // asynchronously): idle keep-alive sockets or a stray timer must not hold a finished command open.
  const flushed = (stream: NodeJS.WriteStream) => new Promise<void>((resolve) => stream.write("", () => resolve()));
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  process.exit(code);
}
