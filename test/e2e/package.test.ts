import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT } from "./harness.js";

// Packs a copy of the sources (as a fresh clone would have them: no dist/), installs the tarball
// into an empty project from the registry, and runs the installed binary. Slow by nature.
const work = mkdtempSync(join(tmpdir(), "cr2comms-pack-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const npm = (args: string[], cwd: string) =>
  execFileSync("npm", args, { cwd, encoding: "utf8", env: { ...process.env, npm_config_update_notifier: "false" }, stdio: ["ignore", "pipe", "pipe"] });

describe("the npm package", () => {
  it("packs the built CLI (no sources, maps, bench or demo script) without touching the working dist/, and runs once installed, a rehearsal included", { timeout: 600_000 }, () => {
    const clone = join(work, "clone");
    for (const f of ["src", "scripts", "mappings", "package.json", "package-lock.json", "tsconfig.json", "tsconfig.build.json", "LICENSE", "README.md"]) {
      cpSync(join(ROOT, f), join(clone, f), { recursive: true });
    }
    // The build needs the dev dependencies (tsc); the installed package must not.
    symlinkSync(join(ROOT, "node_modules"), join(clone, "node_modules"), "dir");
    expect(existsSync(join(clone, "dist"))).toBe(false);
    // A checkout that has run the demo before: packing must leave its dist/ whole, and a compiled
    // file whose source is gone must not ship.
    mkdirSync(join(clone, "dist", "bench"), { recursive: true });
    writeFileSync(join(clone, "dist", "bench", "local.txt"), "kept");
    writeFileSync(join(clone, "dist", "gone.js"), "// its source was deleted\n");

    const packed = JSON.parse(npm(["pack", "--json", "--pack-destination", work], clone)) as { filename: string; files: { path: string }[] }[];
    const files = packed[0]!.files.map((f) => f.path);
    expect(files).toContain("dist/cli.js");
    expect(files).toContain("dist/emulator/server.js");
    expect(files).toContain("LICENSE");
    expect(files).toContain("mappings/demo.yaml");
    expect(files).toContain("mappings/examples/secrets/limonade-ios-dev.p12");
    expect(files.filter((f) => f.endsWith(".map") || f.startsWith("src/") || f.startsWith("dist/bench/") || f === "dist/demo.js" || f === "dist/gone.js")).toEqual([]);
    for (const kept of ["dist/demo.js", "dist/bench/bench.js", "dist/bench/local.txt", "dist/cli.js.map"]) expect(existsSync(join(clone, kept)), kept).toBe(true);

    const app = join(work, "app");
    mkdirSync(app);
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "try-cr2comms", version: "1.0.0", private: true }));
    npm(["install", "--no-audit", "--no-fund", "--loglevel=error", join(work, packed[0]!.filename)], app);
    expect(readdirSync(join(app, "node_modules", ".bin"))).toContain("cr2comms");

    const bin = join(app, "node_modules", ".bin", "cr2comms");
    const version = execFileSync(bin, ["--version"], { cwd: app, encoding: "utf8" });
    expect(version.trim()).toBe(JSON.parse(npm(["pkg", "get", "version"], ROOT)) as string);
    // The whole rehearsal from the package alone, twice, and never into the folder's ./reports.
    for (let run = 1; run <= 2; run++) {
      const demo = execFileSync(bin, ["demo"], { cwd: app, encoding: "utf8", env: { ...process.env, TMPDIR: app }, stdio: ["ignore", "pipe", "pipe"] });
      expect(demo.match(/, as expected\)/g), demo).toHaveLength(3);
    }
    expect(existsSync(join(app, "reports"))).toBe(false);
    const inventory = execFileSync(bin, ["inventory", "--emulator", "--json"], { cwd: app, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    expect(JSON.parse(inventory).legacy).toHaveLength(6);
  });
});
