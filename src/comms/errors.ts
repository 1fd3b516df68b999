/**
 * Comms error bodies are undocumented for the push endpoints; sibling APIs use several shapes.
 * The parser lives in `http/server-text.ts`, next to the cleaning both clients apply to server text.
 */
export { parseErrorBody, cleanServerText, type ParsedErrorBody, type CleanOptions } from "../http/server-text.js";
