/**
 * Hostile loopback servers for the HTTP layer's tests: an echoing API, an endless body, a dripping
 * answer, a relay that rewrites answers, and a CONNECT proxy that records what it tunnels.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { connect, createServer as createTcpServer, type AddressInfo, type Socket } from "node:net";

export interface Started {
  url: string;
  port: number;
  close(): Promise<void>;
}

async function listen(server: ReturnType<typeof createServer>, sockets: Set<Socket>): Promise<Started> {
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
  });
}

/** How the echoing server puts the request back into its 400 answer. */
export type EchoMode =
  /** Classic Twilio `{code, message}` with the raw body as message. */
  | "message"
  /** Comms `{errors: [{code, detail}]}` with the raw body as detail. */
  | "errors-detail"
  /** text/plain: a sentence quoting the raw body. */
  | "text"
  /** application/problem+json with the raw body as detail. */
  | "problem"
  /** `{message}` quoting the body and every base64 value of it decoded (a very helpful server). */
  | "decoded";

function decodedEcho(body: string): string {
  const parts = [body];
  const walk = (node: unknown): void => {
    if (typeof node === "string" && /^[A-Za-z0-9+/]{16,}={0,2}$/.test(node)) parts.push(Buffer.from(node, "base64").toString("utf8"));
    else if (node && typeof node === "object") Object.values(node).forEach(walk);
  };
  try {
    walk(JSON.parse(body));
  } catch {
    // not JSON: the raw body is echoed alone
  }
  return `could not process request: ${parts.join(" | ")}`;
}

/**
 * Answers every write (POST/PATCH/DELETE) with 400 echoing the request body as `mode` says;
 * GET lists answer an empty Comms page. `writes` records each write's body.
 */
export async function startEchoServer(mode: EchoMode): Promise<Started & { writes: string[] }> {
  const writes: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    void readBody(req).then((body) => {
      if (req.method === "GET") {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ credentials: [], pagination: {} }));
        return;
      }
      writes.push(body);
      const send = (type: string, payload: string) => {
        res.writeHead(400, { "content-type": type });
        res.end(payload);
      };
      if (mode === "message") send("application/json", JSON.stringify({ code: 20001, message: body, status: 400 }));
      else if (mode === "errors-detail") send("application/json", JSON.stringify({ errors: [{ code: 20001, detail: body }] }));
      else if (mode === "text") send("text/plain", `Bad request, received: ${body}`);
      else if (mode === "problem") {
        send("application/problem+json", JSON.stringify({ type: "https://example.test/bad", title: "Bad request", status: 400, detail: body }));
      } else send("application/json", JSON.stringify({ code: 20001, message: decodedEcho(body) }));
    });
  });
  return { ...(await listen(server, sockets)), writes };
}

/**
 * Answers 200 with a body that never ends (chunked, `chunk` bytes at a time); `sent()` is how
 * many body bytes were written before the client went away.
 */
export async function startEndlessServer(opts: { contentLength?: number; chunk?: number } = {}): Promise<Started & { sent(): number; requests(): number }> {
  let sent = 0;
  let requests = 0;
  const chunk = Buffer.alloc(opts.chunk ?? 16 * 1024, 0x61);
  const sockets = new Set<Socket>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    requests++;
    void readBody(req).then(() => {
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (opts.contentLength !== undefined) headers["content-length"] = String(opts.contentLength);
      res.writeHead(200, headers);
      res.write('{"credentials":["');
      const pump = (): void => {
        while (!res.destroyed) {
          sent += chunk.length;
          if (!res.write(chunk)) {
            res.once("drain", pump);
            return;
          }
        }
      };
      res.on("close", () => res.removeAllListeners("drain"));
      pump();
    });
  });
  return { ...(await listen(server, sockets)), sent: () => sent, requests: () => requests };
}

