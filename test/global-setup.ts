import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

/** Every `src` file whose compiled `dist` twin is missing or older than it (and so any tsconfig change). */
export function staleOutputs(root: string = ROOT): string[] {
  const config = statSync(join(root, "tsconfig.json")).mtimeMs;
  const stale: string[] = [];
  const walk = (dir: string): void => {
    for (const d of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, d.name);
      if (d.isDirectory()) walk(path);
      else if (d.name.endsWith(".ts") && !d.name.endsWith(".d.ts")) {
        const out = join(root, "dist", relative(join(root, "src"), path)).replace(/\.ts$/, ".js");
        const built = existsSync(out) ? statSync(out).mtimeMs : -1;
        if (built < Math.max(statSync(path).mtimeMs, config)) stale.push(relative(root, path));
      }
    }
  };
  walk(join(root, "src"));
  return stale;
}

/**
 * The e2e tests run `dist/cli.js`. A missing or stale build would make them fail on a fresh clone,
 * or (worse) pass against old code after a `src` edit, so compile first when anything is out of date.
 */
export default function setup(): void {
  const stale = staleOutputs();
  if (stale.length === 0) return;
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  let typeErrors = "";
  try {
    execFileSync(process.execPath, [tsc, "-p", join(ROOT, "tsconfig.json")], { cwd: ROOT, stdio: "pipe" });
  } catch (err) {
    // tsc still emits on type errors; only a build that left dist/ stale stops the run.
    typeErrors = (err as { stdout?: Buffer }).stdout?.toString() ?? String(err);
  }
  const still = staleOutputs();
  if (still.length > 0) throw new Error(`dist/ is still stale after tsc (${still.slice(0, 5).join(", ")}):\n${typeErrors}`);
  if (typeErrors) process.stderr.write(`global setup: dist/ rebuilt, but tsc reports type errors (npm test fails on them):\n${typeErrors}\n`);
}
