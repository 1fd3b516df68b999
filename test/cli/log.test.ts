import { describe, expect, it } from "vitest";
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
