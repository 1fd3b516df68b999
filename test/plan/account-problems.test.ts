import { describe, expect, it } from "vitest";
import { plan } from "../../src/plan/index.js";
import { comms, entry, legacy, mapping, NOW, secretsFor, sid, snapshot } from "./builders.js";

/** `n` apn credentials, each mapped to the appName `app(i)`. */
function creates(n: number, app: (i: number) => string) {
  const sids = Array.from({ length: n }, (_, i) => sid(100 + i));
  return {
    legacy: sids.map((s) => legacy({ sid: s })),
    mapping: mapping(...sids.map((s, i) => entry({ sid: s, appName: app(i) }))),
    secrets: secretsFor(...sids),
  };
}

const existingApps = (n: number) => Array.from({ length: n }, (_, i) => comms({ appName: `old_${i}` }));

describe("plan: problems whose fix changes other entries block the whole apply", () => {
  it("an 11th App is an account problem, named once, and listed with the plan's problems", () => {
    const c = creates(10, (i) => `new_${i}`);
    const p = plan(snapshot({ legacy: c.legacy, comms: existingApps(1) }), c.mapping, c.secrets, { now: NOW });
    expect(p.items.filter((i) => i.action === "blocked")).toHaveLength(1);
    expect(p.accountProblems).toHaveLength(1);
    expect(p.accountProblems![0]).toMatch(/needs 11 Apps but Comms allows 10 per account \(1 exist\).*nothing is applied/);
    expect(p.problems).toContain(p.accountProblems![0]);
  });

  it("an 11th credential in one App is an account problem naming the App", () => {
    const c = creates(3, () => "full_app");
    const eight = Array.from({ length: 8 }, () => comms({ appName: "full_app" }));
    const p = plan(snapshot({ legacy: c.legacy, comms: eight }), c.mapping, c.secrets, { now: NOW });
    expect(p.accountProblems).toEqual([expect.stringMatching(/App full_app would hold 11 credentials but Comms allows 10 per App/)]);
  });

  it("two defaults for one (App, type) are an account problem", () => {
    const [a, b] = [sid(1), sid(2)];
    const m = mapping(entry({ sid: a, appName: "x", isDefault: true }), entry({ sid: b, appName: "x", isDefault: true }));
    const p = plan(snapshot({ legacy: [legacy({ sid: a }), legacy({ sid: b })] }), m, secretsFor(a, b), { now: NOW });
    expect(p.accountProblems).toEqual([expect.stringContaining(`isDefault: true is set for 2 credentials of x APN (${a}, ${b})`)]);
  });

  it("a per-credential problem (an unknown sid, a bad secret) is not an account problem", () => {
    const c = creates(2, (i) => `a_${i}`);
    const m = mapping(...c.mapping.credentials, entry({ sid: sid(999), appName: "ghost" }));
    const secrets = secretsFor(sid(100));
    secrets.set(sid(101), { problems: [`${sid(101)}: the private key does not parse`], warnings: [] });
    const p = plan(snapshot({ legacy: c.legacy }), m, secrets, { now: NOW });
    expect(p.problems.length).toBeGreaterThan(0);
    expect(p.items.map((i) => i.action)).toEqual(["create", "blocked"]);
    expect(p.accountProblems).toEqual([]);
  });
});
