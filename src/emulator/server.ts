import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { buildAccounts, handleAccounts, isAccountsPath, type EmulatorAccount, type EmulatorAccountStatus, type SubaccountSpec } from "./accounts.js";
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
  /** Requests beyond this many in flight get 429 (code 20429) with Retry-After; counted per account. */
  maxInFlight?: number;
  /** Subaccounts of the seed's account, each with its own token, stores and limit. Default none. */
  subaccounts?: readonly SubaccountSpec[];
}

/** One request as the emulator saw it. `status` is "dropped" when the connection was destroyed unanswered. */
export interface RequestLogEntry {
  method: string;
  path: string;
  query: Record<string, string>;
  status: number | "dropped";
  api: "legacy" | "comms" | "accounts";
  /** The account whose credentials signed the request (undefined when they matched none). */
  accountSid?: string;
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
  /** POST/PATCH/DELETE requests to either API (proves a dry run writes nothing); of one account when given. */
  writeCount(accountSid?: string): number;
  /** Direct access to the legacy and Comms stores (of the parent account). */
  state: EmulatorState;
  /** Every account served: the parent first, then its subaccounts. */
  accounts: ReadonlyMap<string, EmulatorAccount>;
  /** Suspends, closes or reactivates an account (its own credentials then get 401 on Conversations and Comms). */
  setAccountStatus(sid: string, status: EmulatorAccountStatus): void;
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
  const accounts = buildAccounts(seed, state, opts.subaccounts ?? [], opts.maxInFlight);
  let anonymousInFlight = 0;
  const host = opts.host ?? "127.0.0.1";
  const requests: RequestLogEntry[] = [];
  const comms: CommsSettings = { visibilityDelayMs: opts.visibilityDelayMs ?? 0 };
  let latencyMs = opts.latencyMs ?? 0;
  let faults = new FaultInjector(opts.faults);
  let maxInFlight = opts.maxInFlight;
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

  /** The account the Basic credentials belong to; whether they are an API key; what they may do. */
  const authenticate = (header: string | undefined): { account: EmulatorAccount; byKey: boolean; readOnly: boolean } | undefined => {
    const m = /^Basic\s+(.+)$/i.exec(header ?? "");
    if (!m?.[1]) return undefined;
    const decoded = Buffer.from(m[1], "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon < 0) return undefined;
    const user = decoded.slice(0, colon);
    const pass = decoded.slice(colon + 1);
    const account = accounts.get(user);
    if (account && pass === account.authToken) return { account, byKey: false, readOnly: false };
    const parent = accounts.get(seed.accountSid)!;
    const key = seed.apiKeys.find((k) => k.sid === user && k.secret === pass);
    return key ? { account: parent, byKey: true, readOnly: key.readOnly === true } : undefined;
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (held) await held;
    const at = Date.now();
    const method = (req.method ?? "GET").toUpperCase();
    const url = new URL(req.url ?? "/", "http://emulator.invalid");
    const path = url.pathname;
    const api: RequestLogEntry["api"] = isCommsPath(path) ? "comms" : isAccountsPath(path) ? "accounts" : "legacy";
    const auth = authenticate(req.headers.authorization);
    const slot = auth?.account;
    const entry: RequestLogEntry = { method, path, query: Object.fromEntries(url.searchParams), status: 0, api, ...(slot ? { accountSid: slot.sid } : {}), at };
    requests.push(entry);
    const error = api === "comms" ? commsError : legacyError;
    const limit = slot ? slot.maxInFlight : maxInFlight;
    const inFlight = slot ? slot.inFlight : anonymousInFlight;
    const reply = (r: Reply) => {
      entry.status = res.destroyed ? "dropped" : r.status;
      send(res, r, slot ? slot.inFlight : anonymousInFlight);
    };
    const drop = () => {
      entry.status = "dropped";
      res.socket?.destroy();
      res.destroy();
    };

    if (limit !== undefined && inFlight >= limit) {
      // Twilio rejects without processing: the request never counts as in flight.
      await readBody(req).catch(() => "");
      await sleep(latencyMs);
      const r = error(429, CODE.tooManyRequests, "Too Many Requests");
      reply({ ...r, headers: { "Retry-After": "1" } });
      return;
    }
    if (slot) slot.inFlight++;
    else anonymousInFlight++;
    try {
      const fault = faults.next(method, path, slot?.sid);
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
      if (fault === "403") return reply(error(403, CODE.permissionDenied, "Permission denied"));
      if (fault === "503") return reply({ ...error(503, CODE.unavailable, "Service Unavailable"), headers: { "Retry-After": retryAfter } });

      let r: Reply;
      if (!slot || (slot.status !== "active" && api !== "accounts")) {
        // A suspended or closed account's own credentials no longer authenticate.
        r = error(401, CODE.authenticate, "Authenticate");
        r.headers = { "WWW-Authenticate": 'Basic realm="Twilio API"' };
      } else if (auth?.readOnly && WRITE_METHODS.has(method)) {
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
        r = api === "comms" ? handleComms(ctx, slot.state, comms) : api === "accounts" ? handleAccounts(ctx, slot, auth.byKey, accounts) : handleLegacy(ctx, slot.state);
      }
      if (fault === "drop-after-commit") return drop();
      if (fault === "500-after-commit") return reply(error(500, CODE.internal, "Internal Server Error"));
      reply(r);
    } catch (err) {
      reply(error(500, CODE.internal, `emulator error: ${err instanceof Error ? err.message : String(err)}`));
    } finally {
      if (slot) slot.inFlight--;
      else anonymousInFlight--;
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
    writeCount: (accountSid) => requests.filter((r) => WRITE_METHODS.has(r.method) && (accountSid === undefined || r.accountSid === accountSid)).length,
    state,
    accounts,
    setAccountStatus(sid, status) {
      const account = accounts.get(sid);
      if (!account) throw new Error(`no account ${sid}`);
      account.status = status;
    },
    setFaults(f) {
      faults = new FaultInjector(f);
    },
    setMaxInFlight(n) {
      maxInFlight = n;
      for (const a of accounts.values()) a.maxInFlight = n;
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
