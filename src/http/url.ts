import { Cr2commsError, EXIT } from "../errors.js";

/** A client's base URL: http(s) only; a bad one is a usage error naming the API. */
export function parseBaseUrl(baseUrl: string, api: string): URL {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch (cause) {
    throw new Cr2commsError(`invalid ${api} base URL: ${baseUrl}`, EXIT.usage, { cause });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new Cr2commsError(`invalid ${api} base URL (http or https only): ${baseUrl}`, EXIT.usage);
  }
  return url;
}
