export { loadMapping, MAPPING_VERSION } from "./load.js";
export { checkTemplates, proposeAppName, readMappingForUpdate, renderScaffold, updateScaffold, writeScaffold, type ScaffoldTemplates, type ScaffoldUpdate } from "./scaffold.js";
export type { Mapping, MappingEntry, MappingSecrets } from "./types.js";
