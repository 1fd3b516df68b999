import cliProgress from "cli-progress";
import { setTerminalWriter } from "../log.js";

export interface Progress {
  increment(): void;
  /** Writes a line above the bar (the bar is cleared, the line written, the bar redrawn). */
  log(line: string): void;
  stop(): void;
}

export interface ProgressOptions {
  /** Draw a bar at all; callers pass "stderr is a TTY and not --json". */
  enabled: boolean;
  /** Shown before the bar, e.g. "applying". */
  label?: string;
  /** Default process.stderr. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
}

/** The parts of cli-progress's bar this module drives that its typings leave out. */
interface BarInternals {
  lastDrawnString: string | null;
  terminal: { cursorSave(): void };
}

const ERASE_LINE = "\r\x1b[2K";

/**
 * A progress bar on the terminal (cli-progress) that log lines do not tear: while it is active
 * the logger's terminal output goes through `log`. Disabled, or with nothing to count, every
 * method is a no-op except `log`, which writes the line as it is.
 */
export function startProgress(total: number, options: ProgressOptions): Progress {
  const stream = options.stream ?? process.stderr;
  const plain = (line: string) => void stream.write(line.endsWith("\n") ? line : line + "\n");
  if (!options.enabled || total === 0) return { increment() {}, log: plain, stop() {} };

  const bar = new cliProgress.SingleBar(
    { stream, format: `${options.label ?? "progress"} [{bar}] {value}/{total}`, hideCursor: true, gracefulExit: false },
    cliProgress.Presets.shades_classic,
  );
  const internals = bar as unknown as BarInternals;
  let active = true;
  const above = (text: string, write: (text: string) => void) => {
    if (!active) return write(text);
    stream.write(ERASE_LINE);
    write(text.endsWith("\n") ? text : text + "\n");
    // cli-progress restores the cursor it saved at start() when it stops; save it again at the
    // bar's new line, or stop() would jump back up over the lines just written.
    internals.terminal.cursorSave();
    internals.lastDrawnString = null;
    bar.render();
  };
  setTerminalWriter(above);
  bar.start(total, 0);
  return {
    increment: () => bar.increment(),
    log: (line) => above(line, plain),
    stop() {
      if (!active) return;
      active = false;
      setTerminalWriter(undefined);
      bar.stop();
    },
  };
}
