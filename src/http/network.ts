/**
 * Which thrown errors are the network's fault (so the retry policy may handle them), shared by
 * the legacy reader and the Comms client.
 */
import { networkErrorCode, REQUEST_DEADLINE_CODE } from "./retry.js";

export { REQUEST_DEADLINE_CODE };

/**
 * Node socket/DNS error codes and undici's transport error codes. Anything else (e.g.
 * `ERR_INVALID_ARG_TYPE`, `UND_ERR_INVALID_ARG`) is a bug or a refusal, and retrying cannot fix it.
 */
export const NETWORK_ERROR_CODES: ReadonlySet<string> = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ETIMEDOUT",
  "ECONNABORTED",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH",
  "ENETDOWN",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_CLOSED",
  REQUEST_DEADLINE_CODE,
]);

/** True when `error` (or an error in its `cause` chain) carries one of `NETWORK_ERROR_CODES`. */
export function isNetworkError(error: unknown): boolean {
  const code = networkErrorCode(error);
  return code !== undefined && NETWORK_ERROR_CODES.has(code);
}
