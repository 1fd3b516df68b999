import { mkdtempSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { describe, expect, it, vi } from "vitest";
import type { CredentialType } from "../../src/domain.js";
import type { MappingSecrets } from "../../src/mapping/types.js";
import { checkSecretFields, describeRef, parseSecretRef, promptHidden, resolveEntrySecrets, type SecretContext } from "../../src/secrets/index.js";
import { certTimes, fixture, fixtureBytes, FIXTURES } from "./helpers.js";

const SID = "CR0123456789abcdef0123456789abcdef";
const DEV_NOW = certTimes("apn-dev.cert.pem").midlife;
const resolve = (secrets: MappingSecrets, target: CredentialType, over: Partial<SecretContext> = {}) =>
  resolveEntrySecrets({ sid: SID, appName: "app", index: 0, secrets }, target, {
    mappingDir: join(FIXTURES, ".."),
    env: {},
    now: DEV_NOW,
    interactive: false,
    prompt: () => Promise.reject(new Error("prompt must not be called")),
    ...over,
  });

describe("resolveEntrySecrets: where file: references point", () => {
  it("~/ is the user's home folder", async () => {
    // (Only the resolved path is checked: HOME cannot be stubbed for os.homedir() in a worker thread.)
    const missing = await resolve({ serviceAccount: "file:~/cr2comms-no-such-dir/sa.json" }, "FCM", { mappingDir: tmpdir() });
    expect(missing.problems).toEqual([`secrets.serviceAccount: file not found: ${join(homedir(), "cr2comms-no-such-dir", "sa.json")}`]);
  });

  it("an absolute path is used as it is, whatever the mapping folder", async () => {
    const r = await resolve({ serviceAccount: `file:${join(FIXTURES, "fcm-service-account.json")}` }, "FCM", { mappingDir: tmpdir() });
    expect(r.problems).toEqual([]);
  });
});

describe("resolveEntrySecrets: values from variables and prompts", () => {
  it("a variable set to the empty string counts as not set", async () => {
    const r = await resolve({ serviceAccount: "env:SA" }, "FCM", { env: { SA: "" } });
    expect(r).toEqual({ problems: ["secrets.serviceAccount: environment variable SA is not set"], warnings: [] });
  });

  it("a p12 in a variable is base64, line-wrapped or not", async () => {
    const wrapped = fixtureBytes("apn-dev.p12").toString("base64").replace(/.{76}/g, "$&\n");
    const r = await resolve({ p12: "env:P12", passphrase: "env:PASS" }, "APN_SANDBOX", { env: { P12: wrapped, PASS: "fake-passphrase" } });
    expect(r.problems).toEqual([]);
    expect(r.secret?.fingerprint.environment).toBe("development");
  });

  it("a p12 variable or prompt answer that is not base64 is a problem naming where it came from", async () => {
    const env = await resolve({ p12: "env:P12", passphrase: "env:PASS" }, "APN_SANDBOX", { env: { P12: fixture("apn-dev.cert.pem"), PASS: "x" } });
    expect(env.problems).toEqual(["secrets.p12: the environment variable P12 must hold the .p12 base64-encoded"]);
    const prompted = await resolve({ p12: "prompt" }, "APN_SANDBOX", { interactive: true, prompt: async () => "data:QUJD" });
    expect(prompted.problems).toEqual(["secrets.p12: the prompt must hold the .p12 base64-encoded"]);
    const padded = await resolve({ p12: "env:P12" }, "APN_SANDBOX", { env: { P12: "QUJD===" } });
    expect(padded.problems).toEqual(["secrets.p12: the environment variable P12 must hold the .p12 base64-encoded"]);
  });

  it("a passphrase file written on Windows (CRLF) works; only one final line break is dropped", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cr2comms-pass-"));
    writeFileSync(join(dir, "b.p12"), fixtureBytes("apn-dev.p12"));
    writeFileSync(join(dir, "crlf.txt"), "fake-passphrase\r\n");
    writeFileSync(join(dir, "two.txt"), "fake-passphrase\n\n");
    const crlf = await resolve({ p12: "file:b.p12", passphrase: "file:crlf.txt" }, "APN_SANDBOX", { mappingDir: dir });
    expect(crlf.problems).toEqual([]);
    const two = await resolve({ p12: "file:b.p12", passphrase: "file:two.txt" }, "APN_SANDBOX", { mappingDir: dir });
    expect(two).toEqual({ problems: ["secrets.p12: the passphrase does not open the .p12 (wrong passphrase?)"], warnings: [] });
  });

  it("an empty passphrase file is no passphrase: a bundle without one opens", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cr2comms-pass-"));
    writeFileSync(join(dir, "empty.txt"), "\n");
    for (const bundle of ["apn-dev-nopass.p12", "apn-dev-emptypass.p12"]) {
      writeFileSync(join(dir, "b.p12"), fixtureBytes(bundle));
      const r = await resolve({ p12: "file:b.p12", passphrase: "file:empty.txt" }, "APN_SANDBOX", { mappingDir: dir });
      expect(r.problems).toEqual([]);
    }
  });

  it("a passphrase decrypts an encrypted PEM key", async () => {
    const r = await resolve(
      { certificate: "file:secrets/apn-prod.cert.pem", privateKey: "file:secrets/apn-prod.key-encrypted.pem", passphrase: "env:PASS" },
      "APN",
      { env: { PASS: "fake-passphrase" }, now: certTimes("apn-prod.cert.pem").midlife },
    );
    expect(r.problems).toEqual([]);
    expect(r.secret?.kind).toBe("apn");
  });

  it("each prompt says which secret of which credential to paste", async () => {
    const asked: string[] = [];
    const answers: Record<string, string> = {
      certificate: fixture("apn-prod.cert.pem"),
      "private key": fixture("apn-prod.key.pem"),
    };
    const prompt = async (label: string) => {
      asked.push(label);
      return Object.entries(answers).find(([k]) => label.includes(k))?.[1] ?? "";
    };
    const r = await resolve({ certificate: "prompt", privateKey: "prompt" }, "APN", { interactive: true, prompt, now: certTimes("apn-prod.cert.pem").midlife });
    expect(r.problems).toEqual([]);
    expect(asked).toEqual([`${SID} APNs certificate (paste the PEM)`, `${SID} APNs private key (paste the PEM)`]);

    const labels: string[] = [];
    await resolve({ serviceAccount: "prompt" }, "FCM", { interactive: true, prompt: async (l) => (labels.push(l), fixture("fcm-service-account.json")) });
    const p12 = fixtureBytes("apn-dev.p12").toString("base64");
    await resolve({ p12: "prompt", passphrase: "prompt" }, "APN", { interactive: true, prompt: async (l) => (labels.push(l), l.endsWith("passphrase") ? "" : p12) });
    expect(labels).toEqual([`${SID} Firebase service-account JSON (paste it on one line)`, `${SID} .p12 bundle (paste it base64-encoded)`, `${SID} passphrase`]);
  });

  it("an interactive run asks even when the file and variable references are fine", async () => {
    const prompt = vi.fn(async () => "fake-passphrase");
    const r = await resolve({ p12: "file:secrets/apn-dev.p12", passphrase: "prompt" }, "APN_SANDBOX", { interactive: true, prompt });
    expect(prompt).toHaveBeenCalledTimes(1);
    expect(r.problems).toEqual([]);
  });
});

