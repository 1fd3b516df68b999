import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { handleComms, isCommsPath, type CommsSettings } from "./comms.js";
import { FaultInjector, type FaultKind, type FaultOptions } from "./faults.js";
import { CODE, commsError, legacyError, type Reply, type RequestContext } from "./http.js";
import { handleLegacy } from "./legacy.js";
import { resolveSeed, SAMPLE_SEED, type Seed } from "./seed.js";
import { EmulatorState } from "./state.js";

/** How to start the emulator. Everything is optional; the defaults serve SAMPLE_SEED on a random loopback port. */
export interface EmulatorOptions {
  /** 0 = random (default). */
  port?: number;
  /** Default "127.0.0.1". */
  host?: string;
  /** Default SAMPLE_SEED; a partial seed takes SAMPLE_SEED's account and token. */
  seed?: Seed;
  /** Added before every response. */
  latencyMs?: number;
  /** A created Comms credential is invisible to GET/list for this long after its 202. */
  visibilityDelayMs?: number;
  faults?: FaultOptions;
  /** Requests beyond this many in flight get 429 (code 20429) with Retry-After. */
  maxInFlight?: number;
}

/** One request as the emulator saw it. `status` is "dropped" when the connection was destroyed unanswered. */
export interface RequestLogEntry {
  method: string;
  path: string;
  query: Record<string, string>;
  status: number | "dropped";
  api: "legacy" | "comms";
  fault?: FaultKind;
  /** Arrival time, epoch ms. */
  at: number;
}

