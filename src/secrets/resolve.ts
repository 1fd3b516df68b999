import { homedir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import type { CredentialType, SecretResult } from "../domain.js";
import { InterruptedError } from "../errors.js";
import { MAX_SECRET_FILE_BYTES } from "../limits.js";
import { readLocalFile } from "../localfile.js";
import { escapeControl } from "../text.js";
import type { MappingEntry, MappingSecrets } from "../mapping/types.js";
import { validateApn } from "./apn.js";
import { validateFcm } from "./fcm.js";
import { readP12 } from "./p12.js";
import { describeRef, tryParseSecretRef, type SecretRef } from "./refs.js";

/** What resolving a mapping entry's secrets needs from the outside world. */
export interface SecretContext {
  /** Folder of the mapping file: `file:` references are relative to it. */
  mappingDir: string;
  env: NodeJS.ProcessEnv;
  /** Certificate expiry is judged at this instant. */
  now: Date;
  /** False in CI / piped runs: a `prompt` reference is then a problem, never a hang. */
  interactive: boolean;
  /** Asks for a hidden value; defaults to `promptHidden`. */
  prompt?: (label: string) => Promise<string>;
}

type Field = keyof MappingSecrets;
const APN_FIELDS: readonly Field[] = ["certificate", "privateKey", "p12", "passphrase"];
const FCM_FIELDS: readonly Field[] = ["serviceAccount"];

const APN_EXPECTED = "certificate + privateKey (PEM files), or p12 (+ passphrase)";
const FCM_EXPECTED = "serviceAccount (the Firebase service-account JSON file)";

const PROMPT_LABELS: Record<Field, string> = {
  certificate: "APNs certificate (paste the PEM)",
  privateKey: "APNs private key (paste the PEM)",
  p12: ".p12 bundle (paste it base64-encoded)",
  passphrase: "passphrase",
  serviceAccount: "Firebase service-account JSON (paste it on one line)",
};

/**
 * Asks on the terminal with masked input, writing the question to stderr (stdout carries results).
 * Ctrl-C becomes `InterruptedError`. `io` is for tests.
 */
export async function promptHidden(label: string, io: { input?: NodeJS.ReadableStream; output?: NodeJS.WritableStream } = {}): Promise<string> {
  try {
    // Loaded only when a prompt is needed (about 11 MiB).
    const { default: password } = await import("@inquirer/password");
    return await password({ message: label, mask: "*" }, { input: io.input ?? process.stdin, output: io.output ?? process.stderr });
  } catch (err) {
    if (err instanceof Error && err.name === "ExitPromptError") throw new InterruptedError();
    throw err;
  }
}

/** Problems with which fields are present for the target type (missing, extra, or both APN forms). */
export function checkSecretFields(secrets: MappingSecrets, target: CredentialType): string[] {
  const has = (f: Field) => secrets[f] !== undefined;
  const problems: string[] = [];
  if (target === "FCM") {
    const extra = APN_FIELDS.filter(has);
    if (extra.length > 0) problems.push(`secrets.${extra.join(", secrets.")} ${extra.length === 1 ? "is" : "are"} for APN credentials; FCM needs ${FCM_EXPECTED}`);
    if (!has("serviceAccount")) problems.push(`secrets.serviceAccount is missing; FCM needs ${FCM_EXPECTED}`);
    return problems;
  }
  if (has("serviceAccount")) problems.push(`secrets.serviceAccount is for FCM credentials; ${target} needs ${APN_EXPECTED}`);
  const pem = has("certificate") || has("privateKey");
  if (pem && has("p12")) {
    problems.push(`give either certificate + privateKey or p12, not both; ${target} needs ${APN_EXPECTED}`);
  } else if (pem) {
    if (!has("certificate")) problems.push(`secrets.certificate is missing; ${target} needs ${APN_EXPECTED}`);
    if (!has("privateKey")) problems.push(`secrets.privateKey is missing; ${target} needs ${APN_EXPECTED}`);
  } else if (!has("p12")) {
    problems.push(`no ${has("passphrase") ? "certificate (only a passphrase)" : "secrets"} given; ${target} needs ${APN_EXPECTED}`);
  }
  return problems;
}

/** Reads one reference's value as bytes; pushes a problem (naming field, path or variable) on failure. */
async function load(sid: string, field: Field, ref: SecretRef, ctx: SecretContext, problems: string[]): Promise<Buffer | undefined> {
  const where = `secrets.${field}`;
  if (ref.kind === "file") {
    const path = ref.path.startsWith("~/") ? join(homedir(), ref.path.slice(2)) : isAbsolute(ref.path) ? ref.path : resolve(ctx.mappingDir, ref.path);
    const read = readLocalFile(path, MAX_SECRET_FILE_BYTES);
    if (read.ok) return read.data;
    const shown = escapeControl(path);
    problems.push(
      read.code === "too-large"
        ? `${where}: ${shown} is ${read.reason}; it is not a ${field} file`
        : read.reason === "not found"
          ? `${where}: file not found: ${shown}`
          : `${where}: ${shown} is ${read.reason}`,
    );
    return undefined;
  }
  let text: string;
  if (ref.kind === "env") {
    const value = ctx.env[ref.name];
    if (value === undefined || value === "") {
      problems.push(`${where}: environment variable ${ref.name} is not set`);
      return undefined;
    }
    text = value;
  } else {
    if (!ctx.interactive) {
      problems.push(`${where}: \`prompt\` needs an interactive terminal and this run is not interactive; use file:<path> or env:<VAR>`);
      return undefined;
    }
    text = await (ctx.prompt ?? promptHidden)(`${sid} ${PROMPT_LABELS[field]}`);
    if (text === "") {
      problems.push(`${where}: nothing was entered at the prompt`);
      return undefined;
    }
  }
  if (field === "p12") {
    // A binary bundle can only travel through a variable or a prompt as base64.
    const b64 = text.replace(/\s+/g, "");
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) {
      problems.push(`${where}: the ${describeRef(ref)} must hold the .p12 base64-encoded`);
      return undefined;
    }
    return Buffer.from(b64, "base64");
  }
  return Buffer.from(text, "utf8");
}

