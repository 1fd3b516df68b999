import { describe, expect, it } from "vitest";
import { messageLines } from "../../src/report/messages.js";
import { sid } from "./fixtures.js";

describe("messageLines", () => {
  it("gives one line per message, general ones first, each item's sid once, escaped", () => {
    const lines = messageLines({
      problems: [`mapping entry #2: ${sid(9)} does not exist`],
      warnings: ["general\u202e"],
      items: [
        { legacySid: sid(1), problems: ["first", "second\nline"], warnings: [] },
        { legacySid: sid(2), problems: [`${sid(2)}: from an older plan file`], warnings: ["w"] },
      ],
    });
    expect(lines.problems).toEqual([
      `mapping entry #2: ${sid(9)} does not exist`,
      `${sid(1)}: first`,
      `${sid(1)}: second\\nline`,
      `${sid(2)}: from an older plan file`,
    ]);
    expect(lines.warnings).toEqual(["general\\u{202e}", `${sid(2)}: w`]);
  });
});
