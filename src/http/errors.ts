import { Cr2commsError, EXIT } from "../errors.js";
import { networkErrorCode, networkErrorReason } from "./retry.js";

/** A request could not get an HTTP answer (DNS, refused, reset, timeout) even after retries. */
export class NetworkError extends Cr2commsError {
  /** The URL without query string or credentials. */
  readonly url: string;
  readonly code: string | undefined;
  constructor(api: string, method: string, url: string, cause: unknown) {
    const code = networkErrorCode(cause);
    const detail = networkErrorReason(cause) ?? (cause instanceof Error ? cause.message : String(cause));
    const safeUrl = stripUrl(url);
    super(`${api} API unreachable: ${method.toUpperCase()} ${safeUrl} failed (${detail})`, EXIT.failure, { cause });
    this.url = safeUrl;
    this.code = code;
  }
}

/** Scheme, host and path only: no query, no userinfo. */
export function stripUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return url.split("?")[0] ?? url;
  }
}
