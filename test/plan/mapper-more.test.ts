import { describe, expect, it } from "vitest";
import { derivedCredentialType, mapCredential } from "../../src/plan/mapper.js";
import { entry, legacy, sid } from "./builders.js";

describe("mapCredential: edges", () => {
  it("an unknown or gcm type has no target and says so", () => {
    expect(derivedCredentialType({ type: "gcm", sandbox: null })).toBeUndefined();
    expect(derivedCredentialType({ type: "voip", sandbox: null })).toBeUndefined();
    expect(mapCredential(legacy({ type: "voip" }), entry())).toEqual({ warnings: [], problems: [expect.stringMatching(/legacy type "voip" has no Comms equivalent/)] });
  });

  it("names a missing sandbox flag as it was read (null or the raw text)", () => {
    const raw = mapCredential(legacy({ sandbox: null, sandboxRaw: "maybe" }), entry());
    expect(raw.warnings).toEqual([expect.stringContaining('missing ("maybe")')]);
    const none = mapCredential(legacy({ sandbox: null, sandboxRaw: null }), entry());
    expect(none.warnings).toEqual([expect.stringContaining("missing (null)")]);
    expect(none.target?.credentialType).toBe("APN");
  });

  it("an empty appName is a problem, and no target is given", () => {
    const r = mapCredential(legacy({ sid: sid(1) }), entry({ appName: "" }));
    expect(r.target).toBeUndefined();
    expect(r.problems).toEqual([expect.stringMatching(/has no appName/)]);
  });

  it("a missing appName is a problem, and no target is given", () => {
    const e = entry();
    delete e.appName;
    const r = mapCredential(legacy(), e);
    expect(r.target).toBeUndefined();
    expect(r.problems).toEqual([expect.stringMatching(/has no appName/)]);
  });
});
