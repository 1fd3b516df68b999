import type { CredentialType } from "../domain.js";

/** Secret references as written in the mapping file: `file:<path>`, `env:<VAR>` or `prompt`. */
export interface MappingSecrets {
  certificate?: string;
  privateKey?: string;
  p12?: string;
  passphrase?: string;
  serviceAccount?: string;
}

export interface MappingEntry {
  sid: string;
  appName?: string;
  isDefault?: boolean;
  /** Explicit override of the type derived from the legacy `sandbox` flag (APN family only). */
  credentialType?: CredentialType;
  skip?: boolean;
  secrets?: MappingSecrets;
  /** 0-based position in the file; messages show it from 1 (`entry #1`). */
  index: number;
}

export interface Mapping {
  version: 1;
  /**
   * The App that should be the account's default App (top-level `defaultApp`): created first on an
   * account without Apps, or made the default (`PATCH …/Apps/{appName}`) when another one is.
   */
  defaultApp?: string;
  credentials: MappingEntry[];
  /** Absolute path of the file it was loaded from; `file:` references are relative to its folder. */
  path: string;
  /**
   * The path as reports show it: relative to the working directory when the file is inside it,
   * else absolute. Set by `loadMapping`; optional so that hand-built mappings need not set it.
   */
  displayPath?: string;
}
