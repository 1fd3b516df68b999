import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { describe, expect, it, vi } from "vitest";
import type { CredentialType } from "../../src/domain.js";
import type { MappingEntry, MappingSecrets } from "../../src/mapping/types.js";
import { InterruptedError } from "../../src/errors.js";
import { promptHidden, resolveEntrySecrets, type SecretContext } from "../../src/secrets/index.js";
import { certTimes, expectNoSecretIn, fixture, fixtureBytes, FIXTURES, secretNeedles } from "./helpers.js";

const SID = "CR0123456789abcdef0123456789abcdef";
const mappingDir = join(FIXTURES, "..");
const entry = (secrets: MappingSecrets | undefined): MappingEntry => ({ sid: SID, appName: "app", index: 0, ...(secrets ? { secrets } : {}) });
const ctx = (over: Partial<SecretContext> = {}): SecretContext => ({
  mappingDir,
  env: {},
  now: certTimes("apn-prod.cert.pem").midlife,
  interactive: false,
  prompt: () => Promise.reject(new Error("prompt must not be called")),
  ...over,
});
const resolve = (secrets: MappingSecrets | undefined, target: CredentialType, over: Partial<SecretContext> = {}) =>
  resolveEntrySecrets(entry(secrets), target, ctx(over));

const PROD = { certificate: "file:secrets/apn-prod.cert.pem", privateKey: "file:secrets/apn-prod.key.pem" };

describe("resolveEntrySecrets: references", () => {
  it("reads file: references relative to the mapping folder", async () => {
    const r = await resolve(PROD, "APN");
    expect(r.problems).toEqual([]);
    expect(r.secret?.kind).toBe("apn");
    expect(r.secret?.fingerprint.environment).toBe("production");

    const elsewhere = await resolve(PROD, "APN", { mappingDir: tmpdir() });
    expect(elsewhere.secret).toBeUndefined();
    expect(elsewhere.problems).toEqual([
      `secrets.certificate: file not found: ${join(tmpdir(), "secrets/apn-prod.cert.pem")}`,
      `secrets.privateKey: file not found: ${join(tmpdir(), "secrets/apn-prod.key.pem")}`,
    ]);
  });

  it("reads env: references (PEM with escaped newlines works) and names a missing variable", async () => {
    const env = { CERT: fixture("apn-prod.cert.pem").replace(/\r?\n/g, "\\n"), KEY: fixture("apn-prod.key.pem") };
    const ok = await resolve({ certificate: "env:CERT", privateKey: "env:KEY" }, "APN", { env });
    expect(ok.problems).toEqual([]);
    const missing = await resolve({ certificate: "env:CERT", privateKey: "env:NOPE_KEY" }, "APN", { env });
    expect(missing.problems).toEqual([`secrets.privateKey: environment variable NOPE_KEY is not set`]);
  });

  it("opens a p12 from a file with a passphrase from the environment", async () => {
    const secrets = { p12: "file:secrets/apn-dev.p12", passphrase: "env:P12_PASS" };
    const now = certTimes("apn-dev.cert.pem").midlife;
    const ok = await resolve(secrets, "APN_SANDBOX", { env: { P12_PASS: "fake-passphrase" }, now });
    expect(ok.problems).toEqual([]);
    expect(ok.secret?.fingerprint.environment).toBe("development");
    const wrong = await resolve(secrets, "APN_SANDBOX", { env: { P12_PASS: "not-it" }, now });
    expect(wrong.problems).toEqual([`secrets.p12: the passphrase does not open the .p12 (wrong passphrase?)`]);
    const noPass = await resolve({ p12: "file:secrets/apn-dev.p12" }, "APN_SANDBOX", { now });
    expect(noPass.problems).toEqual([expect.stringMatching(/secrets\.p12: the \.p12 is protected by a passphrase/)]);
  });

  it("takes a passphrase file without its trailing newline", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cr2comms-secrets-"));
    writeFileSync(join(dir, "pass.txt"), "fake-passphrase\n");
    writeFileSync(join(dir, "b.p12"), fixtureBytes("apn-dev-legacy-rc2.p12"));
    const r = await resolve({ p12: "file:b.p12", passphrase: "file:pass.txt" }, "APN_SANDBOX", { mappingDir: dir, now: certTimes("apn-dev.cert.pem").midlife });
    expect(r.problems).toEqual([]);
  });

  it("asks for prompt references when interactive, with a label naming the sid", async () => {
    const prompt = vi.fn(async (label: string) => (label.includes("passphrase") ? "fake-passphrase" : fixtureBytes("apn-dev.p12").toString("base64")));
    const r = await resolve({ p12: "prompt", passphrase: "prompt" }, "APN_SANDBOX", { interactive: true, prompt, now: certTimes("apn-dev.cert.pem").midlife });
    expect(r.problems).toEqual([]);
    expect(prompt).toHaveBeenCalledTimes(2);
    for (const [label] of prompt.mock.calls) expect(label).toContain(SID);
  });

  it("makes prompt a problem, not a hang, when the run is not interactive", async () => {
    const prompt = vi.fn(async () => "x");
    const r = await resolve({ p12: "file:secrets/apn-dev.p12", passphrase: "prompt" }, "APN_SANDBOX", { prompt });
    expect(prompt).not.toHaveBeenCalled();
    expect(r.problems).toEqual([`secrets.passphrase: \`prompt\` needs an interactive terminal and this run is not interactive; use file:<path> or env:<VAR>`]);
  });

  it("does not prompt when the entry is already blocked", async () => {
    const prompt = vi.fn(async () => "x");
    const r = await resolve({ p12: "file:secrets/missing.p12", passphrase: "prompt" }, "APN_SANDBOX", { interactive: true, prompt });
    expect(prompt).not.toHaveBeenCalled();
    expect(r.problems).toEqual([expect.stringMatching(/secrets\.p12: file not found: .*missing\.p12$/)]);
  });

  it("refuses a literal secret in the mapping", async () => {
    const r = await resolve({ certificate: fixture("apn-prod.cert.pem"), privateKey: PROD.privateKey }, "APN");
    expect(r.problems).toEqual([expect.stringMatching(new RegExp(`^secrets\\.certificate: not a secret reference: literal secrets are refused`))]);
  });
});

