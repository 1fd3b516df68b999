/**
 * Review (group commit, G2): a second Ctrl-C exits at once; an event whose append was already called
 * but waits behind another group's fsync is still written. Runs the built ledger and signal watcher
 * in a child process (dist/, which the global setup keeps current), so it lives with the e2e tests.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseLedger } from "../../src/ledger/ledger.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const sid = (n: number) => `CR${String(n).padStart(32, "0")}`;
const onDisk = (path: string) => parseLedger(readFileSync(path, "utf8"), path).map((e) => e.legacySid);

describe("ledger group commit at exit", () => {
  it("the second Ctrl-C (process.exit) keeps every event whose append was already called, as the synchronous append did", () => {
    const dir = mkdtempSync(join(tmpdir(), "rev-group-exit-"));
    const path = join(dir, "ledger.jsonl");
    const script = join(dir, "run.mjs");
    writeFileSync(
      script,
      `
import { fsync, writeSync } from "node:fs";
import { FileLedger } from ${JSON.stringify(join(ROOT, "dist/ledger/ledger.js"))};
import { watchStopSignals } from ${JSON.stringify(join(ROOT, "dist/cli/signals.js"))};
const slowFsync = (fd) => new Promise((resolve, reject) => setTimeout(() => fsync(fd, (e) => (e ? reject(e) : resolve())), 2000));
const ledger = new FileLedger(${JSON.stringify(path)}, () => new Date(), undefined, { io: { write: (fd, b, o, l) => writeSync(fd, b, o, l), fsync: slowFsync } });
watchStopSignals(() => {});
const ev = (n) => ({ event: "confirmed", legacySid: "CR" + String(n).padStart(32, "0"), commsCredentialId: "comms_credential_" + n });
void ledger.append(ev(1));      // its fsync takes a while
void ledger.append(ev(2));      // e.g. a create's "accepted", appended while that fsync is under way
setTimeout(() => { process.kill(process.pid, "SIGINT"); setTimeout(() => process.kill(process.pid, "SIGINT"), 20); }, 50);
setTimeout(() => {}, 10000);
`,
    );
    const run = spawnSync(process.execPath, [script], { encoding: "utf8", timeout: 20_000 });
    expect(run.status).toBe(130);
    expect(onDisk(path)).toEqual([sid(1), sid(2)]);
  });
});
