/** Sleeps `ms` with `sleep`, or less: an abort ends the sleep at once (and one already aborted skips it). */
export async function sleepUnlessAborted(sleep: (ms: number) => Promise<void>, ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return;
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<void>((resolve) => {
    onAbort = () => resolve();
    signal.addEventListener("abort", onAbort, { once: true });
  });
  await Promise.race([sleep(ms), aborted]);
  if (onAbort) signal.removeEventListener("abort", onAbort);
}
