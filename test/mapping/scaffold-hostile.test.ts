import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { LegacyCredential } from "../../src/domain.js";
import { loadMapping } from "../../src/mapping/load.js";
import { renderScaffold } from "../../src/mapping/scaffold.js";

const OPTS = { generatedAt: "2025-01-02T03:04:05.000Z", accountSid: "AC00000000000000000000000000000000" };
const sid = (n: number) => `CR${n.toString(16).padStart(32, "0")}`;

function legacy(n: number, over: Partial<LegacyCredential> = {}): LegacyCredential {
  return { sid: sid(n), accountSid: OPTS.accountSid, friendlyName: `cred ${n}`, type: "apn", sandbox: false, sandboxRaw: "False", dateCreated: null, dateUpdated: null, url: null, ...over };
}

describe("renderScaffold with values from the legacy API", () => {
  it("keeps a newline in the raw sandbox flag or the friendly name from starting a YAML line", () => {
    const injected = `x\n  - sid: ${sid(99)}\n    appName: evil`;
    const text = renderScaffold([legacy(1, { sandbox: null, sandboxRaw: injected, friendlyName: `name\u2028\u202e${injected}` })], OPTS);
    expect(text).not.toMatch(/[\u2028\u202e]/);
    const path = join(mkdtempSync(join(tmpdir(), "cr2comms-scaffold-")), "m.yaml");
    writeFileSync(path, text);
    expect(loadMapping(path).credentials.map((c) => c.sid)).toEqual([sid(1)]);
    expect(text).toContain("sandbox x\\n  - sid:");
  });

  it("renders a very large account without overflowing the stack", () => {
    const many: LegacyCredential[] = [];
    for (let n = 1; n <= 200_000; n++) many.push(legacy(n, n % 2 === 0 ? { type: "gcm", sandbox: null, sandboxRaw: null } : {}));
    const text = renderScaffold(many, OPTS);
    expect(text).toContain(`# ${sid(200_000)}`);
  });
});
