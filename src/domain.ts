/**
 * Domain types shared by every stage of the pipeline:
 * reader (legacy/) → mapper (mapping/) → secrets/ → planner (plan/) → writer (apply/) → report/.
 */

/** Legacy Conversations credential types. */
export type LegacyType = "apn" | "fcm" | "gcm";

/** A legacy Conversations v1 credential as read from `GET /v1/Credentials` (secrets are never returned). */
export interface LegacyCredential {
  /** `CR` + 32 hex. */
  sid: string;
  accountSid: string | null;
  friendlyName: string | null;
  /** Lower-cased; kept as a string because the API may grow types the tool does not know. */
  type: LegacyType | (string & {});
  /** `"True"`/`"true"`/`true` → true, `"False"`/`"false"`/`false` → false, null/absent/other → null. */
  sandbox: boolean | null;
  /** The raw `sandbox` value as the API sent it (string or null), for reports. */
  sandboxRaw: string | null;
  dateCreated: string | null;
  dateUpdated: string | null;
  url: string | null;
}

/** Comms Push Notifications credential types. */
export type CredentialType = "APN" | "APN_SANDBOX" | "FCM";
export const CREDENTIAL_TYPES: readonly CredentialType[] = ["APN", "APN_SANDBOX", "FCM"];

/** A Comms credential as returned by `GET /v1/PushNotifications/Credentials[/{id}]`. */
export interface CommsCredential {
  /** `comms_credential_…` */
  id: string;
  credentialType: CredentialType;
  isDefault: boolean;
  appName: string;
  createdAt: string;
  updatedAt: string;
  /**
   * Fields the API left out (`id`, `appName`, `credentialType`: the docs mark them optional); each
   * is `""` here. Absent when the credential is complete.
   */
  missing?: string[];
}

/** `^[a-z0-9_]+$`, 1..64 — Comms' rule for appName. */
export const APP_NAME_PATTERN = /^[a-z0-9_]{1,64}$/;
export const LEGACY_SID_PATTERN = /^CR[0-9a-fA-F]{32}$/;
export const ACCOUNT_SID_PATTERN = /^AC[0-9a-fA-F]{32}$/;

/** Where a credential lands in Comms. */
export interface Target {
  appName: string;
  credentialType: CredentialType;
  isDefault: boolean;
}

/** Apple push environment read from a certificate's extensions/subject. */
export type ApnEnvironment = "development" | "production" | "both" | "unknown";

/**
 * Non-secret facts about a secret, safe for reports and the ledger.
 * APN: certificate facts; FCM: service-account identity. `contentSha256` is the SHA-256 of the bytes
 * that would be sent (a one-way digest, used to notice that a secret changed between runs).
 */
export interface SecretFingerprint {
  kind: "apn" | "fcm";
  contentSha256: string;
  certSha256?: string;
  subject?: string;
  notAfter?: string;
  environment?: ApnEnvironment;
  projectId?: string;
  clientEmail?: string;
  /** FCM: the service account's `private_key_id` (an identifier, not the key): a new key has a new id. */
  keyId?: string;
}

/** Validated secret material, in memory only. Encoded to base64 only when a request body is built. */
export type ResolvedSecret =
  | { kind: "apn"; certificatePem: string; privateKeyPem: string; fingerprint: SecretFingerprint }
  | { kind: "fcm"; serviceAccountJson: string; fingerprint: SecretFingerprint };

/** Outcome of resolving and validating one mapping entry's secrets. */
export interface SecretResult {
  /** Present when every check passed. */
  secret?: ResolvedSecret;
  /** Facts learned even when validation failed (e.g. an expired certificate's subject). */
  fingerprint?: SecretFingerprint;
  warnings: string[];
  /** Blocking problems; non-empty means the credential cannot be migrated as is. */
  problems: string[];
}
