import { InterruptedError } from "../errors.js";
import { currentAccountRun } from "./account-run.js";

export interface PromptStreams {
  input?: NodeJS.ReadableStream;
  /** Default process.stderr: stdout carries results. */
  output?: NodeJS.WritableStream;
  /** SIGTERM / SIGHUP while waiting for an answer: the prompt is closed and the run stops. */
  signal?: AbortSignal;
}

/** Prompt only when a person can answer: stdin and stderr are both terminals. */
export function isInteractive(stdin: { isTTY?: boolean } = process.stdin, stderr: { isTTY?: boolean } = process.stderr): boolean {
  // An account of a fleet never asks: many run at once.
  if (currentAccountRun()) return false;
  return Boolean(stdin.isTTY) && Boolean(stderr.isTTY);
}

/**
 * A yes/no question (default no). Ctrl-C at the prompt is an InterruptedError (exit 130) with a
 * plain sentence, not inquirer's "User force closed the prompt".
 */
export async function confirmOrInterrupt(message: string, streams: PromptStreams = {}): Promise<boolean> {
  // Loaded here: inquirer is only needed by the commands that ask.
  const { default: confirm } = await import("@inquirer/confirm");
  try {
    return await confirm(
      { message, default: false },
      { output: streams.output ?? process.stderr, ...(streams.input ? { input: streams.input } : {}), ...(streams.signal ? { signal: streams.signal } : {}) },
    );
  } catch (err) {
    if (streams.signal?.aborted) throw new InterruptedError("stopped by a signal at the confirmation prompt; nothing was written");
    // Matched by name: @inquirer/core, which defines the class, is not a direct dependency.
    if ((err as Error | undefined)?.name === "ExitPromptError") {
      throw new InterruptedError("interrupted at the confirmation prompt; nothing was written");
    }
    throw err;
  }
}
