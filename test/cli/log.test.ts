import { describe, expect, it } from "vitest";
import { colorEnabled } from "../../src/cli/color.js";
import { createLogger, prettyLine } from "../../src/log.js";

function sink() {
  const lines: string[] = [];
  return { lines, stream: { write: (s: string) => void lines.push(s) } };
}

describe("createLogger", () => {
  it("pretty: one readable line per entry, with fields and the level", () => {
    const s = sink();
    const log = createLogger("info", { format: "pretty", destination: s.stream });
    log.warn({ sid: "CR1", status: 503 }, "retrying request");
    expect(s.lines).toHaveLength(1);
    expect(s.lines[0]).toMatch(/^\d\d:\d\d:\d\d WARN {2}retrying request sid=CR1 status=503\n$/);
  });

  it("redacts secrets in both formats", () => {
    for (const format of ["pretty", "json"] as const) {
      const s = sink();
      const log = createLogger("debug", { format, destination: s.stream });
      log.info({ password: "hunter2-secret", request: { headers: { authorization: "Basic c2VjcmV0" } }, body: { privateKey: "-----BEGIN PRIVATE KEY-----" } }, "sent");
      const out = s.lines.join("");
      expect(out).toContain("[redacted]");
      for (const secret of ["hunter2-secret", "Basic c2VjcmV0", "BEGIN PRIVATE KEY"]) expect(out).not.toContain(secret);
    }
  });

  it("json stays one JSON object per line (the default, and what CI parses)", () => {
    const s = sink();
    createLogger("info", s.stream).info({ a: 1 }, "hello");
    expect(JSON.parse(s.lines[0]!)).toMatchObject({ level: 30, msg: "hello", a: 1 });
  });

  it("pretty: text from outside cannot fake a second line or move the cursor", () => {
    const line = prettyLine(JSON.stringify({ level: 30, time: 0, msg: "server said", error: "bad\n12:00:00 INFO  forged\x1b[2J" }));
    expect(line.split("\n")).toHaveLength(2);
    expect(line).not.toContain("\x1b");
  });
});

describe("colour", () => {
  const line = (level: number) => JSON.stringify({ level, time: 0, msg: "m", sid: "CR1" });

  it("WARN is yellow, ERROR and FATAL red, INFO plain; the fields stay plain", () => {
    expect(prettyLine(line(40), true)).toBe("00:00:00 \x1b[33m\x1b[1mWARN \x1b[22m\x1b[39m \x1b[33mm\x1b[39m sid=CR1\n");
    expect(prettyLine(line(50), true)).toContain("\x1b[31m\x1b[1mERROR\x1b[22m\x1b[39m \x1b[31mm\x1b[39m sid=CR1");
    expect(prettyLine(line(60), true)).toContain("\x1b[31m\x1b[1mFATAL");
    expect(prettyLine(line(30), true)).toBe("00:00:00 INFO  m sid=CR1\n");
    expect(prettyLine(line(50), false)).not.toContain("\x1b");
  });

  it("a server's text cannot bring its own escapes in through a coloured line", () => {
    const out = prettyLine(JSON.stringify({ level: 50, time: 0, msg: "x\x1b[2J", detail: "\x1b[31mfake" }), true);
    expect(out.match(/\x1b/g)).toHaveLength(6);
    expect(out).not.toContain("\x1b[2J");
  });

  it("follows NO_COLOR and FORCE_COLOR as the ecosystem does, else whether stderr is a terminal", () => {
    expect(colorEnabled({}, true)).toBe(true);
    expect(colorEnabled({}, false)).toBe(false);
    expect(colorEnabled({}, undefined)).toBe(false);
    expect(colorEnabled({ TERM: "dumb" }, true)).toBe(false);
    expect(colorEnabled({ NO_COLOR: "1" }, true)).toBe(false);
    expect(colorEnabled({ NO_COLOR: "" }, true)).toBe(true);
    for (const on of ["1", "2", "3", "true", ""]) expect(colorEnabled({ FORCE_COLOR: on }, false), on).toBe(true);
    for (const off of ["0", "false"]) expect(colorEnabled({ FORCE_COLOR: off }, true), off).toBe(false);
    expect(colorEnabled({ FORCE_COLOR: "1", NO_COLOR: "1" }, false)).toBe(true);
    expect(colorEnabled({ FORCE_COLOR: "9" }, false)).toBe(false);
  });

  it("a logger with another sink than stderr is plain unless told", () => {
    const lines: string[] = [];
    const stream = { write: (s: string) => void lines.push(s) };
    createLogger("info", { format: "pretty", destination: stream }).warn("plain");
    createLogger("info", { format: "pretty", destination: stream, color: true }).warn("coloured");
    expect(lines[0]).not.toContain("\x1b");
    expect(lines[1]).toContain("\x1b[33m");
  });
});
