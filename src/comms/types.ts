import type { CommsCredential, CredentialType } from "../domain.js";

/** Body of `POST /v1/PushNotifications/Credentials`. `content` values are base64. */
export interface CreateCredentialBody {
  credentialType: CredentialType;
  appName: string;
  isDefault?: boolean;
  content: { certificate: string; privateKey: string } | { privateKey: string };
}

/** A `202 Accepted` answer to a Comms write. */
export interface Accepted {
  resourceId: string;
  resourceLocation: string;
}

export interface CommsListFilter {
  appName?: string;
  credentialType?: CredentialType;
  isDefault?: boolean;
  /** ISO date-time: created after. */
  startDate?: string;
  /** ISO date-time: created before. */
  endDate?: string;
}

/** Options of a write (create, delete). */
export interface CreateOptions {
  /**
   * Awaited before each send of the request (n = 1, 2, … as retries of 429/503 re-send it); a
   * rejection stops the request there (nothing more is sent) and is what the write rejects with.
   */
  onSend?: (n: number) => Promise<void>;
}

/** A Comms App as read from `GET /v1/PushNotifications/Apps[/{appName}]` (reference §2.10). */
export interface CommsApp {
  name: string;
  /** The account's default App: a credential sent without an appName lands there. */
  isDefault: boolean;
  createdAt: string;
  updatedAt: string;
}

/** What `watchAnswers` tells about one HTTP answer besides its status. */
export interface AnswerInfo {
  /** The answer's `Date` header (Comms' clock, whole seconds); absent when missing or unreadable. */
  serverDate?: Date;
}

/** Counters a caller (or the benchmark) can read. */
export interface CommsStats {
  requests: number;
  retries: number;
  byKind: Record<string, number>;
}

/**
 * The Comms Push Notifications Credentials API. Implementations retry 429/503 (honouring
 * `Retry-After`) and idempotent requests on transient failures; a create whose outcome is unknown
 * throws `UnknownOutcomeError` and is never re-sent by the client itself.
 */
export interface CommsClient {
  /** Every page. */
  list(filter?: CommsListFilter): Promise<CommsCredential[]>;
  /** null on 404 (not there, or not visible yet). */
  fetch(id: string): Promise<CommsCredential | null>;
  /** GET an absolute `resourceLocation` as returned by a write; null on 404. */
  fetchLocation(location: string): Promise<CommsCredential | null>;
  create(body: CreateCredentialBody, opts?: CreateOptions): Promise<Accepted>;
  setDefault(id: string, isDefault: boolean, opts?: CreateOptions): Promise<Accepted>;
  delete(id: string, opts?: CreateOptions): Promise<Accepted>;
  /** Every App of the account, every page. An App without a name is left out (it cannot be addressed). */
  listApps(): Promise<CommsApp[]>;
  /** null on 404 (no such App: Apps exist only while they hold credentials). */
  fetchApp(appName: string): Promise<CommsApp | null>;
  /** `PATCH …/Apps/{appName}` with `{isDefault: true}`: makes it the account's default App. Idempotent. */
  setDefaultApp(appName: string, opts?: CreateOptions): Promise<Accepted>;
  /** How many device registrations the App has (Device Registrations list filtered by appName, every page). */
  countDeviceRegistrations(appName: string): Promise<number>;
  readonly stats: CommsStats;
  /**
   * Tells `listener` the status of every HTTP answer from now on (each attempt, retries included;
   * nothing for a network error), so a caller can adapt its concurrency. Returns the unsubscribe.
   */
  watchAnswers?(listener: (status: number, answer?: AnswerInfo) => void): () => void;
  /**
   * From now on every wait before a retry (a Retry-After, a backoff) runs through `around`, called
   * in the async context of the request that waits — so a concurrency limiter can give that
   * request's slot back while it sends nothing. Returns the undo.
   */
  /**
   * The `Date` header of the latest answer that had one, and when (this client's `now`) it arrived:
   * Comms' clock against this machine's before the caller has watched any answer itself.
   */
  lastServerDate?(): { serverDate: Date; receivedAt: Date } | undefined;
  aroundRetryWaits?(around: <T>(wait: () => Promise<T>) => Promise<T>): () => void;
  close(): Promise<void>;
}
