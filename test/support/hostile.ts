/**
 * Hostile loopback servers for the HTTP layer's tests: an echoing API, an endless body, and a
 * CONNECT proxy that records what it tunnels.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { connect, type AddressInfo, type Socket } from "node:net";

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
