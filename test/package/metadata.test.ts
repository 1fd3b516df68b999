import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../e2e/harness.js";

const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as Record<string, unknown>;

describe("package.json metadata", () => {
  it("names no public home (no repository, bugs or homepage address) and no placeholder domain", () => {
    expect(pkg).not.toHaveProperty("repository");
    expect(pkg).not.toHaveProperty("bugs");
    expect(pkg).not.toHaveProperty("homepage");
    expect(JSON.stringify(pkg)).not.toMatch(/example\.(invalid|com|org)/);
  });

  it("has keywords that say what it is for", () => {
    expect(pkg.keywords).toEqual(expect.arrayContaining(["twilio", "push-notifications", "migration"]));
  });
});
