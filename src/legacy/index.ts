export {
  createLegacyReader,
  parseSandbox,
  toLegacyCredential,
  DEFAULT_CONVERSATIONS_URL,
  type LegacyReader,
  type LegacyReaderConfig,
} from "./reader.js";
export type { LegacyCredential, LegacyType } from "../domain.js";
export { NetworkError } from "../http/errors.js";
