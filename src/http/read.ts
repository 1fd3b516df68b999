import { firstHeader, type HttpAnswer } from "./agent.js";
import { isNetworkError } from "./network.js";
import { classifyHttp, type AttemptOutcome, type RetryDecision } from "./retry.js";

/**
 * The retry decision for a read (a GET: safe to send again) that every client of the shared agent
 * makes the same way: the status and its `Retry-After`, or the network error; anything else is
 * final.
 */
export function classifyRead(outcome: AttemptOutcome<HttpAnswer>): RetryDecision {
  if (outcome.ok) return classifyHttp(true, { status: outcome.value.status, retryAfter: firstHeader(outcome.value.headers["retry-after"]) });
  if (!isNetworkError(outcome.error)) return { kind: "done" };
  return classifyHttp(true, { networkError: outcome.error });
}
