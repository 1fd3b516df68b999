export { loadMapping, MAPPING_VERSION } from "./load.js";
export { proposeAppName, renderScaffold, writeScaffold } from "./scaffold.js";
export type { Mapping, MappingEntry, MappingSecrets } from "./types.js";
