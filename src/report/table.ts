import { escapeControl } from "../text.js";

/**
 * A plain, aligned text table for the terminal (no colours): a header row, a rule of dashes, then
 * the rows; columns separated by two spaces. Cells are escaped with `escapeControl` (a newline
 * shows as `\n`), so a value from outside cannot break a row, move the cursor or reorder text.
 * Built with loops only: no spread of the rows into call arguments, so any number of rows renders.
 */
export function renderTable(headers: string[], rows: string[][]): string {
  let columns = headers.length;
  for (const r of rows) if (r.length > columns) columns = r.length;
  const clean = (row: string[]): string[] => Array.from({ length: columns }, (_, c) => escapeControl(row[c] ?? ""));
  const grid: string[][] = [clean(headers)];
  for (const r of rows) grid.push(clean(r));
  const widths = new Array<number>(columns).fill(0);
  for (const row of grid) for (let c = 0; c < columns; c++) widths[c] = Math.max(widths[c]!, row[c]!.length);
  const line = (row: string[]): string => row.map((cell, c) => cell.padEnd(widths[c]!)).join("  ").trimEnd();
  const out: string[] = [line(grid[0]!), widths.map((w) => "-".repeat(Math.max(w, 1))).join("  ")];
  for (let i = 1; i < grid.length; i++) out.push(line(grid[i]!));
  return out.join("\n");
}
