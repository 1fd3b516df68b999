/**
 * Every number that shapes traffic to Twilio lives here, with where it comes from.
 */

/** Legacy list page size. Twilio's docs say 1000 is the maximum, its current OpenAPI says 100; 100 is safe under both. */
export const LEGACY_PAGE_SIZE = 100;

/** Comms list page size. The docs give 1..1000 (default 50); large pages mean fewer round trips. */
export const COMMS_PAGE_SIZE = 1000;

/** Comms limits (Push Notifications docs): an account holds at most 10 Apps, an App at most 10 Credentials. */
export const MAX_APPS_PER_ACCOUNT = 10;
export const MAX_CREDENTIALS_PER_APP = 10;

/**
 * Default number of requests in flight. Twilio does not publish the per-account concurrency limit
 * (error 20429 says only "too many concurrent requests"); 4 leaves room for other clients of the
 * same account and already saturates a 10 Apps × 10 Credentials migration (see `npm run bench`).
 */
export const DEFAULT_CONCURRENCY = 4;
export const MAX_CONCURRENCY = 32;

/**
 * Adaptive concurrency (the default when `--concurrency` is not given). It starts at the default
 * above and adjusts itself (see `src/apply/adaptive.ts`): ×ADAPTIVE_START_GROWTH after a window of
 * clean answers until the first 429, +1 after it, cut at once on a 429, within 1..MAX_CONCURRENCY
 * — the same bounds `--concurrency` accepts.
 */
export const ADAPTIVE_START_CONCURRENCY = DEFAULT_CONCURRENCY;
export const ADAPTIVE_MIN_CONCURRENCY = 1;
export const ADAPTIVE_MAX_CONCURRENCY = MAX_CONCURRENCY;
/**
 * After a 429 the limit grows back freely to one below the level that drew it, and above that only
 * after this many clean windows there: each 429 costs its request a whole Retry-After (Twilio sends
 * 1 s or more), so probing a known limit often costs more than one extra slot gains.
 */
export const ADAPTIVE_PROBE_WINDOWS = 8;
/**
 * Growth before the first 429: ×1.5 a window (4, 6, 9, 14, 21, 32). A window counts only answers
 * to requests sent at the current limit, so the first request beyond the server's limit is
 * answered before the next step: an overshoot draws at most a third of the requests in flight.
 */
export const ADAPTIVE_START_GROWTH = 1.5;
/**
 * What a failed probe is taken to cost before any retry wait was seen: one Retry-After of 1 s,
 * the least Twilio asks for. A probe above a level that drew a 429 is sent only while one slot
 * more could save more than that on the work left.
 */
export const ADAPTIVE_ASSUMED_PROBE_COST_MS = 1_000;

/** Retries for retryable answers (429, 503, and for idempotent requests 5xx / network errors). */
export const RETRY_MAX_ATTEMPTS = 6;
/** Exponential backoff with full jitter: base × 2^attempt, capped. */
export const RETRY_BASE_DELAY_MS = 200;
export const RETRY_MAX_DELAY_MS = 10_000;
/** A `Retry-After` larger than this is treated as a failure rather than slept on. */
export const RETRY_AFTER_MAX_MS = 60_000;

/** Per-request timeouts (undici headers/body timeouts): the longest silence allowed. */
export const REQUEST_TIMEOUT_MS = 30_000;
/**
 * The longest one request may take in all, from sending to the last byte of the answer: the
 * timeouts above only measure gaps, so an answer that trickles in would never end without it.
 * The largest answer either client reads (a Comms page of 1000, ~300 KB) takes well under a
 * second; two minutes leaves room for a slow link and a slow proxy. Cut like a timeout: an idempotent
 * request is retried, a create's outcome is unknown.
 */
export const REQUEST_DEADLINE_MS = 120_000;

/** How long an idle keep-alive connection is kept open for the next request. */
export const KEEP_ALIVE_TIMEOUT_MS = 10_000;

/**
 * Largest answer either client reads; beyond it reading stops with an error. A Comms page of 1000
 * credentials is about 300 KB and a legacy page of 100 about 60 KB, so 4 MiB is ample headroom
 * while keeping a hostile or broken server from exhausting memory.
 */
export const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

/**
 * Page budgets: listing stops with an error past them (an endless pager). Generous: 2,000 legacy
 * pages of 100 is 200,000 credentials; 100 Comms pages of 1000 is 1,000 times the 10 Apps × 10
 * Credentials an account can hold.
 */
export const LEGACY_MAX_PAGES = 2_000;
export const COMMS_MAX_PAGES = 100;

/** Server text in an error message is cut to this many characters (after secrets are removed). */
export const MAX_SERVER_TEXT_CHARS = 300;
/** Only this much of a server answer is looked at when building an error message from it. */
export const SERVER_TEXT_SCAN_CHARS = 8_192;

/** A 202 is acceptance, not completion: poll until visible, with backoff, up to this long. */
export const CONFIRM_TIMEOUT_MS = 30_000;
export const CONFIRM_INITIAL_DELAY_MS = 100;
export const CONFIRM_MAX_DELAY_MS = 2_000;
/**
 * While more writes to an App are still on their way, its first confirmation read waits for them
 * (at most this long), so that one list call confirms them all instead of one GET each.
 */
export const CONFIRM_HOLD_MAX_MS = 3_000;

/**
 * After an unknown create outcome, how long to keep listing Comms for the credential before
 * concluding it was not created (covers delayed visibility after a 202).
 */
export const RECONCILE_WINDOW_MS = 30_000;
/**
 * Clock skew tolerated between this machine (attempt start) and Comms (`createdAt`) when looking
 * for what an attempt created. Kept small: a wider window could adopt a credential someone else
 * created just before the run. Anything that existed when the plan was observed is never adopted.
 */
export const RECONCILE_CLOCK_SKEW_MS = 30_000;
/**
 * A create accepted (202) by an earlier run, or one whose outcome was unknown, that is still not
 * visible this long after it was sent is taken as never created and sent again (with a warning).
 * Before that, a rerun waits rather than risk a duplicate.
 */
export const OUTCOME_SETTLE_MS = 10 * 60_000;
/**
 * While waiting for such an outcome, Comms is listed again after 100 ms, doubling up to this:
 * about 130 list calls over the default 10 minutes, one (App, type) at a time.
 */
export const SETTLE_POLL_MAX_MS = 5_000;

/**
 * Local input caps. No real secret file (PEM, .p12, service-account JSON) comes near 1 MiB, and a
 * mapping for the largest account Comms allows (10 Apps × 10 Credentials, plus legacy leftovers)
 * is a few KiB; anything bigger is the wrong file, and reading it whole could exhaust memory.
 */
export const MAX_SECRET_FILE_BYTES = 1024 * 1024;
export const MAX_MAPPING_FILE_BYTES = 1024 * 1024;

/** Certificates expiring within this many days get a warning. */
export const CERT_EXPIRY_WARNING_DAYS = 30;