describe("resolveEntrySecrets: which secrets a type needs", () => {
  const APN_EXPECTED = "certificate + privateKey (PEM files), or p12 (+ passphrase)";
  it.each([
    [undefined, "APN", [`no secrets given; APN needs ${APN_EXPECTED}`]],
    [{ passphrase: "env:X" }, "APN_SANDBOX", [
      `no certificate (only a passphrase) given; APN_SANDBOX needs ${APN_EXPECTED}`,
      `secrets.passphrase: environment variable X is not set`,
    ]],
    [{ certificate: PROD.certificate }, "APN", [`secrets.privateKey is missing; APN needs ${APN_EXPECTED}`]],
    [{ ...PROD, p12: "file:secrets/apn-dev.p12" }, "APN", [`give either certificate + privateKey or p12, not both; APN needs ${APN_EXPECTED}`]],
    [{ ...PROD, serviceAccount: "file:secrets/fcm-service-account.json" }, "APN", [`secrets.serviceAccount is for FCM credentials; APN needs ${APN_EXPECTED}`]],
    [{ serviceAccount: "file:secrets/fcm-service-account.json", p12: "file:x.p12" }, "FCM", [`secrets.p12 is for APN credentials; FCM needs serviceAccount (the Firebase service-account JSON file)`]],
    [{ certificate: PROD.certificate }, "FCM", [
      `secrets.certificate is for APN credentials; FCM needs serviceAccount (the Firebase service-account JSON file)`,
      `secrets.serviceAccount is missing; FCM needs serviceAccount (the Firebase service-account JSON file)`,
    ]],
  ] as const)("%j for %s", async (secrets, target, problems) => {
    const r = await resolve(secrets as MappingSecrets | undefined, target);
    expect(r.secret).toBeUndefined();
    expect(r.problems).toEqual(problems);
  });

  it("collects every problem of an entry, not just the first", async () => {
    const r = await resolve({ certificate: "-----BEGIN CERTIFICATE-----", privateKey: "file:secrets/nope.pem", serviceAccount: "env:SA" }, "APN");
    expect(r.problems).toHaveLength(3);
    expect(r.problems[0]).toMatch(/secrets\.certificate: not a secret reference/);
    expect(r.problems[1]).toMatch(/serviceAccount is for FCM/);
    expect(r.problems[2]).toMatch(/secrets\.privateKey: file not found/);
  });

  it("resolves and validates FCM, prefixing validation problems with the sid", async () => {
    const ok = await resolve({ serviceAccount: "file:secrets/fcm-service-account.json" }, "FCM");
    expect(ok.problems).toEqual([]);
    expect(ok.secret?.fingerprint.projectId).toBe("fake-cr2comms-fixture");
    const wrong = await resolve({ serviceAccount: "file:secrets/google-services.json" }, "FCM");
    expect(wrong.problems).toEqual([expect.stringMatching(new RegExp(`^serviceAccount is a google-services\\.json`))]);
  });

  it("validates APN with the context's now and the target type", async () => {
    const t = certTimes("apn-expired.cert.pem");
    const expired = await resolve({ certificate: "file:secrets/apn-expired.cert.pem", privateKey: "file:secrets/apn-expired.key.pem" }, "APN", { now: new Date(t.notAfter.getTime() + 60_000) });
    expect(expired.problems).toEqual([expect.stringMatching(new RegExp(`^the certificate expired on`))]);
    const mismatch = await resolve(PROD, "APN_SANDBOX");
    expect(mismatch.problems).toEqual([expect.stringMatching(/credentialType: APN\b/)]);
    expect(mismatch.fingerprint?.environment).toBe("production");
  });
});

