import { Writable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { startProgress, type Progress } from "../../src/cli/progress.js";
import { createLogger } from "../../src/log.js";

/**
 * A fake terminal: a TTY-looking stream that interprets the few control sequences cli-progress
 * and readline send (carriage return, line feed, erase line, cursor column, save/restore cursor,
 * cursor show/hide) into a screen of lines, so tests can read what a person would see.
 */
class FakeTerminal extends Writable {
  readonly isTTY = true;
  readonly columns = 80;
  readonly rows = 24;
  screen: string[] = [""];
  private row = 0;
  private col = 0;
  private saved: [number, number] = [0, 0];

  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.feed(chunk.toString());
    done();
  }

  private put(ch: string): void {
    const line = this.screen[this.row]!.padEnd(this.col);
    this.screen[this.row] = line.slice(0, this.col) + ch + line.slice(this.col + 1);
    this.col++;
  }

  private feed(text: string): void {
    for (let i = 0; i < text.length; i++) {
      const ch = text[i]!;
      if (ch === "\r") this.col = 0;
      else if (ch === "\n") {
        this.row++;
        this.col = 0;
        this.screen[this.row] ??= "";
      } else if (ch === "\x1b") {
        const rest = text.slice(i + 1);
        const csi = /^\[(\??)(\d*)([A-Za-z])/.exec(rest);
        if (rest[0] === "7") {
          this.saved = [this.row, this.col];
          i += 1;
        } else if (rest[0] === "8") {
          [this.row, this.col] = this.saved;
          i += 1;
        } else if (csi) {
          const n = csi[2] === "" ? 0 : Number(csi[2]);
          if (csi[3] === "K") this.screen[this.row] = n === 2 ? "" : this.screen[this.row]!.slice(0, this.col);
          else if (csi[3] === "G") this.col = Math.max(0, n - 1);
          else if (csi[3] === "A") this.row = Math.max(0, this.row - (n || 1));
          i += csi[0].length;
        }
      } else this.put(ch);
    }
  }

  lines(): string[] {
    return this.screen.map((l) => l.trimEnd()).filter((l) => l !== "");
  }
}

let progress: Progress | undefined;
afterEach(() => progress?.stop());

describe("startProgress", () => {
  it("log lines appear above the bar, whole, and the bar is redrawn below them", () => {
    const term = new FakeTerminal();
    const logger = createLogger("info", { format: "pretty", destination: term });
    progress = startProgress(3, { enabled: true, label: "applying", stream: term });
    progress.increment();
    logger.warn({ sid: "CR1" }, "retrying request");
    progress.increment();
    progress.log("a plain line");
    progress.increment();
    progress.stop();
    logger.info("summary");

    const lines = term.lines();
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d WARN {2}retrying request sid=CR1$/);
    expect(lines[1]).toBe("a plain line");
    expect(lines[2]).toMatch(/^applying \[.+\] 3\/3$/);
    // what follows the bar goes below it, not back where the bar started
    expect(lines[3]).toMatch(/INFO {2}summary$/);
  });

  it("after stop, log lines go straight to the stream again", () => {
    const term = new FakeTerminal();
    const logger = createLogger("info", { format: "pretty", destination: term });
    progress = startProgress(1, { enabled: true, label: "applying", stream: term });
    progress.increment();
    progress.stop();
    logger.info("done");
    const lines = term.lines();
    expect(lines[0]).toMatch(/1\/1$/);
    expect(lines[1]).toMatch(/INFO {2}done$/);
  });

  it("disabled (no terminal, or --json): draws nothing", () => {
    const term = new FakeTerminal();
    progress = startProgress(5, { enabled: false, stream: term });
    progress.increment();
    progress.log("only this");
    progress.stop();
    expect(term.lines()).toEqual(["only this"]);
  });
});
