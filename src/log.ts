import { pino, type DestinationStream, type Logger } from "pino";
import { colorEnabled, paint } from "./cli/color.js";
import { escapeControl } from "./text.js";

export type { Logger };

/**
 * Paths pino censors wherever they appear in a log object. Secrets should never be handed to
 * the logger at all; this is the second line of defence.
 */
export const REDACT_PATHS = [
  "authToken",
  "apiSecret",
  "password",
  "passphrase",
  "certificate",
  "privateKey",
  "certificatePem",
  "privateKeyPem",
  "serviceAccountJson",
  "content",
  "secret",
  "*.authToken",
  "*.apiSecret",
  "*.passphrase",
  "*.certificate",
  "*.privateKey",
  "*.certificatePem",
  "*.privateKeyPem",
  "*.serviceAccountJson",
  "*.content",
  "headers.authorization",
  "*.headers.authorization",
];

export type LogFormat = "pretty" | "json";

/** Something that writes text; a stream, or fd 2 when omitted. */
export type LogSink = { write(text: string): unknown } | number;

/**
 * While a progress bar owns the last terminal line, it sets this so that a log line is written
 * above the bar instead of on top of it (see cli/progress.ts).
 */
export type TerminalWriter = (text: string, write: (text: string) => void) => void;
let terminalWriter: TerminalWriter | undefined;
export function setTerminalWriter(writer: TerminalWriter | undefined): void {
  terminalWriter = writer;
}

export interface LoggerOptions {
  /**
   * `pretty`: one readable line per entry (for a terminal); `json`: pino's JSON lines. Default:
   * pretty when writing to fd 2 and stderr is a TTY, else json (pass Settings.logFormat).
   */
  format?: LogFormat;
  /** Where lines go; default fd 2 (stderr), written synchronously. */
  destination?: LogSink;
  /**
   * Colour WARN and ERROR/FATAL lines (pretty format only). Default: for fd 2, as `colorEnabled`
   * decides from NO_COLOR, FORCE_COLOR and whether stderr is a terminal; never for another sink.
   */
  color?: boolean;
}

/**
 * Logs to stderr (fd 2), never stdout: stdout carries results (`--json`). Redaction happens in
 * pino before either format sees the entry; the pretty format only re-renders pino's JSON line.
 * The second argument may still be a bare destination (older callers).
 */
export function createLogger(level = "info", options: LoggerOptions | LogSink = {}): Logger {
  const opts: LoggerOptions = isSink(options) ? { destination: options } : options;
  const given = opts.destination ?? 2;
  // sonic-boom in sync mode retries EAGAIN on a non-blocking pipe, which a bare writeSync would not.
  const sink = typeof given === "number" ? pino.destination({ fd: given, sync: true }) : given;
  const write = (text: string) => void sink.write(text);
  const out = (text: string) => (terminalWriter ? terminalWriter(text, write) : write(text));
  // Unless told, stderr gets the readable form when a person is watching it; any other sink gets JSON.
  const format = opts.format ?? (given === 2 && process.stderr.isTTY ? "pretty" : "json");
  const color = opts.color ?? (given === 2 && colorEnabled(process.env, process.stderr.isTTY));
  const stream: DestinationStream = { write: (line: string) => out(format === "pretty" ? prettyLine(line, color) : line) };
  return pino({ name: "cr2comms", level, redact: { paths: REDACT_PATHS, censor: "[redacted]" }, base: undefined }, stream);
}

function isSink(v: LoggerOptions | LogSink): v is LogSink {
  return typeof v === "number" || typeof (v as { write?: unknown }).write === "function";
}

const LEVEL_NAMES: Readonly<Record<number, string>> = { 10: "TRACE", 20: "DEBUG", 30: "INFO", 40: "WARN", 50: "ERROR", 60: "FATAL" };

/**
 * One pino JSON line as `12:34:56 WARN  message key=value …`. Values are escaped with
 * escapeControl: a server's text must not move the cursor or fake a second line. With `color`,
 * a WARN's level and message are yellow, an ERROR's or FATAL's red.
 */
export function prettyLine(jsonLine: string, color = false): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(jsonLine) as Record<string, unknown>;
  } catch {
    return jsonLine.endsWith("\n") ? jsonLine : jsonLine + "\n";
  }
  const { level, time, msg, name: _name, ...rest } = entry;
  const at = typeof time === "number" ? new Date(time).toISOString().slice(11, 19) : "";
  const label = (LEVEL_NAMES[level as number] ?? String(level)).padEnd(5);
  const fields = Object.entries(rest).map(([k, v]) => `${k}=${escapeControl(typeof v === "string" ? v : JSON.stringify(v))}`);
  const text = escapeControl(String(msg ?? ""));
  // Escapes are added after escapeControl: only the level's own colour reaches the terminal.
  const tint = !color || typeof level !== "number" || level < 40 ? undefined : level >= 50 ? paint.red : paint.yellow;
  const head = tint ? [tint(paint.bold(label)), tint(text)] : [label, text];
  return [at, ...head, ...fields].filter(Boolean).join(" ") + "\n";
}

/** A logger that discards everything (tests, library use). */
export const silentLogger: Logger = pino({ level: "silent" });
