import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { confirmOrInterrupt, isInteractive } from "../../src/cli/prompt.js";
import { EXIT, InterruptedError } from "../../src/errors.js";

function fakeTerminal() {
  const input = new PassThrough();
  const output = new PassThrough();
  let shown = "";
  output.on("data", (b: Buffer) => (shown += b.toString()));
  return { input, output, shown: () => shown };
}

describe("confirmOrInterrupt", () => {
  it("Ctrl-C at the prompt is an interruption (exit 130) with a plain sentence", async () => {
    const t = fakeTerminal();
    const answer = confirmOrInterrupt("Apply these changes?", t);
    setImmediate(() => t.input.write("\x03"));
    const err = await answer.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InterruptedError);
    expect((err as InterruptedError).exitCode).toBe(EXIT.interrupted);
    expect((err as Error).message).toBe("interrupted at the confirmation prompt; nothing was written");
  });

  it("returns the answer, asking on the given output", async () => {
    const t = fakeTerminal();
    const yes = confirmOrInterrupt("Apply these changes?", t);
    setImmediate(() => t.input.write("y\r"));
    await expect(yes).resolves.toBe(true);
    expect(t.shown()).toContain("Apply these changes?");

    const t2 = fakeTerminal();
    const plainEnter = confirmOrInterrupt("Delete?", t2);
    setImmediate(() => t2.input.write("\r"));
    await expect(plainEnter).resolves.toBe(false);
  });
});

describe("isInteractive", () => {
  it("needs both stdin and stderr to be terminals", () => {
    expect(isInteractive({ isTTY: true }, { isTTY: true })).toBe(true);
    expect(isInteractive({ isTTY: true }, { isTTY: false })).toBe(false);
    expect(isInteractive({}, { isTTY: true })).toBe(false);
  });
});
