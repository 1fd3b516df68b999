import { describe, expect, it } from "vitest";
import { regionalConversationsUrl, resolveSettings, stateDirOf } from "../../src/cli/config.js";
import { UsageError } from "../../src/errors.js";
import { DEFAULT_CONCURRENCY, OUTCOME_SETTLE_MS } from "../../src/limits.js";

const message = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error("expected a usage error");
};

describe("bad values name what set them", () => {
  it("the flag when the flag set it, the variable when the variable did", () => {
    expect(message(() => resolveSettings({ concurrency: "abc" }, {}))).toBe('--concurrency must be a whole number from 1 to 32, not "abc"');
    expect(message(() => resolveSettings({}, { CR2COMMS_CONCURRENCY: "abc" }))).toMatch(/^CR2COMMS_CONCURRENCY must be .* not "abc"$/);
    expect(message(() => resolveSettings({}, { CR2COMMS_COMMS_API_VERSION: "beta" }))).toMatch(/^CR2COMMS_COMMS_API_VERSION must be one of v1, preview, not "beta"$/);
    expect(message(() => resolveSettings({ commsApiVersion: "beta" }, {}))).toMatch(/^--comms-api-version /);
    expect(message(() => resolveSettings({ logLevel: "verbose" }, {}))).toBe('--log-level must be one of trace, debug, info, warn, error, fatal, silent, not "verbose"');
    expect(message(() => resolveSettings({}, { LOG_LEVEL: "loud" }))).toMatch(/^LOG_LEVEL must be one of/);
    expect(message(() => resolveSettings({ logFormat: "xml" }, {}))).toMatch(/^--log-format must be one of pretty, json/);
    expect(message(() => resolveSettings({ commsUrl: "nope" }, {}))).toMatch(/^--comms-url must be an http\(s\) URL/);
    expect(message(() => resolveSettings({}, { CR2COMMS_COMMS_URL: "nope" }))).toMatch(/^CR2COMMS_COMMS_URL must be/);
  });

  it("the flag wins over the variable, and a bad variable is ignored when the flag is given", () => {
    expect(resolveSettings({ concurrency: "8" }, { CR2COMMS_CONCURRENCY: "abc" }, "/w").concurrency).toBe(8);
  });

  it("rejects numbers that are not whole or out of range", () => {
    for (const bad of ["1.5", "0", "33", "-1", "4x", " "]) expect(() => resolveSettings({ concurrency: bad }, {})).toThrow(UsageError);
  });
});

describe("concurrencyGiven", () => {
  it("is true only when the flag or the variable set it", () => {
    expect(resolveSettings({}, {}, "/w")).toMatchObject({ concurrency: DEFAULT_CONCURRENCY, concurrencyGiven: false });
    expect(resolveSettings({ concurrency: "2" }, {}, "/w")).toMatchObject({ concurrency: 2, concurrencyGiven: true });
    expect(resolveSettings({}, { CR2COMMS_CONCURRENCY: "4" }, "/w")).toMatchObject({ concurrency: 4, concurrencyGiven: true });
  });
});

describe("settleMs", () => {
  it("defaults to OUTCOME_SETTLE_MS and takes whole seconds ≥ 1 from the flag or the variable", () => {
    expect(resolveSettings({}, {}, "/w").settleMs).toBe(OUTCOME_SETTLE_MS);
    expect(resolveSettings({ settleSeconds: "30" }, {}, "/w").settleMs).toBe(30_000);
    expect(resolveSettings({}, { CR2COMMS_SETTLE_SECONDS: "5" }, "/w").settleMs).toBe(5_000);
    expect(message(() => resolveSettings({ settleSeconds: "0" }, {}))).toMatch(/^--settle-seconds must be a whole number of seconds, at least 1, not "0"$/);
    expect(message(() => resolveSettings({}, { CR2COMMS_SETTLE_SECONDS: "1.5" }))).toMatch(/^CR2COMMS_SETTLE_SECONDS /);
  });
});

describe("logFormat", () => {
  it("pretty on a terminal, json otherwise, unless --log-format says", () => {
    expect(resolveSettings({}, {}, "/w", true).logFormat).toBe("pretty");
    expect(resolveSettings({}, {}, "/w", false).logFormat).toBe("json");
    expect(resolveSettings({ logFormat: "json" }, {}, "/w", true).logFormat).toBe("json");
    expect(resolveSettings({ logFormat: "pretty" }, {}, "/w", false).logFormat).toBe("pretty");
  });
});

