import { constants } from "node:os";
import { InterruptedError } from "../errors.js";
import { currentAccountRun } from "./account-run.js";

/** The signals a run that writes to Comms finishes cleanly on: Ctrl-C, `kill`, a closed terminal. */
const HANDLED = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
export type StopSignal = (typeof HANDLED)[number];

/** 128 + the signal's number, as shells report it: 130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP. */
export function exitCodeFor(signal: StopSignal): number {
  return 128 + constants.signals[signal];
}

export interface StopWatch {
  /** Aborted at the first signal. */
  readonly signal: AbortSignal;
  /** The first signal received, if any. */
  readonly received: StopSignal | undefined;
  /** Resolves with the first signal (never rejects); for racing a phase that can simply be abandoned. */
  readonly stopped: Promise<StopSignal>;
  dispose(): void;
}

/**
 * Watches SIGINT, SIGTERM and SIGHUP for a run: the first one aborts `signal` (work in flight is
 * finished and journalled, nothing new starts) and calls `onFirst`; a second one exits at once.
 */
export function watchStopSignals(onFirst: (signal: StopSignal) => void): StopWatch {
  // One account of a fleet stops on the fleet's signal; the fleet owns the handlers.
  const fleet = currentAccountRun()?.stop;
  if (fleet) return accountStopWatch(fleet, onFirst);
  const controller = new AbortController();
  let received: StopSignal | undefined;
  let resolveStopped: (s: StopSignal) => void = () => undefined;
  const stopped = new Promise<StopSignal>((resolve) => (resolveStopped = resolve));
  const handlers = HANDLED.map((name) => {
    const handler = () => {
      if (received) process.exit(exitCodeFor(name));
      received = name;
      controller.abort();
      onFirst(name);
      resolveStopped(name);
    };
    process.on(name, handler);
    return [name, handler] as const;
  });
  return {
    signal: controller.signal,
    get received() {
      return received;
    },
    stopped,
    dispose() {
      for (const [name, handler] of handlers) process.off(name, handler);
    },
  };
}

/** Runs a prompt; a signal that closes it ends the run with that signal's exit code. */
export async function atPrompt<T>(ask: () => Promise<T>, watch: StopWatch): Promise<T> {
  try {
    return await ask();
  } catch (err) {
    if (err instanceof InterruptedError && watch.received) {
      throw new InterruptedError(`interrupted (${watch.received}) at the confirmation prompt; nothing was written to Comms`, exitCodeFor(watch.received));
    }
    throw err;
  }
}

/**
 * One account's view of the fleet's stop watch: its own signal, linked to the fleet's until
 * `dispose` unlinks it, so that a finished account leaves nothing listening on the fleet's signal
 * (hundreds of accounts must not stay reachable from it).
 */
export function accountStopWatch(fleet: StopWatch, onFirst: (signal: StopSignal) => void = () => undefined): StopWatch {
  const controller = new AbortController();
  let resolveStopped: (s: StopSignal) => void = () => undefined;
  const stopped = new Promise<StopSignal>((resolve) => (resolveStopped = resolve));
  const onAbort = () => {
    const received = fleet.received ?? "SIGINT";
    controller.abort();
    onFirst(received);
    resolveStopped(received);
  };
  if (fleet.signal.aborted) onAbort();
  else fleet.signal.addEventListener("abort", onAbort, { once: true });
  return {
    signal: controller.signal,
    get received() {
      return controller.signal.aborted ? fleet.received : undefined;
    },
    stopped,
    dispose: () => fleet.signal.removeEventListener("abort", onAbort),
  };
}
