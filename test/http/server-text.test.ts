/** Server text is untrusted: what was sent, key material, control characters and length are handled. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cleanServerText, parseErrorBody } from "../../src/http/server-text.js";
import { MAX_SERVER_TEXT_CHARS } from "../../src/limits.js";
import { ROOT } from "../e2e/harness.js";

const FIX = join(ROOT, "test", "fixtures", "secrets");
const certPem = readFileSync(join(FIX, "apn-prod.cert.pem"), "utf8");
const keyPem = readFileSync(join(FIX, "apn-prod.key.pem"), "utf8");
const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");

describe("cleanServerText", () => {
  it("keeps ordinary messages, SIDs, ids and paths", () => {
    const text = "Credential CR0123456789abcdef0123456789abcdef of AC0123456789abcdef0123456789abcdef not found at /v1/PushNotifications/Credentials/comms_credential_01J8ZK3Q4W5E6R7T8Y9U0I1O2P";
    expect(cleanServerText(text)).toBe(text);
    expect(cleanServerText("appName: must match ^[a-z0-9_]+$")).toBe("appName: must match ^[a-z0-9_]+$");
  });

  it("removes PEM blocks, lone PEM markers, long base64 and hex runs", () => {
    expect(cleanServerText(`bad key ${keyPem} end`)).toBe("bad key [redacted] end");
    expect(cleanServerText("cut -----BEGIN PRIVATE KEY-----\nMIIEv")).toBe("cut [redacted]");
    expect(cleanServerText("marker -----END CERTIFICATE----- left")).toBe("marker [redacted] left");
    expect(cleanServerText(`token ${b64("a secret that is long enough to matter")} here`)).toBe("token [redacted] here");
    expect(cleanServerText("id ca7b3fa7dd13201de635be3aef70e0fd04895501 x")).toBe("id [redacted] x");
  });

  it("removes any run of 8+ characters that was sent, even cut short or decoded", () => {
    const content = b64(keyPem);
    const sent = [content];
    const line = keyPem.split("\n")[1]!;
    expect(cleanServerText(`got ${content.slice(5, 20)} and more`, { sent })).toBe("got [redacted] and more");
    expect(cleanServerText(`line ${line.slice(0, 12)}`, { sent })).toBe("line [redacted]");
    expect(cleanServerText(`short ${content.slice(0, 6)} ok`, { sent })).toBe(`short ${content.slice(0, 6)} ok`);
    const fcm = JSON.stringify({ type: "service_account", client_email: "svc@proj.iam.gserviceaccount.com", private_key: keyPem });
    expect(cleanServerText("who svc@proj.iam.gserviceaccount.com", { sent: [b64(fcm)] })).toBe("who [redacted]");
  });

  it("escapes control characters, collapses whitespace and caps the length", () => {
    expect(cleanServerText("a\u001b[31mred\u202e b\n\nc")).toBe("a\\u{1b}[31mred\\u{202e} b c");
    const long = cleanServerText("word ".repeat(500));
    expect(long.length).toBe(MAX_SERVER_TEXT_CHARS + 1);
    expect(long.endsWith("…")).toBe(true);
  });

  it("parseErrorBody cleans every shape with what was sent", () => {
    const content = b64(certPem);
    const body = JSON.stringify({ credentialType: "APN", appName: "app", content: { certificate: content } });
    for (const text of [
      JSON.stringify({ code: 1, message: body }),
      JSON.stringify({ errors: [{ code: 1, detail: body }] }),
      JSON.stringify({ errors: [body] }),
      JSON.stringify({ title: "Bad", detail: body }),
      `<html><pre>${body}</pre></html>`,
    ]) {
      const { message } = parseErrorBody(400, text, { sent: [content] });
      expect(message).not.toContain(content.slice(0, 16));
      expect(message).toContain("[redacted]");
    }
    // A JSON body with no message field at all: nothing of it is quoted.
    expect(parseErrorBody(400, body, { sent: [content] }).message).toBe("HTTP 400");
  });
});