describe("checkSecretFields", () => {
  it("names every APN field given for an FCM credential", () => {
    expect(checkSecretFields({ serviceAccount: "file:sa.json", certificate: "file:c.pem", privateKey: "file:k.pem" }, "FCM")).toEqual([
      "secrets.certificate, secrets.privateKey are for APN credentials; FCM needs serviceAccount (the Firebase service-account JSON file)",
    ]);
  });

  it("a key without its certificate names the certificate", () => {
    expect(checkSecretFields({ privateKey: "file:k.pem" }, "APN_SANDBOX")).toEqual([
      "secrets.certificate is missing; APN_SANDBOX needs certificate + privateKey (PEM files), or p12 (+ passphrase)",
    ]);
  });

  it("a p12 alone, or with a passphrase, is complete; so is a PEM pair with a passphrase", () => {
    expect(checkSecretFields({ p12: "file:b.p12" }, "APN")).toEqual([]);
    expect(checkSecretFields({ p12: "file:b.p12", passphrase: "prompt" }, "APN")).toEqual([]);
    expect(checkSecretFields({ certificate: "file:c.pem", privateKey: "file:k.pem", passphrase: "prompt" }, "APN")).toEqual([]);
    expect(checkSecretFields({ serviceAccount: "file:sa.json" }, "FCM")).toEqual([]);
  });
});

describe("secret references", () => {
  it("an env: name must be a whole variable name", () => {
    for (const bad of ["env:1ABC", "env:MY-VAR", "env:MY VAR", "env:A.B"]) expect(() => parseSecretRef(bad)).toThrow(/environment variable name/);
    expect(parseSecretRef("env: _A1 ")).toEqual({ kind: "env", name: "_A1" });
  });

  it("a reference reads in messages as its path or variable name, never a value", () => {
    expect(describeRef({ kind: "file", path: "secrets/k.pem" })).toBe("file secrets/k.pem");
    expect(describeRef({ kind: "file", path: "secrets/k.pem" }, "/abs/secrets/k.pem")).toBe("file /abs/secrets/k.pem");
    expect(describeRef({ kind: "env", name: "IOS_KEY" })).toBe("environment variable IOS_KEY");
    expect(describeRef({ kind: "prompt" })).toBe("prompt");
  });
});

describe("promptHidden: what the terminal shows", () => {
  it("one * per character typed, never the characters", async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    let shown = "";
    output.on("data", (c: Buffer) => (shown += c.toString()));
    const answer = promptHidden(`${SID} passphrase`, { input, output });
    input.write("fake-pass\n");
    await expect(answer).resolves.toBe("fake-pass");
    expect(shown).toContain(SID);
    expect(shown).toContain("*********");
    expect(shown).not.toContain("fake-pass");
  });
});
