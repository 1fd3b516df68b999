/**
 * `npm run demo`: `cr2comms demo` with its reports kept in the checkout's `reports/demo/`, a
 * folder that belongs to the demo alone and is emptied first, so the rehearsal reruns forever.
 */
import { rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { demoCommand } from "./cli/commands/demo.js";

const reportsDir = join(dirname(fileURLToPath(import.meta.url)), "..", "reports", "demo");
rmSync(reportsDir, { recursive: true, force: true });
process.exit(demoCommand({ dir: reportsDir }));
