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
const WRAP_ON = "\x1b[?7h";
const WRAP_OFF = "\x1b[?7l";

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
    // cli-progress turns the terminal's autowrap off while the bar is drawn (so that a bar never
    // spills onto a second line); a log line longer than the terminal would then be cut, its last
    // column overwritten. Autowrap is on for the line itself and off again for the bar.
    stream.write(ERASE_LINE + WRAP_ON);
    write(text.endsWith("\n") ? text : text + "\n");
    stream.write(WRAP_OFF);
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
