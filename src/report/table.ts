/**
 * A plain, aligned text table for the terminal (no colours): a header row, a rule of dashes, then
 * the rows; columns separated by two spaces. Newlines and tabs inside cells become spaces.
 */
export function renderTable(headers: string[], rows: string[][]): string {
  const clean = (cell: string | undefined): string => (cell ?? "").replace(/[\r\n\t]+/g, " ");
  const columns = Math.max(headers.length, ...rows.map((r) => r.length));
  const grid = [headers, ...rows].map((row) => Array.from({ length: columns }, (_, c) => clean(row[c])));
  const widths = Array.from({ length: columns }, (_, c) => Math.max(...grid.map((row) => row[c]!.length)));
  const line = (row: string[]): string => row.map((cell, c) => cell.padEnd(widths[c]!)).join("  ").trimEnd();
  const [head, ...body] = grid;
  return [line(head!), widths.map((w) => "-".repeat(Math.max(w, 1))).join("  "), ...body.map(line)].join("\n");
}
