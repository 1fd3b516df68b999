import { pino, type Logger } from "pino";

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

/** Structured logs to stderr (fd 2), never stdout: stdout carries results (`--json`). */
export function createLogger(level = "info", destination: NodeJS.WritableStream | number = 2): Logger {
  return pino(
    {
      name: "cr2comms",
      level,
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      base: undefined,
    },
    typeof destination === "number" ? pino.destination({ fd: destination, sync: true }) : destination,
  );
}

/** A logger that discards everything (tests, library use). */
export const silentLogger: Logger = pino({ level: "silent" });
