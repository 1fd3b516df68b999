import { describe, expect, it } from "vitest";
import { escapeControl, hasControl } from "../../src/text.js";

describe("escapeControl", () => {
  it("escapes newlines, escape sequences and bidi overrides so one value stays one visible line", () => {
    expect(escapeControl("ios\nprod")).toBe("ios\\nprod");
    expect(escapeControl("a\u001b[31mred")).toBe("a\\u{1b}[31mred");
    expect(escapeControl("abc\u202Egpj.exe")).toBe("abc\\u{202e}gpj.exe");
    expect(escapeControl("zero\u200bwidth\u2066")).toBe("zero\\u{200b}width\\u{2066}");
    expect(escapeControl("tab\there\r")).toBe("tab\\there\\r");
  });

  it("leaves ordinary text, accents and emoji alone", () => {
    const plain = "Limonade iOS (production) — café 🍋";
    expect(escapeControl(plain)).toBe(plain);
    expect(hasControl(plain)).toBe(false);
    expect(hasControl("x\u0085y")).toBe(true);
    expect(hasControl("x\u0085y")).toBe(true);
  });
});
