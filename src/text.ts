/**
 * Text that came from outside (a server answer, a mapping file, a legacy friendly name) made safe
 * to print on a terminal or write into a one-line report field: control characters, the bidi
 * overrides that can reorder what a terminal shows (U+202E…), and zero-width marks are escaped as
 * `\u{…}` (newline, tab and carriage return as `\n`, `\t`, `\r`), so nothing can move the cursor,
 * recolour the screen, fake a second log line or hide text.
 */
// C0 controls, DEL, C1 controls, bidi embeddings/overrides/isolates and marks, zero-width characters,
// line/paragraph separators and the BOM.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/gu;

const NAMED: Readonly<Record<string, string>> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

export function escapeControl(text: string): string {
  return text.replace(UNSAFE, (ch) => NAMED[ch] ?? `\\u{${ch.codePointAt(0)!.toString(16)}}`);
}

/** True when `escapeControl` would change `text`. */
export function hasControl(text: string): boolean {
  UNSAFE.lastIndex = 0;
  const found = UNSAFE.test(text);
  UNSAFE.lastIndex = 0;
  return found;
}

/** Levenshtein distance, for "did you mean …?" suggestions. */
export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(above + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}
