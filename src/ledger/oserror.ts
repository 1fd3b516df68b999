import { getSystemErrorMap } from "node:util";

/** `EACCES (permission denied)`: the OS code and what it means, for one-line messages. */
export function describeOsError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const described = typeof e?.errno === "number" ? getSystemErrorMap().get(e.errno)?.[1] : undefined;
  if (e?.code && described) return `${e.code} (${described})`;
  return e?.code ?? (e instanceof Error ? e.message : String(err));
}

export function osCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException)?.code;
}