/** A running emulator. */
export interface Emulator {
  /** "http://127.0.0.1:PORT" */
  url: string;
  port: number;
  accountSid: string;
  authToken: string;
  /** Every request, in arrival order. */
  requests: RequestLogEntry[];
  /** POST/PATCH/DELETE requests to either API (proves a dry run writes nothing). */
  writeCount(): number;
  /** Direct access to the legacy and Comms stores. */
  state: EmulatorState;
  /** Replaces the fault settings (and restarts the PRNG and script); undefined turns faults off. */
  setFaults(f: FaultOptions | undefined): void;
  setMaxInFlight(n: number | undefined): void;
  setLatencyMs(ms: number): void;
  setVisibilityDelayMs(ms: number): void;
  /**
   * Holds every request (answered in arrival order once released) until the returned function is
   * called: tests use it to keep a client at a known step, whatever the machine's load.
   */
  hold(): () => void;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1024 * 1024;
const WRITE_METHODS = new Set(["POST", "PATCH", "DELETE", "PUT"]);

/** Starts an in-process emulator of both Twilio APIs on one loopback HTTP port. */
export async function startEmulator(opts: EmulatorOptions = {}): Promise<Emulator> {
  const seed = resolveSeed(opts.seed ?? SAMPLE_SEED);
  const state = new EmulatorState(seed);
  const host = opts.host ?? "127.0.0.1";
  const requests: RequestLogEntry[] = [];
  const comms: CommsSettings = { visibilityDelayMs: opts.visibilityDelayMs ?? 0 };
  let latencyMs = opts.latencyMs ?? 0;
  let faults = new FaultInjector(opts.faults);
  let maxInFlight = opts.maxInFlight;
  let inFlight = 0;
  const timers = new Set<NodeJS.Timeout>();
  let held: Promise<void> | undefined;

  const sleep = (ms: number) =>
    ms <= 0
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
          const t = setTimeout(() => {
            timers.delete(t);
            resolve();
          }, ms);
          timers.add(t);
        });

  /** What the Basic credentials of a request may do: everything, only read, or nothing (not known). */
  const access = (header: string | undefined): "all" | "read" | undefined => {
    const m = /^Basic\s+(.+)$/i.exec(header ?? "");
    if (!m?.[1]) return undefined;
    const decoded = Buffer.from(m[1], "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon < 0) return undefined;
    const user = decoded.slice(0, colon);
    const pass = decoded.slice(colon + 1);
    if (user === seed.accountSid && pass === seed.authToken) return "all";
    const key = seed.apiKeys.find((k) => k.sid === user && k.secret === pass);
    if (!key) return undefined;
    return key.readOnly === true ? "read" : "all";
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (held) await held;
    const at = Date.now();
    const method = (req.method ?? "GET").toUpperCase();
    const url = new URL(req.url ?? "/", "http://emulator.invalid");
    const path = url.pathname;
    const api: "legacy" | "comms" = isCommsPath(path) ? "comms" : "legacy";
    const entry: RequestLogEntry = { method, path, query: Object.fromEntries(url.searchParams), status: 0, api, at };
    requests.push(entry);
    const error = api === "legacy" ? legacyError : commsError;
    const reply = (r: Reply) => {
      entry.status = res.destroyed ? "dropped" : r.status;
      send(res, r, inFlight);
    };
    const drop = () => {
      entry.status = "dropped";
      res.socket?.destroy();
      res.destroy();
    };

    if (maxInFlight !== undefined && inFlight >= maxInFlight) {
      // Twilio rejects without processing: the request never counts as in flight.
      await readBody(req).catch(() => "");
      await sleep(latencyMs);
      const r = error(429, CODE.tooManyRequests, "Too Many Requests");
      reply({ ...r, headers: { "Retry-After": "1" } });
      return;
    }
    inFlight++;
    try {
      const fault = faults.next(method, path);
      if (fault) entry.fault = fault;
      const retryAfter = String(faults.retryAfterSeconds);
      let body: string;
      try {
        body = await readBody(req);
      } catch {
        reply(error(413, CODE.invalidParameter, `Request body larger than ${MAX_BODY_BYTES} bytes`));
        return;
      }
      await sleep(latencyMs);
      // A client that hung up meanwhile does not stop the server: like a real API, the request is
      // still carried out; only the answer is lost (the writer must reconcile such creates).
      if (fault === "drop-before-commit") return drop();
      if (fault === "429") return reply({ ...error(429, CODE.tooManyRequests, "Too Many Requests"), headers: { "Retry-After": retryAfter } });
      if (fault === "503") return reply({ ...error(503, CODE.unavailable, "Service Unavailable"), headers: { "Retry-After": retryAfter } });

      let r: Reply;
      const may = access(req.headers.authorization);
      if (may === undefined) {
        r = error(401, CODE.authenticate, "Authenticate");
        r.headers = { "WWW-Authenticate": 'Basic realm="Twilio API"' };
      } else if (may === "read" && WRITE_METHODS.has(method)) {
        // As Twilio answers a restricted key without the grant: refused before anything is done.
        r = error(403, CODE.permissionDenied, "Authenticated user is not authorized to perform this action");
      } else {
        const ctx: RequestContext = {
          method,
          path,
          query: url.searchParams,
          body,
          origin: `http://${req.headers.host ?? hostPort(host, port)}`,
          now: Date.now(),
        };
        r = api === "comms" ? handleComms(ctx, state, comms) : handleLegacy(ctx, state);
      }
      if (fault === "drop-after-commit") return drop();
      if (fault === "500-after-commit") return reply(error(500, CODE.internal, "Internal Server Error"));
      reply(r);
    } catch (err) {
      reply(error(500, CODE.internal, `emulator error: ${err instanceof Error ? err.message : String(err)}`));
    } finally {
      inFlight--;
    }
  }

  const server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  let closed: Promise<void> | undefined;

  return {
    url: `http://${hostPort(host, port)}`,
    port,
    accountSid: seed.accountSid,
    authToken: seed.authToken,
    requests,
    writeCount: () => requests.filter((r) => WRITE_METHODS.has(r.method)).length,
    state,
    setFaults(f) {
      faults = new FaultInjector(f);
    },
    setMaxInFlight(n) {
      maxInFlight = n;
    },
    setLatencyMs(ms) {
      latencyMs = ms;
    },
    setVisibilityDelayMs(ms) {
      comms.visibilityDelayMs = ms;
    },
    hold() {
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      held = gate;
      return () => {
        if (held === gate) held = undefined;
        release();
      };
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        timers.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

function hostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on("end", () => (tooLarge ? reject(new Error("body too large")) : resolve(Buffer.concat(chunks).toString("utf8"))));
    req.on("error", reject);
  });
}

function send(res: ServerResponse, reply: Reply, concurrent: number): void {
  if (res.destroyed || res.writableEnded) return;
  const payload = reply.body === undefined ? "" : JSON.stringify(reply.body);
  const headers: Record<string, string | number> = {
    ...reply.headers,
    "Twilio-Concurrent-Requests": concurrent,
    "Content-Length": Buffer.byteLength(payload),
  };
  if (reply.body !== undefined) headers["Content-Type"] = "application/json; charset=utf-8";
  res.writeHead(reply.status, headers);
  res.end(payload);
}
