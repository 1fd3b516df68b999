export { loadMapping, MAPPING_VERSION } from "./load.js";
export { proposeAppName, readMappingForUpdate, renderScaffold, updateScaffold, writeScaffold, type ScaffoldUpdate } from "./scaffold.js";
export type { Mapping, MappingEntry, MappingSecrets } from "./types.js";