describe("rehearsals keep their own reports and ledger", () => {
  it("--emulator defaults to reports/emulator", () => {
    expect(resolveSettings({ emulator: true }, {}, "/w")).toMatchObject({ reportsDir: "/w/reports/emulator", ledgerPath: "/w/reports/emulator/ledger.jsonl" });
  });
  it("unless a reports dir or a ledger is given", () => {
    expect(resolveSettings({ emulator: true, reportsDir: "r" }, {}, "/w").reportsDir).toBe("/w/r");
    expect(resolveSettings({ emulator: true }, { CR2COMMS_REPORTS_DIR: "e" }, "/w").reportsDir).toBe("/w/e");
    expect(resolveSettings({ emulator: true, ledger: "l.jsonl" }, {}, "/w")).toMatchObject({ reportsDir: "/w/reports", ledgerPath: "/w/l.jsonl" });
    expect(resolveSettings({}, {}, "/w").reportsDir).toBe("/w/reports");
  });
});

describe("TWILIO_REGION / TWILIO_EDGE", () => {
  const withComms = { CR2COMMS_COMMS_URL: "https://comms.example.test" };
  it("builds the Conversations host like twilio-node", () => {
    expect(resolveSettings({}, { TWILIO_REGION: "au1", ...withComms }, "/w").conversationsUrl).toBe("https://conversations.au1.twilio.com");
    expect(resolveSettings({}, { TWILIO_REGION: "au1", TWILIO_EDGE: "sydney", ...withComms }, "/w").conversationsUrl).toBe("https://conversations.sydney.au1.twilio.com");
    expect(resolveSettings({}, { TWILIO_EDGE: "dublin", ...withComms }, "/w").conversationsUrl).toBe("https://conversations.dublin.us1.twilio.com");
    expect(regionalConversationsUrl(undefined, undefined)).toBe("https://conversations.twilio.com");
  });
  it("an explicit Conversations URL wins", () => {
    expect(resolveSettings({ conversationsUrl: "http://127.0.0.1:9" }, { TWILIO_REGION: "au1", ...withComms }, "/w").conversationsUrl).toBe("http://127.0.0.1:9");
    expect(resolveSettings({}, { TWILIO_REGION: "au1", CR2COMMS_CONVERSATIONS_URL: "http://127.0.0.1:8", ...withComms }, "/w").conversationsUrl).toBe("http://127.0.0.1:8");
  });
  it("refuses to guess a regional Comms host", () => {
    expect(message(() => resolveSettings({}, { TWILIO_REGION: "au1" }, "/w"))).toMatch(/^TWILIO_REGION is set, but Comms documents no regional host: pass --comms-url \(or set CR2COMMS_COMMS_URL\)/);
    expect(message(() => resolveSettings({}, { TWILIO_EDGE: "sydney", TWILIO_REGION: "au1" }, "/w"))).toMatch(/^TWILIO_REGION and TWILIO_EDGE are set/);
    expect(resolveSettings({ commsUrl: "https://comms.example.test" }, { TWILIO_REGION: "au1" }, "/w").commsUrl).toBe("https://comms.example.test");
  });
  it("names a malformed value", () => {
    expect(message(() => resolveSettings({}, { TWILIO_REGION: "au1.evil.com/", ...withComms }, "/w"))).toMatch(/^TWILIO_REGION must be a plain name/);
  });
  it("--emulator ignores both", () => {
    expect(() => resolveSettings({ emulator: true }, { TWILIO_REGION: "au1", TWILIO_EDGE: "sydney" }, "/w")).not.toThrow();
  });
});

describe("the state dir (per-account locks)", () => {
  const home = () => "/home/u";
  it("CR2COMMS_STATE_DIR (relative to the working directory), else an absolute XDG_STATE_HOME/cr2comms, else ~/.local/state/cr2comms", () => {
    expect(stateDirOf({ CR2COMMS_STATE_DIR: "st", XDG_STATE_HOME: "/x" }, "/w", home)).toEqual({ stateDir: "/w/st", stateDirFrom: "CR2COMMS_STATE_DIR" });
    expect(stateDirOf({ CR2COMMS_STATE_DIR: "", XDG_STATE_HOME: "/x" }, "/w", home)).toEqual({ stateDir: "/x/cr2comms", stateDirFrom: "XDG_STATE_HOME" });
    // The XDG spec ignores a relative XDG_STATE_HOME.
    expect(stateDirOf({ XDG_STATE_HOME: "rel" }, "/w", home)).toEqual({ stateDir: "/home/u/.local/state/cr2comms", stateDirFrom: "the home folder" });
    expect(stateDirOf({}, "/w", home)).toEqual({ stateDir: "/home/u/.local/state/cr2comms", stateDirFrom: "the home folder" });
    expect(resolveSettings({}, { CR2COMMS_STATE_DIR: "/s" }, "/w")).toMatchObject({ stateDir: "/s", stateDirFrom: "CR2COMMS_STATE_DIR" });
  });
});
