// prepack: the package is built in place (the working dist/, with the demo and bench, stays whole);
// only compiled files whose source is gone are removed, so that none of them ships.
import { existsSync, readdirSync, rmSync } from "node:fs";
import { join, relative } from "node:path";

const root = join(import.meta.dirname, "..");
const walk = (dir) => {
  for (const d of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, d.name);
    if (d.isDirectory()) walk(path);
    else {
      const base = relative(join(root, "dist"), path).replace(/(\.d)?\.(js|ts)(\.map)?$/, "");
      if (base !== relative(join(root, "dist"), path) && !existsSync(join(root, "src", `${base}.ts`))) rmSync(path);
    }
  }
};
if (existsSync(join(root, "dist"))) walk(join(root, "dist"));
