export { createCommsClient, toCommsApp, toCommsCredential, DEFAULT_COMMS_URL, type CommsClientConfig, type CommsRequestKind } from "./client.js";
export { parseErrorBody, type ParsedErrorBody } from "./errors.js";
export type { Accepted, CommsApp, CommsClient, CommsListFilter, CommsStats, CreateCredentialBody } from "./types.js";
export { NetworkError } from "../http/errors.js";
