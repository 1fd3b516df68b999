/** What a route handler decides; the server writes it (or a fault replaces it). */
export interface Reply {
  status: number;
  headers?: Record<string, string>;
  /** Serialised as JSON; absent means an empty body. */
  body?: unknown;
}

/** One parsed request, as the handlers see it. */
export interface RequestContext {
  method: string;
  /** Path without the query string. */
  path: string;
  query: URLSearchParams;
  body: string;
  /** `http://host:port` from the Host header, so returned URLs point back at this server. */
  origin: string;
  now: number;
}

/** Classic Twilio REST error body (legacy API): `{code, message, more_info, status}`. */
export function legacyError(status: number, code: number, message: string): Reply {
  return { status, body: { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status } };
}

/** Comms-style error body (reference §2.13): `{errors: [{code, message, infoUrl}]}`. */
export function commsError(status: number, code: number, message: string): Reply {
  return { status, body: { errors: [{ code, message, infoUrl: `https://www.twilio.com/docs/api/errors/${code}` }] } };
}

/** Twilio's generic codes used by the emulator. */
export const CODE = {
  invalidParameter: 20001,
  authenticate: 20003,
  permissionDenied: 20403,
  methodNotAllowed: 20004,
  pageSizeTooLarge: 20007,
  notFound: 20404,
  tooManyRequests: 20429,
  internal: 20500,
  unavailable: 20503,
  invalidPageToken: 21481,
} as const;

/** base64url of a string, for opaque page tokens. */
export function encodeToken(text: string): string {
  return Buffer.from(text, "utf8").toString("base64url");
}

/** Inverse of `encodeToken`; undefined when the token is not valid base64url. */
export function decodeToken(token: string): string | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(token)) return undefined;
  return Buffer.from(token, "base64url").toString("utf8");
}
