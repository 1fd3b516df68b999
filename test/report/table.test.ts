import { describe, expect, it } from "vitest";
import { renderTable } from "../../src/report/table.js";

describe("renderTable", () => {
  it("aligns columns under a rule, with no trailing spaces", () => {
    expect(renderTable(["sid", "type", "app"], [["CR1", "apn", "limonade_ios"], ["CR22222", "fcm", ""]])).toBe(
      ["sid      type  app", "-------  ----  ------------", "CR1      apn   limonade_ios", "CR22222  fcm"].join("\n"),
    );
  });

  it("escapes newlines in cells and pads short rows", () => {
    expect(renderTable(["a", "b"], [["x\ny"]])).toBe(["a     b", "----  -", "x\\ny"].join("\n"));
    expect(renderTable(["only"], [])).toBe("only\n----");
  });
});
