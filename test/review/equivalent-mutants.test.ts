/**
 * Mutants the mutation notes (test/mutation/*.md) once called equivalent that change what the code
 * does. Each test fails with its mutant applied by hand (named in the test) and passes without it.
 */
import { describe, expect, it } from "vitest";
import { cleanServerText, parseErrorBody } from "../../src/http/server-text.js";
import { SERVER_TEXT_SCAN_CHARS } from "../../src/limits.js";
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

  // server-text.ts `text.slice(0, SERVER_TEXT_SCAN_CHARS)` in cleanServerText and in parseErrorBody's
  // plain-text branch: the bound on the work the secret scan does. Said "equivalent in output"
  // because the result is cut to 300 characters — but whitespace and tags collapse first, so
  // without the bound text from past it shows. Killed by `text.slice(…)` → `text` in either place.
  it("server text past the scan limit is never read, even when what comes before collapses to nothing", () => {
    const past = "HIDDEN-PAST-THE-SCAN-LIMIT";
    expect(cleanServerText(" ".repeat(SERVER_TEXT_SCAN_CHARS) + past)).toBe("");
    expect(cleanServerText("shown" + " ".repeat(SERVER_TEXT_SCAN_CHARS) + past)).toBe("shown");
    const tags = "<>".repeat(SERVER_TEXT_SCAN_CHARS / 2); // whole tags up to the limit
    expect(parseErrorBody(500, tags + past).message).toBe("HTTP 500 with an empty body");
    expect(parseErrorBody(500, "shown!" + tags + past).message).toBe("HTTP 500: shown!");
  });
});
