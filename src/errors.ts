/**
 * Typed errors carrying an exit code. Commands throw them; only the entry point (cli.ts) exits.
 * Exit codes are part of the product contract (SPEC "Exit codes").
 */
export const EXIT = {
  ok: 0,
  failure: 1,
  changes: 2,
  usage: 64,
  interrupted: 130,
} as const;

export class Cr2commsError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.exitCode = exitCode;
  }
}

/** Bad invocation: unknown flag, missing required setting, unreadable/invalid mapping file. */
export class UsageError extends Cr2commsError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, EXIT.usage, options);
  }
}

/** The run cannot (fully) proceed: blocking problems, failed items. The report is still written. */
export class BlockedError extends Cr2commsError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, EXIT.failure, options);
  }
}

/** Which request was refused, for 401 and 403 messages: no query, no credential. */
export interface RefusedRequest {
  /** Host (and port) the request went to. */
  host: string;
  /**
   * Which credential was sent, by name and source, never its value: e.g. `TWILIO_AUTH_TOKEN for
   * AC…` or `API key SK… (TWILIO_API_KEY/TWILIO_API_SECRET)`.
   */
  credential: string;
}

/** 401 from any API. The message names the host and which credential was used; it never repeats one. */
export class AuthError extends Cr2commsError {
  constructor(accountSid: string, api: string, options?: { cause?: unknown; request?: RefusedRequest }) {
    const request = options?.request;
    super(
      request
        ? `authentication failed for account ${accountSid}: the ${api} API at ${request.host} answered 401 to ${request.credential}; ` +
            "check that it is right and that it belongs to this account (an API key must have been created in it)"
        : `authentication failed for account ${accountSid} (${api} API answered 401): check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN ` +
            "(or TWILIO_API_KEY and TWILIO_API_SECRET, and that the API key was created in this account), or the matching flags",
      EXIT.failure,
      options?.cause !== undefined ? { cause: options.cause } : undefined,
    );
  }
}

/** An HTTP API answered with an error status after retries (or a non-retryable one). */
export class ApiError extends Cr2commsError {
  readonly status: number;
  readonly code: number | undefined;
  readonly api: string;
  constructor(api: string, status: number, code: number | undefined, message: string, options?: { cause?: unknown }) {
    super(`${api} API error ${status}${code !== undefined ? ` (code ${code})` : ""}: ${message}`, EXIT.failure, options);
    this.status = status;
    this.code = code;
    this.api = api;
  }
}

/**
 * 403 from any API: the credential is valid but lacks permission for this request (a restricted
 * API key without that grant). Still an `ApiError` with status 403.
 */
export class PermissionError extends ApiError {
  constructor(
    api: string,
    code: number | undefined,
    /** Cleaned server text. */
    serverMessage: string,
    request: RefusedRequest & {
      method: string;
      /** Path template and what the request does, e.g. `/v1/PushNotifications/Credentials (create a credential)`. */
      what: string;
    },
    options?: { cause?: unknown },
  ) {
    super(api, 403, code, serverMessage, options);
    this.message =
      `${api} API answered 403${code !== undefined ? ` (code ${code})` : ""}: ${request.credential} lacks permission to ` +
      `${request.method.toUpperCase()} ${request.host}${request.what}${serverMessage ? ` — ${serverMessage}` : ""}`;
  }
}

/**
 * A write the Comms client refused to send: an earlier write in this account was answered 403, so
 * the key lacks write permission there. Nothing was sent: the item stays `planned`.
 */
export class WritesStoppedError extends Cr2commsError {
  constructor(readonly host: string) {
    super(`not sent: a write to ${host} was refused (403) — the key lacks write permission there; no further write is sent in this account`, EXIT.failure);
  }
}

/**
 * A write whose outcome is unknown: the request may or may not have been carried out
 * (timeout, connection reset/dropped, 5xx after the body was sent). Never blindly re-send a create.
 */
export class UnknownOutcomeError extends Cr2commsError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, EXIT.failure, options);
  }
}

/** Ctrl-C (or SIGTERM / SIGHUP, exit 128 + n): in-flight work was finished and recorded. */
export class InterruptedError extends Cr2commsError {
  constructor(message = "interrupted", exitCode: number = EXIT.interrupted) {
    super(message, exitCode);
  }
}

/** Not an error: a non-zero exit code that carries a result (plan --detailed-exitcode, status drift). */
export class ExitWith extends Cr2commsError {
  constructor(exitCode: number, message = "") {
    super(message, exitCode);
  }
}

/** Another cr2comms run holds the lock beside the ledger (one run at a time). */
export class LockedError extends Cr2commsError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, EXIT.failure, options);
  }
}

/** An append to the ledger (or a rewrite of it) failed: the step it records must not go on unjournalled. */
export class LedgerWriteError extends Cr2commsError {
  readonly path: string;
  readonly code: string | undefined;
  constructor(message: string, path: string, code: string | undefined, options?: { cause?: unknown }) {
    super(message, EXIT.failure, options);
    this.path = path;
    this.code = code;
  }
}

/** The ledger holds a line this version cannot read (hand edit, newer cr2comms): refused, never guessed at. */
export class LedgerReadError extends Cr2commsError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, EXIT.failure, options);
  }
}

/** The reports dir or the ledger cannot be written: found before anything is sent to Comms. */
export class NotWritableError extends Cr2commsError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, EXIT.failure, options);
  }
}
