import { describe, expect, it } from "vitest";
import { AuthError, EXIT } from "../../src/errors.js";

describe("AuthError", () => {
  it("names the account and the API, and says what to check", () => {
    const err = new AuthError("AC00000000000000000000000000000000", "Comms");
    expect(err.exitCode).toBe(EXIT.failure);
    expect(err.message).toBe(
      "authentication failed for account AC00000000000000000000000000000000 (Comms API answered 401): check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN " +
        "(or TWILIO_API_KEY and TWILIO_API_SECRET, and that the API key was created in this account), or the matching flags",
    );
  });
});
