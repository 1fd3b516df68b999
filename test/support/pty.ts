import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Runs a command on a pseudo-terminal of the given size (python3's `pty`, present wherever the
 * suite runs) and returns every byte it wrote there, with its exit status. `send` answers: when
 * the output so far contains `after`, `keys` are typed (once each, in order). The run is bounded.
 */
export interface PtyRun {
  output: string;
  code: number | null;
  signal: number | null;
}

const DRIVER = String.raw`
import fcntl, json, os, pty, select, signal, struct, sys, termios, time
cfg = json.loads(os.environ["PTY_CFG"])
pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", cfg["rows"], cfg["columns"], 0, 0))
    if cfg["cwd"]:
        os.chdir(cfg["cwd"])
    os.execve(cfg["argv"][0], cfg["argv"], cfg["env"])
out = b""
sends = list(cfg["send"])
deadline = time.time() + cfg["timeoutSeconds"]
timed_out = False
while True:
    if time.time() > deadline:
        timed_out = True
        os.kill(pid, signal.SIGKILL)
        break
    r, _, _ = select.select([fd], [], [], 0.2)
    if fd in r:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    while sends and sends[0][0].encode() in out:
        os.write(fd, sends.pop(0)[1].encode())
_, status = os.waitpid(pid, 0)
open(cfg["out"], "wb").write(out)
print(json.dumps({
    "code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
    "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
    "timedOut": timed_out,
}))
`;

export function runOnPty(
  argv: string[],
  opts: { columns?: number; rows?: number; cwd?: string; env?: Record<string, string>; send?: [after: string, keys: string][]; timeoutSeconds?: number } = {},
): PtyRun {
  const out = join(mkdtempSync(join(tmpdir(), "cr2comms-pty-")), "screen.bin");
  const cfg = {
    argv,
    columns: opts.columns ?? 80,
    rows: opts.rows ?? 30,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", TERM: "xterm-256color", ...opts.env },
    cwd: opts.cwd ?? null,
    send: opts.send ?? [],
    timeoutSeconds: opts.timeoutSeconds ?? 60,
    out,
  };
  const run = spawnSync("python3", ["-c", DRIVER], { encoding: "utf8", env: { ...process.env, PTY_CFG: JSON.stringify(cfg) } });
  if (run.status !== 0) throw new Error(`pty driver failed: ${run.stderr}`);
  const result = JSON.parse(run.stdout) as { code: number | null; signal: number | null; timedOut: boolean };
  if (result.timedOut) throw new Error(`timed out on the pty; output so far:\n${readFileSync(out, "utf8")}`);
  return { output: readFileSync(out, "utf8"), code: result.code, signal: result.signal };
}

/** The text without ANSI escapes (colours, cursor moves). */
export function stripAnsi(text: string): string {
  return text.replace(/\x1b\[[?]?[0-9;]*[@-~]|\x1b[78]|\x1b\][^\x07]*\x07/g, "");
}