/** A CONNECT proxy on loopback: tunnels to any target and records `host:port` of each tunnel. */
export async function startConnectProxy(): Promise<Started & { tunnels: string[] }> {
  const tunnels: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(405);
    res.end();
  });
  server.on("connect", (req: IncomingMessage, client: Socket, head: Buffer) => {
    const target = req.url ?? "";
    tunnels.push(target);
    const [host, port] = target.split(":");
    const upstream = connect(Number(port), host ?? "127.0.0.1", () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on("close", () => sockets.delete(upstream));
    upstream.on("error", () => client.destroy());
    client.on("error", () => upstream.destroy());
  });
  return { ...(await listen(server, sockets)), tunnels };
}

/**
 * Answers every request with a valid 200 that never completes in time: one byte every `everyMs`
 * (`where: "headers"` drips the status line and headers, `"body"` sends the headers at once and
 * drips the body), so no gap ever reaches a header or body timeout. Each connection gets at most
 * `maxBytes` bytes. `requests()` counts the requests that arrived.
 */
export async function startDripServer(opts: { where: "headers" | "body"; everyMs: number; maxBytes?: number }): Promise<Started & { requests(): number }> {
  let requests = 0;
  const sockets = new Set<Socket>();
  const tcp = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
    let seen = "";
    socket.on("data", (b: Buffer) => {
      seen += b.toString("latin1");
      if (!seen.includes("\r\n\r\n")) return;
      seen = "";
      requests++;
      const body = '{"credentials":[],"meta":{"next_page_url":null},"pagination":{}}' + " ".repeat(opts.maxBytes ?? 400);
      const head = `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`;
      const drip = opts.where === "headers" ? head + body : body;
      if (opts.where === "body") socket.write(head);
      let i = 0;
      const timer = setInterval(() => {
        if (socket.destroyed || i >= drip.length) {
          clearInterval(timer);
          return;
        }
        socket.write(drip[i++]!);
      }, opts.everyMs);
      socket.on("close", () => clearInterval(timer));
    });
  });
  await new Promise<void>((resolve) => tcp.listen(0, "127.0.0.1", resolve));
  const { port } = tcp.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests: () => requests,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
    },
  };
}

/** What a relay does with one answer before passing it on (status, headers, body as text). */
export type RelayRewrite = (req: { method: string; path: string; body: string }, answer: { status: number; headers: Record<string, string>; body: string }) => { status: number; headers: Record<string, string>; body: string };

/**
 * Passes every request on to `target` (an emulator) and its answer back through `rewrite`: the
 * server really acts on each request, only the answer the client sees is changed.
 */
export async function startRelay(target: string, rewrite: RelayRewrite): Promise<Started> {
  const sockets = new Set<Socket>();
  // The target names itself in locations; the client must see the relay there instead.
  let self = target;
  const relay = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = await readBody(req);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string" && !["host", "connection", "content-length"].includes(k)) headers[k] = v;
    const method = req.method ?? "GET";
    const upstream = await fetch(`${target}${req.url ?? "/"}`, { method, headers, ...(method === "GET" || method === "HEAD" ? {} : { body }) });
    const answer = { status: upstream.status, headers: {} as Record<string, string>, body: (await upstream.text()).replaceAll(target, self) };
    upstream.headers.forEach((v, k) => {
      if (k !== "content-length" && k !== "connection" && k !== "keep-alive" && k !== "transfer-encoding") answer.headers[k] = v.replaceAll(target, self);
    });
    const out = rewrite({ method, path: new URL(req.url ?? "/", "http://relay").pathname, body }, answer);
    res.writeHead(out.status, { ...out.headers, "content-length": String(Buffer.byteLength(out.body)) });
    res.end(out.body);
  };
  // The target gone (the test ended) reaches the client as a dropped connection.
  const server = createServer((req: IncomingMessage, res: ServerResponse) => void relay(req, res).catch(() => res.destroy()));
  const started = await listen(server, sockets);
  self = started.url;
  return started;
}
