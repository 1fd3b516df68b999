import { createPrivateKey } from "node:crypto";
import type { SecretResult } from "../domain.js";
import { sha256Hex } from "./apn.js";

const WHERE_TO_GET =
  "download the service-account key: Firebase console → Project settings → Service accounts → Generate new private key";

const str = (v: unknown): v is string => typeof v === "string" && v.trim() !== "";

/**
 * Validates a Google service-account JSON key file for FCM HTTP v1: it is JSON, `type` is
 * `service_account`, `project_id` and `client_email` are present and `private_key` parses. The whole
 * text (minus a leading byte-order mark) is what gets sent. Messages never quote the file's content.
 */
export function validateFcm(jsonText: string): SecretResult {
  const problems: string[] = [];
  const warnings: string[] = [];
  const text = jsonText.replace(/^\uFEFF/, "");
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    // Legacy FCM server keys ("AAAA…:APA91b…") and Google API keys ("AIza…") are what a legacy fcm credential held.
    if (/^\s*(AAAA[\w-]{3,}:APA91b|AIza)/.test(text)) {
      problems.push(`serviceAccount looks like a legacy FCM server key, which Comms cannot use: it needs the service-account JSON (FCM HTTP v1); ${WHERE_TO_GET}`);
    } else {
      problems.push(`serviceAccount is not valid JSON; ${WHERE_TO_GET}`);
    }
    return { problems, warnings };
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    return { problems: [`serviceAccount is JSON but not an object; ${WHERE_TO_GET}`], warnings };
  }
  const sa = doc as Record<string, unknown>;
  if ("project_info" in sa || "client" in sa) {
    return {
      problems: [`serviceAccount is a google-services.json (the Firebase app configuration), not a service-account key; ${WHERE_TO_GET}`],
      warnings,
    };
  }
  if (sa.type !== "service_account") {
    const shown = typeof sa.type === "string" && /^[a-z_]{1,40}$/.test(sa.type) ? `"${sa.type}"` : sa.type === undefined ? "missing" : "not a known value";
    problems.push(`serviceAccount: type must be "service_account" (it is ${shown}); ${WHERE_TO_GET}`);
  }
  if (!str(sa.project_id)) problems.push("serviceAccount: project_id is missing");
  if (!str(sa.client_email) || !sa.client_email.includes("@")) problems.push("serviceAccount: client_email is missing or not an e-mail address");
  if (!str(sa.private_key)) {
    problems.push("serviceAccount: private_key is missing");
  } else {
    try {
      createPrivateKey({ key: sa.private_key, format: "pem" });
    } catch {
      problems.push("serviceAccount: private_key does not parse as a PEM private key");
    }
  }
  const fingerprint = {
    kind: "fcm" as const,
    contentSha256: sha256Hex(text),
    ...(str(sa.project_id) ? { projectId: sa.project_id } : {}),
    ...(str(sa.client_email) ? { clientEmail: sa.client_email } : {}),
    ...(str(sa.private_key_id) && /^[0-9a-f]{8,128}$/i.test(sa.private_key_id) ? { keyId: sa.private_key_id } : {}),
  };
  if (problems.length > 0) return { fingerprint, problems, warnings };
  return { secret: { kind: "fcm", serviceAccountJson: text, fingerprint }, fingerprint, problems, warnings };
}
