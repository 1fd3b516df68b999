/**
 * The one HTTP agent every Twilio client sends through: keep-alive, timeouts, an overall deadline
 * per request, the proxy settings of the environment, and a cap on how much of an answer is read.
 */
import { Agent, EnvHttpProxyAgent, request, type Dispatcher } from "undici";
import { Cr2commsError, EXIT } from "../errors.js";
import { REQUEST_DEADLINE_CODE } from "./retry.js";
import { KEEP_ALIVE_TIMEOUT_MS, MAX_RESPONSE_BYTES, REQUEST_DEADLINE_MS, REQUEST_TIMEOUT_MS } from "../limits.js";

export interface DispatcherOptions {
  /**
   * Honour `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY` (either case) from `env`. Off for the embedded
   * emulator, which is always on loopback.
   */
  proxy: boolean;
  /** Where the proxy variables are read; default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Connect, headers and body timeout; default `REQUEST_TIMEOUT_MS`. */
  timeoutMs?: number;
  /** Overall deadline of every request sent through this dispatcher; default `REQUEST_DEADLINE_MS`. */
  deadlineMs?: number;
}

/** Deadlines given to `createDispatcher`, found again by `sendHttp` for every request through it. */
const deadlines = new WeakMap<Dispatcher, number>();

/** Creates the shared dispatcher. The caller closes it (`await dispatcher.close()`) when done. */
export function createDispatcher(opts: DispatcherOptions): Dispatcher {
  const dispatcher = makeDispatcher(opts);
  if (opts.deadlineMs !== undefined) deadlines.set(dispatcher, opts.deadlineMs);
  return dispatcher;
}

function makeDispatcher(opts: DispatcherOptions): Dispatcher {
  const timeout = opts.timeoutMs ?? REQUEST_TIMEOUT_MS;
  const agentOptions = {
    connect: { timeout },
    headersTimeout: timeout,
    bodyTimeout: timeout,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
  };
  if (!opts.proxy) return new Agent(agentOptions);
  const env = opts.env ?? process.env;
  // Read here rather than by undici from process.env, so that `env` is the only source; an empty
  // string means "not set" (undici would otherwise fall back to process.env).
  return new EnvHttpProxyAgent({
    ...agentOptions,
    httpProxy: env.http_proxy ?? env.HTTP_PROXY ?? "",
    httpsProxy: env.https_proxy ?? env.HTTPS_PROXY ?? "",
    noProxy: env.no_proxy ?? env.NO_PROXY ?? "",
  });
}

/** An answer was larger than `MAX_RESPONSE_BYTES`; reading stopped there. */
export class ResponseTooLargeError extends Cr2commsError {
  constructor(
    api: string,
    maxBytes: number,
    /** The answer's status: a 2xx (or 5xx) to a create means it may have been carried out. */
    readonly status: number,
  ) {
    super(`${api} API answer (HTTP ${status}) larger than ${maxBytes} bytes; stopped reading`, EXIT.failure);
  }
}

/**
 * A request was still unanswered, or its answer still arriving, at its overall deadline. Its `code`
 * is one of the network error codes: retried like a timeout, and a create's outcome is unknown.
 */
export class RequestDeadlineError extends Error {
  readonly code = REQUEST_DEADLINE_CODE;
  constructor(readonly deadlineMs: number) {
    super(`no complete answer within the request deadline of ${deadlineMs} ms`);
    this.name = "RequestDeadlineError";
  }
}

export interface HttpRequest {
  dispatcher: Dispatcher;
  /** Used in error messages, e.g. "Comms". */
  api: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
  /** Default `MAX_RESPONSE_BYTES`. */
  maxBytes?: number;
  /** Overall deadline; default the dispatcher's (see `createDispatcher`), else `REQUEST_DEADLINE_MS`. */
  deadlineMs?: number;
}

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The body as UTF-8, never more than `maxBytes` bytes of it. */
  text: string;
}

/**
 * Sends one request (no retries) and reads the answer, counting bytes as they arrive: past
 * `maxBytes` the connection is dropped and `ResponseTooLargeError` thrown, so a huge or endless
 * body costs at most `maxBytes` of memory. Past the deadline the request is aborted and
 * `RequestDeadlineError` thrown, however steadily the answer trickles in.
 */
export async function sendHttp(req: HttpRequest): Promise<HttpAnswer> {
  const deadlineMs = req.deadlineMs ?? deadlines.get(req.dispatcher) ?? REQUEST_DEADLINE_MS;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new RequestDeadlineError(deadlineMs)), deadlineMs);
  try {
    return await readAnswer(req, controller.signal);
  } catch (error) {
    if (controller.signal.aborted) throw controller.signal.reason as RequestDeadlineError;
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

async function readAnswer(req: HttpRequest, signal: AbortSignal): Promise<HttpAnswer> {
  const maxBytes = req.maxBytes ?? MAX_RESPONSE_BYTES;
  const res = await request(req.url, {
    dispatcher: req.dispatcher,
    method: req.method as Dispatcher.HttpMethod,
    headers: req.headers,
    body: req.body,
    signal,
  });
  const declared = Number(firstHeader(res.headers["content-length"]));
  if (Number.isFinite(declared) && declared > maxBytes) {
    discard(res.body);
    throw new ResponseTooLargeError(req.api, maxBytes, res.statusCode);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) {
      discard(res.body);
      throw new ResponseTooLargeError(req.api, maxBytes, res.statusCode);
    }
    chunks.push(chunk);
  }
  return { status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks, size).toString("utf8") };
}

/** Drops the rest of an answer; an error from the torn-down stream must not escape as an uncaught one. */
function discard(body: { on(event: "error", f: () => void): unknown; destroy(): unknown }): void {
  body.on("error", () => undefined);
  body.destroy();
}

export function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
