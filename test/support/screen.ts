/**
 * A small model of a terminal screen (VT100 subset): enough to see what a person sees after a
 * program wrote to a terminal of a given width — autowrap on or off (DECAWM, `ESC[?7l`), carriage
 * returns, line erases, cursor save/restore and moves. Lines scroll off the top into the list
 * (there is no bottom), so the whole session stays visible.
 */
export function renderScreen(output: string, columns: number): string[] {
  const lines: string[][] = [[]];
  let row = 0;
  let col = 0;
  let wrap = true;
  let saved = { row: 0, col: 0 };
  // Rows that continue on the next (autowrap): their trailing spaces are text, not padding.
  const continued = new Set<number>();
  const line = (r: number): string[] => {
    while (lines.length <= r) lines.push([]);
    return lines[r]!;
  };
  const put = (ch: string) => {
    if (col >= columns) {
      if (wrap) {
        continued.add(row);
        row++;
        col = 0;
      } else col = columns - 1;
    }
    const l = line(row);
    while (l.length < col) l.push(" ");
    l[col] = ch;
    col++;
  };
  for (let i = 0; i < output.length; i++) {
    const ch = output[i]!;
    if (ch === "\x1b") {
      const next = output[i + 1];
      if (next === "[") {
        const m = /^\[([?]?)([0-9;]*)([@-~])/.exec(output.slice(i + 1));
        if (!m) continue;
        i += m[0].length;
        const [, priv, params, final] = m;
        const n = Number((params ?? "").split(";")[0] || 0);
        if (priv === "?") {
          if (params === "7") wrap = final === "h";
        } else if (final === "K") {
          const l = line(row);
          if (n === 2) l.length = 0;
          else if (n === 0) l.length = Math.min(l.length, col);
          else for (let c = 0; c <= col && c < l.length; c++) l[c] = " ";
        } else if (final === "G") col = Math.max(0, (n || 1) - 1);
        else if (final === "A") row = Math.max(0, row - (n || 1));
        else if (final === "B") row += n || 1;
        else if (final === "C") col = Math.min(columns - 1, col + (n || 1));
        else if (final === "D") col = Math.max(0, col - (n || 1));
        else if (final === "J" && n === 0) {
          line(row).length = Math.min(line(row).length, col);
          lines.length = row + 1;
        } else if (final === "s") saved = { row, col };
        else if (final === "u") ({ row, col } = saved);
        // colours (m) and anything else change nothing on the text
      } else if (next === "7") {
        saved = { row, col };
        i++;
      } else if (next === "8") {
        ({ row, col } = saved);
        i++;
      } else if (next === "]") {
        const end = output.indexOf("\x07", i);
        i = end === -1 ? output.length : end;
      } else i++;
    } else if (ch === "\r") col = 0;
    else if (ch === "\n") {
      row++;
      line(row);
    } else if (ch === "\b") col = Math.max(0, col - 1);
    else if (ch >= " ") put(ch);
  }
  return lines.map((l, r) => (continued.has(r) ? l.join("") : l.join("").trimEnd()));
}