describe("secret hygiene", () => {
  it("no problem or warning ever contains secret bytes, their base64, or a passphrase", async () => {
    const cert = fixture("apn-prod.cert.pem");
    const key = fixture("apn-prod.key.pem");
    const other = fixture("other.key.pem");
    const sa = fixture("fcm-service-account.json");
    const gs = fixture("google-services.json");
    const serverKey = fixture("fcm-server-key.txt").trim();
    const p12b64 = fixtureBytes("apn-dev.p12").toString("base64");
    const env = { CERT: cert, KEY: key, OTHER: other, SA: sa, GS: gs, SK: serverKey, P12: p12b64, PASS: "fake-passphrase", BAD: "wrong-passphrase-value" };
    const now = certTimes("apn-expiring.cert.pem").daysBeforeExpiry(5);
    const runs = await Promise.all([
      resolve({ certificate: cert, privateKey: key }, "APN", { env }),
      resolve({ certificate: "env:KEY", privateKey: "env:CERT" }, "APN", { env }),
      resolve({ certificate: "env:CERT", privateKey: "env:OTHER" }, "APN_SANDBOX", { env }),
      resolve({ certificate: "env:CERT", privateKey: "env:KEY" }, "APN_SANDBOX", { env, now: new Date(Date.UTC(2200, 0, 1)) }),
      resolve({ certificate: "file:secrets/apn-expiring.cert.pem", privateKey: "file:secrets/apn-expiring.key.pem" }, "APN", { env, now }),
      resolve({ certificate: "file:secrets/apn-noext.cert.pem", privateKey: "file:secrets/apn-noext.key.pem" }, "APN", { env, now: certTimes("apn-noext.cert.pem").midlife }),
      resolve({ p12: "env:P12", passphrase: "env:BAD" }, "APN", { env }),
      resolve({ p12: "env:P12", passphrase: "env:PASS" }, "APN", { env, now: certTimes("apn-dev.cert.pem").midlife }),
      resolve({ p12: "env:CERT", passphrase: "wrong-passphrase-value" }, "APN", { env }),
      resolve({ serviceAccount: "env:GS" }, "FCM", { env }),
      resolve({ serviceAccount: "env:SK" }, "FCM", { env }),
      resolve({ serviceAccount: sa }, "FCM", { env }),
      resolve({ serviceAccount: "env:SA" }, "FCM", { env: { SA: sa.replace('"service_account"', '"other"').replace(/"client_email": "[^"]+"/, '"client_email": "x"') } }),
    ]);
    const messages = runs.flatMap((r) => [...r.problems, ...r.warnings]);
    expect(messages.length).toBeGreaterThan(12);
    const needles = secretNeedles(cert, key, other, sa, serverKey, p12b64, "fake-passphrase", "wrong-passphrase-value");
    expect(() => expectNoSecretIn(messages, needles)).not.toThrow();
    // The check itself bites: a message quoting a key line is caught.
    expect(() => expectNoSecretIn([`oops ${key.split("\n")[3]}`], needles)).toThrow(/leaks/);
    expect(() => expectNoSecretIn(["passphrase fake-passphrase"], needles)).toThrow(/leaks/);
  });
});

describe("promptHidden", () => {
  it("reads a line from the given input and masks it in the output", async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    let shown = "";
    output.on("data", (c: Buffer) => (shown += c.toString()));
    const answer = promptHidden("CR… passphrase", { input, output });
    setTimeout(() => input.write("s3cret-value\n"), 20);
    await expect(answer).resolves.toBe("s3cret-value");
    expect(shown).toContain("CR… passphrase");
    expect(shown).not.toContain("s3cret-value");
  });
});

describe("resolveEntrySecrets: secret paths that are not secret files", () => {
  it("a folder is a problem naming the field and path (the printer adds the sid); nothing is validated", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cr2comms-secret-dir-"));
    const r = await resolve({ certificate: `file:${dir}`, privateKey: "file:secrets/apn-prod.key.pem" }, "APN");
    expect(r.secret).toBeUndefined();
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]).toMatch(/^secrets\.certificate: /);
    expect(r.problems[0]).toContain(dir);
  });

  it("a file over the size limit is a problem, and its content is never read into a message", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cr2comms-secret-big-"));
    const big = join(dir, "huge.json");
    writeFileSync(big, "SECRET-MARKER".padEnd(1024 * 1024 + 1, "x"));
    const r = await resolve({ serviceAccount: `file:${big}` }, "FCM");
    expect(r.secret).toBeUndefined();
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]).toMatch(/^secrets\.serviceAccount: /);
    expect(r.problems[0]).toContain(big);
    expect(r.problems[0]).not.toContain("SECRET-MARKER");
  });

  it("a file of exactly the size limit is read (and then judged on its content)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cr2comms-secret-edge-"));
    const edge = join(dir, "edge.json");
    writeFileSync(edge, "x".repeat(1024 * 1024));
    const r = await resolve({ serviceAccount: `file:${edge}` }, "FCM");
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]).not.toContain(edge); // a validation problem about the JSON, not about the file
  });
});

