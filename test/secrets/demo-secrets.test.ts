import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { CredentialType } from "../../src/domain.js";
import type { MappingSecrets } from "../../src/mapping/types.js";
import { resolveEntrySecrets } from "../../src/secrets/index.js";

const mappingDir = fileURLToPath(new URL("../../mappings/", import.meta.url));
const notBefore = new Date(new X509Certificate(readFileSync(`${mappingDir}examples/secrets/limonade-ios-prod.cert.pem`)).validFrom);
const now = new Date(notBefore.getTime() + 2 * 86_400_000);

describe("demo secrets in mappings/examples/secrets", () => {
  it.each([
    ["APN", { certificate: "file:examples/secrets/limonade-ios-prod.cert.pem", privateKey: "file:examples/secrets/limonade-ios-prod.key.pem" }, "production"],
    ["APN_SANDBOX", { p12: "file:examples/secrets/limonade-ios-dev.p12", passphrase: "env:LIMONADE_DEV_P12_PASSPHRASE" }, "development"],
    ["APN_SANDBOX", { certificate: "file:examples/secrets/ios-sandbox-2.cert.pem", privateKey: "file:examples/secrets/ios-sandbox-2.key.pem" }, "development"],
    ["FCM", { serviceAccount: "file:examples/secrets/limonade-android-sa.json" }, undefined],
  ] as const)("validate for %s (%j)", async (target, secrets, environment) => {
    const r = await resolveEntrySecrets({ sid: "CR00000000000000000000000000000001", index: 0, secrets: secrets as MappingSecrets }, target as CredentialType, {
      mappingDir,
      env: { LIMONADE_DEV_P12_PASSPHRASE: "fake-demo-passphrase" },
      now,
      interactive: false,
    });
    expect(r.problems).toEqual([]);
    expect(r.warnings).toEqual([]);
    expect(r.secret?.fingerprint.environment).toBe(environment);
    expect(r.secret?.kind).toBe(target === "FCM" ? "fcm" : "apn");
    if (r.secret?.kind === "apn") expect(r.secret.fingerprint.subject).toContain("FAKE cr2comms test fixture");
  });
});
