import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import type { CredentialType, LegacyCredential } from "../domain.js";
import { UsageError } from "../errors.js";
import { writeFileAtomic } from "../report/atomic.js";
import { escapeControl } from "../text.js";

const MAX_APP_NAME = 64;

/**
 * An appName (`^[a-z0-9_]+$`, 1..64) proposed from a friendly name: lower-cased (accents removed), every run of other
 * characters turned into `_`, trimmed; `app_<last 8 of sid>` when nothing is left. When the result is
 * in `taken`, `_2`, `_3`, … is appended. `taken` is not modified.
 */
export function proposeAppName(friendlyName: string | null, sid: string, taken: Set<string>): string {
  let base = (friendlyName ?? "")
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "")
    .slice(0, MAX_APP_NAME)
    .replace(/_+$/, "");
  if (base === "") base = `app_${sid.slice(-8).toLowerCase().replace(/[^a-z0-9]/g, "0")}`;
  if (!taken.has(base)) return base;
  for (let n = 2; ; n++) {
    const suffix = `_${n}`;
    const candidate = `${base.slice(0, MAX_APP_NAME - suffix.length)}${suffix}`;
    if (!taken.has(candidate)) return candidate;
  }
}

/** The Comms type a legacy credential maps to (SPEC mapping table); undefined for gcm and unknown types. */
function targetType(c: LegacyCredential): CredentialType | undefined {
  if (c.type === "apn") return c.sandbox === true ? "APN_SANDBOX" : "APN";
  if (c.type === "fcm") return "FCM";
  return undefined;
}

/** Text safe to put in a YAML comment: one line, bounded. */
function commentText(value: string | null): string {
  if (value === null) return "(no friendly name)";
  // Escaped after JSON quoting too: U+2028 or a bidi override must not reach a YAML comment raw.
  const oneLine = value.replace(/[\r\n\t]+/g, " ").trim();
  return escapeControl(JSON.stringify(oneLine.length > 100 ? `${oneLine.slice(0, 99)}…` : oneLine));
}

function legacyDescription(c: LegacyCredential): string {
  if (c.type !== "apn") return `legacy ${escapeControl(c.type)}`;
  // The raw flag is whatever the API sent: a newline in it would start a YAML line of its own.
  const raw = c.sandboxRaw === null ? "unset" : escapeControl(c.sandboxRaw);
  return `legacy apn, sandbox ${raw}`;
}

const HEADER = `# cr2comms mapping file: which legacy Conversations credential (CR…) goes to which Comms App.
#
# How to fill it in:
#   1. Review each appName (^[a-z0-9_]+$, 1..64 characters). Credentials that share an appName land in
#      the same Comms App (e.g. the APN and APN_SANDBOX certificates of one iOS app, or iOS and
#      Android). Comms allows at most 10 Apps per account and 10 credentials per App.
#   2. Provide the secrets: the legacy API never returns certificates, keys or server keys.
#      A secret is a reference, never the secret itself:
#        file:<path>   a file, relative to this mapping file's folder
#        env:<VAR>     an environment variable
#        prompt        ask on the terminal with hidden input (interactive runs only)
#      A literal secret in this file is refused: mapping files are meant to be committed.
#      Keep the secret files themselves out of version control (add their folder to .gitignore).
#      APN: certificate + privateKey (PEM), or p12 (+ passphrase).
#      FCM: serviceAccount, the Firebase service-account JSON (FCM HTTP v1).
#   3. Optional: isDefault: true (at most one per appName and credentialType), credentialType to
#      override the type derived from the legacy sandbox flag (APN / APN_SANDBOX), or skip: true to
#      leave a credential alone. Credentials left out of this file are reported as unmapped.
#   4. Run \`cr2comms plan\` and read the report before \`cr2comms apply\`.
`;

/**
 * The commented YAML mapping `cr2comms init` writes: one entry per apn/fcm credential with a
 * proposed appName and secret placeholders; gcm and unknown types as comments only.
 * The result loads with `loadMapping`.
 */
export function renderScaffold(legacy: LegacyCredential[], opts: { generatedAt: string; accountSid: string }): string {
  const lines: string[] = [HEADER.trimEnd()];
  lines.push(`#`, `# Generated ${opts.generatedAt} for account ${opts.accountSid} from ${legacy.length} legacy credential(s).`, ``);
  lines.push(`version: 1`);

  // Names collide only within one target type: different types may share an App.
  const takenByType = new Map<CredentialType, Set<string>>();
  const entries: string[][] = [];
  const notes: string[][] = [];
  for (const c of legacy) {
    const type = targetType(c);
    if (type === undefined) {
      notes.push(
        c.type === "gcm"
          ? [
              `  # ${c.sid} ${commentText(c.friendlyName)} (legacy gcm): will be dropped, with a warning.`,
              `  #   Comms has no GCM type and Google shut GCM down in 2019; nothing to fill in.`,
            ]
          : [
              `  # ${c.sid} ${commentText(c.friendlyName)}: unknown legacy type ${commentText(c.type)}.`,
              `  #   cr2comms does not know how to migrate it; it will be reported as not migrated.`,
            ],
      );
      continue;
    }
    const taken = takenByType.get(type) ?? new Set<string>();
    takenByType.set(type, taken);
    const appName = proposeAppName(c.friendlyName, c.sid, taken);
    taken.add(appName);
    const file = `secrets/${appName}-${c.sid.slice(-8).toLowerCase()}`;
    const entry = [
      `  # ${commentText(c.friendlyName)}: ${legacyDescription(c)} -> Comms ${type}`,
      `  - sid: ${c.sid}`,
      `    appName: ${appName}`,
      `    secrets:`,
    ];
    if (type === "FCM") {
      entry.push(
        `      # The legacy FCM server key cannot be used by Comms: it needs the Firebase`,
        `      # service-account JSON (Firebase console > Project settings > Service accounts).`,
        `      serviceAccount: file:${file}-service-account.json`,
      );
    } else {
      entry.push(
        `      certificate: file:${file}.cert.pem`,
        `      privateKey: file:${file}.key.pem`,
        `      # or, instead of certificate + privateKey, a PKCS#12 bundle:`,
        `      # p12: file:${file}.p12`,
        `      # passphrase: env:${appName.toUpperCase()}_P12_PASSPHRASE`,
      );
    }
    entries.push(entry);
  }

  if (entries.length === 0) {
    lines.push(`credentials: []`);
    if (notes.length > 0) {
      lines.push(`# Not migrated:`);
      for (const note of notes) for (const l of note) lines.push(l.slice(2));
    }
  } else {
    lines.push(`credentials:`);
    for (const entry of entries) {
      for (const l of entry) lines.push(l);
      lines.push(``);
    }
    if (notes.length > 0) {
      lines.push(`  # Not migrated:`);
      for (const note of notes) for (const l of note) lines.push(l);
    }
  }
  return `${lines.join("\n").trimEnd()}\n`;
}

/**
 * Writes a scaffold to `path`, creating parent folders. Refuses (UsageError) to replace an existing
 * file unless `force`; the write is atomic (temporary file, then rename).
 */
export async function writeScaffold(path: string, text: string, opts: { force: boolean }): Promise<void> {
  try {
    await mkdir(dirname(path), { recursive: true });
    await writeFileAtomic(path, text, { overwrite: opts.force });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST") {
      throw new UsageError(`${path} already exists; not overwriting it (use --force to replace it)`, { cause: err });
    }
    throw new UsageError(`cannot write ${path}: ${code ?? String(err)}`, { cause: err });
  }
}
