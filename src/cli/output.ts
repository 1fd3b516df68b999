/** stdout carries results (tables or `--json`); logs go to stderr through pino. */
export function print(text: string): void {
  process.stdout.write(text.endsWith("\n") ? text : text + "\n");
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + "\n");
}

/** "3 create, 1 drop" in a stable order. */
export function formatCounts(counts: Record<string, number>, order: readonly string[] = []): string {
  const keys = [...order.filter((k) => counts[k]), ...Object.keys(counts).filter((k) => !order.includes(k)).sort()];
  return keys.map((k) => `${counts[k]} ${k}`).join(", ") || "nothing";
}