describe("resolveEntrySecrets: answers at the prompt", () => {
  const P12 = { p12: "file:secrets/apn-dev.p12", passphrase: "prompt" };

  it("Ctrl-C at the prompt stops the run (InterruptedError), it is not turned into a problem", async () => {
    const r = resolve(P12, "APN_SANDBOX", { interactive: true, prompt: () => Promise.reject(new InterruptedError()) });
    await expect(r).rejects.toBeInstanceOf(InterruptedError);
  });

  it("an empty answer is a problem naming the field (the printer adds the sid), and nothing is opened", async () => {
    const asked: string[] = [];
    const r = await resolve(P12, "APN_SANDBOX", { interactive: true, prompt: async (label) => (asked.push(label), "") });
    expect(asked).toHaveLength(1);
    expect(r.secret).toBeUndefined();
    expect(r.problems).toEqual([expect.stringMatching(new RegExp(`^secrets\\.passphrase: nothing was entered`))]);
  });
});

describe("promptHidden: leaving the prompt", { timeout: 5_000 }, () => {
  it("a prompt closed without an answer (Ctrl-C) becomes InterruptedError", async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    output.resume();
    const answer = promptHidden("CR… passphrase", { input, output });
    setTimeout(() => input.write("\x03"), 20); // Ctrl-C as the terminal sends it
    await expect(answer).rejects.toBeInstanceOf(InterruptedError);
  });
});
