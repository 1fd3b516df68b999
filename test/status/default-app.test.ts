import { describe, expect, it } from "vitest";
import type { LedgerEvent } from "../../src/ledger/types.js";
import { computeDefaultApp } from "../../src/status/status.js";

const app = (name: string, isDefault = false) => ({ name, isDefault, createdAt: "", updatedAt: "" });
const set = (appName: string): LedgerEvent => ({ v: 1, ts: "2026-01-01T00:00:00Z", event: "app-default-set", appName, patched: true });

describe("status: the account's default App", () => {
  it("shows the live default App; drift only when cr2comms set another one (its last set wins)", () => {
    expect(computeDefaultApp([], [app("web", true), app("ios")])).toEqual({ live: "web", drift: false, detail: "web" });
    expect(computeDefaultApp([set("web"), set("ios")], [app("web"), app("ios", true)])).toEqual({
      live: "ios",
      setByCr2comms: "ios",
      drift: false,
      detail: "ios (made the default by cr2comms)",
    });
    const drifted = computeDefaultApp([set("ios")], [app("web", true), app("ios")]);
    expect(drifted).toMatchObject({ live: "web", setByCr2comms: "ios", drift: true });
    expect(drifted.detail).toMatch(/apply \(with defaultApp: ios\) switches it back/);
    expect(computeDefaultApp([], [])).toEqual({ drift: false, detail: "no App is the default (the account has no Apps)" });
  });

  it("says when the Apps could not be read, without drift", () => {
    expect(computeDefaultApp([set("ios")], { error: "HTTP 404" })).toEqual({ setByCr2comms: "ios", drift: false, detail: "the Comms Apps could not be read: HTTP 404", error: "HTTP 404" });
  });
});
