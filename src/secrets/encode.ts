import type { CreateCredentialBody } from "../comms/types.js";
import type { ResolvedSecret } from "../domain.js";

/**
 * The `content` of a Comms create body. The only place a secret is base64-encoded: APN sends the
 * certificate and key PEM text, FCM the whole service-account JSON file.
 */
export function encodeContent(secret: ResolvedSecret): CreateCredentialBody["content"] {
  const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64");
  return secret.kind === "apn"
    ? { certificate: b64(secret.certificatePem), privateKey: b64(secret.privateKeyPem) }
    : { privateKey: b64(secret.serviceAccountJson) };
}
