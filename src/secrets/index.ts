/**
 * Secrets: references in the mapping file (`file:`, `env:`, `prompt`), their resolution, local
 * validation (APNs certificate + key or PKCS#12, FCM service-account JSON), non-secret
 * fingerprints, and the base64 encoding of what is sent to Comms.
 */
export { parseSecretRef, tryParseSecretRef, describeRef, SecretRefError, type SecretRef } from "./refs.js";
export { resolveEntrySecrets, checkSecretFields, promptHidden, type SecretContext } from "./resolve.js";
export {
  validateApn,
  apnEnvironment,
  normalisePrivateKey,
  sha256Hex,
  APPLE_PUSH_DEVELOPMENT_OID,
  APPLE_PUSH_PRODUCTION_OID,
} from "./apn.js";
export { readP12, type P12Contents } from "./p12.js";
export { validateFcm } from "./fcm.js";
export { encodeContent } from "./encode.js";
export { extractPemBlocks, derToPem, type PemBlock } from "./pem.js";
export { readCertificateFacts, type CertificateFacts } from "./der.js";
