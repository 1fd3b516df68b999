import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { runCli } from "./harness.js";

// A module-resolution hook that records every module the CLI's ESM graph asks for. Measures what
// start-up loads; it does not time anything.
const dir = mkdtempSync(join(tmpdir(), "cr2comms-startup-"));
const hooks = join(dir, "hooks.mjs");
writeFileSync(
  hooks,
  `import { appendFileSync } from "node:fs";
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(process.env.CR2COMMS_TEST_MODULE_LOG, result.url + "\\n");
  return result;
}
`,
);
const register = join(dir, "register.mjs");
writeFileSync(register, `import { register } from "node:module";\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`);

const HEAVY = /node_modules\/(twilio|undici|zod|node-forge|@inquirer|cli-progress|pino|pino-pretty)\/|dist\/cli\/commands\//;

async function loaded(args: string[]): Promise<string[]> {
  const log = join(dir, `modules-${args.join("_").replace(/\W/g, "")}.log`);
  writeFileSync(log, "");
  const run = await runCli(args, { env: { NODE_OPTIONS: `--import ${pathToFileURL(register).href}`, CR2COMMS_TEST_MODULE_LOG: log } });
  expect(run.code).toBe(0);
  return readFileSync(log, "utf8").trim().split("\n");
}

describe("start-up loads only what the command needs", () => {
  it("--version, --help and a command's --help load no command module and no heavy library", async () => {
    for (const args of [["--version"], ["--help"], ["apply", "--help"]]) {
      const modules = await loaded(args);
      // --version and a plain --help (top-level or of one command) are answered without yargs.
      expect(modules.some((m) => m.includes("node_modules/yargs/"))).toBe(false);
      expect(modules.filter((m) => HEAVY.test(m))).toEqual([]);
    }
  });

  it("a command that runs loads its module (so the hook does see them)", async () => {
    const modules = await loaded(["inventory", "--emulator", "--json", "--reports-dir", join(dir, "reports")]);
    expect(modules.some((m) => m.endsWith("dist/cli/commands/inventory.js"))).toBe(true);
    expect(modules.some((m) => m.includes("node_modules/pino/"))).toBe(true);
  });
});
