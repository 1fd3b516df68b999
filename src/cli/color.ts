/**
 * Whether to colour what goes to a stream, as the ecosystem decides it: `FORCE_COLOR` first
 * (`0`/`false` never, `1`-`3`/`true`/empty always, even into a pipe), then `NO_COLOR` (any
 * non-empty value: never), then whether the stream is a terminal (and not `TERM=dumb`).
 */
export function colorEnabled(env: Record<string, string | undefined>, isTTY: boolean | undefined): boolean {
  const force = env.FORCE_COLOR;
  if (force !== undefined) {
    if (force === "0" || force === "false") return false;
    if (force === "" || force === "true" || /^[1-3]$/.test(force)) return true;
  }
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  return Boolean(isTTY) && env.TERM !== "dumb";
}

export const paint = {
  yellow: (s: string) => `\x1b[33m${s}\x1b[39m`,
  red: (s: string) => `\x1b[31m${s}\x1b[39m`,
  bold: (s: string) => `\x1b[1m${s}\x1b[22m`,
};
