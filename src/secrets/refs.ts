/** Where a secret comes from, as written in the mapping file. */
export type SecretRef = { kind: "file"; path: string } | { kind: "env"; name: string } | { kind: "prompt" };

/** A mapping value that is not a valid reference. The message never repeats the value. */
export class SecretRefError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SecretRefError";
  }
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Parses `file:<path>`, `env:<VAR>` or `prompt`. Anything else is treated as a literal secret and
 * refused (mapping files are meant to be committed); throws `SecretRefError`.
 */
export function parseSecretRef(value: string): SecretRef {
  const v = value.trim();
  if (v === "prompt") return { kind: "prompt" };
  if (v.startsWith("file:")) {
    const path = v.slice(5).trim();
    if (path === "") throw new SecretRefError("file: reference has no path (write file:<path>, relative to the mapping file)");
    return { kind: "file", path };
  }
  if (v.startsWith("env:")) {
    const name = v.slice(4).trim();
    if (!ENV_NAME.test(name)) throw new SecretRefError("env: reference needs an environment variable name (letters, digits, _), e.g. env:IOS_P12_PASSPHRASE");
    return { kind: "env", name };
  }
  throw new SecretRefError(
    "not a secret reference: literal secrets are refused because mapping files are meant to be committed; write file:<path>, env:<VAR> or prompt (the value is not shown)",
  );
}

/** `parseSecretRef` without the throw. */
export function tryParseSecretRef(value: string): { ref: SecretRef } | { error: string } {
  try {
    return { ref: parseSecretRef(value) };
  } catch (err) {
    if (err instanceof SecretRefError) return { error: err.message };
    throw err;
  }
}

/** How a reference reads in messages: the path or variable name, never a value. */
export function describeRef(ref: SecretRef, resolvedPath?: string): string {
  if (ref.kind === "file") return `file ${resolvedPath ?? ref.path}`;
  if (ref.kind === "env") return `environment variable ${ref.name}`;
  return "prompt";
}
