import { APP_NAME_PATTERN, type CredentialType, type LegacyCredential, type Target } from "../domain.js";
import type { MappingEntry } from "../mapping/types.js";
import { escapeControl } from "../text.js";

/** Result of mapping one legacy credential: a target when it can be migrated, plus what to tell the user. */
export interface MapResult {
  target?: Target;
  warnings: string[];
  /** Blocking problems; when non-empty there is no target. */
  problems: string[];
}

/** The Comms type the legacy `type`/`sandbox` pair implies (SPEC mapping table), or undefined for gcm/unknown. */
export function derivedCredentialType(legacy: Pick<LegacyCredential, "type" | "sandbox">): CredentialType | undefined {
  if (legacy.type === "apn") return legacy.sandbox === true ? "APN_SANDBOX" : "APN";
  if (legacy.type === "fcm") return "FCM";
  return undefined;
}

/**
 * Maps an apn/fcm legacy credential and its mapping entry to a Comms target (pure). Messages do not
 * name the sid: the item they end up on does.
 * gcm and unknown types are the planner's business; here they are a problem.
 */
export function mapCredential(legacy: LegacyCredential, entry: MappingEntry): MapResult {
  const warnings: string[] = [];
  const problems: string[] = [];
  const derived = derivedCredentialType(legacy);
  if (!derived) {
    return { warnings, problems: [`legacy type "${escapeControl(legacy.type)}" has no Comms equivalent`] };
  }

  let credentialType: CredentialType = derived;
  if (legacy.type === "apn") {
    if (legacy.sandbox === null) {
      warnings.push(
        `the legacy sandbox flag is missing (${legacy.sandboxRaw === null ? "null" : escapeControl(JSON.stringify(legacy.sandboxRaw))}); mapped to APN (production)`,
      );
    }
    if (entry.credentialType !== undefined) {
      if (entry.credentialType === "APN" || entry.credentialType === "APN_SANDBOX") {
        if (entry.credentialType !== derived) {
          warnings.push(
            `credentialType ${entry.credentialType} from the mapping overrides the legacy sandbox flag (which gives ${derived})`,
          );
        }
        credentialType = entry.credentialType;
      } else {
        problems.push(`credentialType ${entry.credentialType} is not valid for a legacy apn credential (use APN or APN_SANDBOX)`);
      }
    }
  } else {
    // Only worth saying while the entry has no service account to use instead.
    if (entry.secrets?.serviceAccount === undefined) {
      warnings.push("the legacy FCM server key cannot be used by Comms; it needs the Firebase service-account JSON (FCM HTTP v1)");
    }
    if (entry.credentialType !== undefined && entry.credentialType !== "FCM") {
      problems.push(`credentialType ${entry.credentialType} is not valid for a legacy fcm credential (only FCM)`);
    }
  }

  const appName = entry.appName;
  if (appName === undefined || appName === "") {
    problems.push(`mapping entry #${entry.index + 1} has no appName`);
  } else if (!APP_NAME_PATTERN.test(appName)) {
    problems.push(`appName "${escapeControl(appName)}" must match ^[a-z0-9_]+$ and be 1..64 characters`);
  }

  if (problems.length > 0 || appName === undefined) return { warnings, problems };
  return { target: { appName, credentialType, isDefault: entry.isDefault ?? false }, warnings, problems };
}
