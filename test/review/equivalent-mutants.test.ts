/**
 * Mutants the mutation notes (test/mutation/*.md) once called equivalent that change what the code
 * does. Each test fails with its mutant applied by hand (named in the test) and passes without it.
 */
import { describe, expect, it } from "vitest";
import { readP12 } from "../../src/secrets/index.js";
import { fixtureBytes } from "../secrets/helpers.js";

describe("mutants that were not equivalent", () => {
  // p12.ts `forge.asn1.fromDer(…, false)`: lenient parsing read a cut-short file as far as it went,
  // then blamed the passphrase or a missing key. Killed by `true` → `false` in that call.
  it("a .p12 cut short is reported as not parsing, never as a wrong passphrase or a missing key", () => {
    const whole = fixtureBytes("apn-dev.p12");
    expect(readP12(whole, "fake-passphrase")).not.toHaveProperty("problem");
    for (const cut of [500, 1000, whole.length - 200, whole.length - 20, whole.length - 1]) {
      expect(readP12(whole.subarray(0, cut), "fake-passphrase"), `cut at ${cut} of ${whole.length}`).toEqual({
        problem: expect.stringMatching(/not a PKCS#12 bundle \(it does not parse\)/),
      });
    }
  });
});