/**
 * Resolves and validates one mapping entry's secrets for `target`: checks the references (literal
 * secrets are refused) and the combination of fields, reads files and variables, asks for `prompt`
 * ones (only when nothing else is already wrong), then validates (APN or FCM). Every problem found
 * is returned. Messages do not repeat the sid (whoever prints them names the credential); they name
 * fields, paths (escaped) and variables, never values.
 */
export async function resolveEntrySecrets(entry: MappingEntry, target: CredentialType, ctx: SecretContext): Promise<SecretResult> {
  const sid = entry.sid;
  const secrets = entry.secrets ?? {};
  const problems: string[] = [];
  const refs = new Map<Field, SecretRef>();
  for (const field of [...APN_FIELDS, ...FCM_FIELDS]) {
    const value = secrets[field];
    if (value === undefined) continue;
    const parsed = tryParseSecretRef(value);
    if ("error" in parsed) problems.push(`secrets.${field}: ${parsed.error}`);
    else refs.set(field, parsed.ref);
  }
  problems.push(...checkSecretFields(secrets, target));

  const relevant = target === "FCM" ? FCM_FIELDS : APN_FIELDS;
  const values = new Map<Field, Buffer>();
  // Files and variables first; prompts only if they can still lead somewhere.
  for (const field of relevant) {
    const ref = refs.get(field);
    if (!ref || ref.kind === "prompt") continue;
    const v = await load(sid, field, ref, ctx, problems);
    if (v) values.set(field, v);
  }
  for (const field of relevant) {
    const ref = refs.get(field);
    if (!ref || ref.kind !== "prompt") continue;
    if (ctx.interactive && problems.length > 0) continue;
    const v = await load(sid, field, ref, ctx, problems);
    if (v) values.set(field, v);
  }
  if (problems.length > 0) return { problems, warnings: [] };

  const passphraseBytes = values.get("passphrase");
  // A passphrase file usually ends with a newline that is not part of the passphrase.
  const passphrase = passphraseBytes?.toString("utf8").replace(/\r?\n$/, "");

  if (target === "FCM") return validateFcm(values.get("serviceAccount")!.toString("utf8"));
  const p12 = values.get("p12");
  if (p12) {
    const opened = readP12(p12, passphrase);
    if ("problem" in opened) return { problems: [`secrets.p12: ${opened.problem}`], warnings: [] };
    return validateApn(opened.certificatePem, opened.privateKeyPem, target, ctx.now);
  }
  return validateApn(values.get("certificate")!.toString("utf8"), values.get("privateKey")!.toString("utf8"), target, ctx.now, passphrase === undefined ? {} : { passphrase });
}
