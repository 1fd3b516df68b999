import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

/** One request as a scripted test server saw it. */
export interface SeenRequest {
  method: string;
  url: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage["headers"];
  body: string;
}

export type Reply =
  | { status: number; json?: unknown; text?: string; headers?: Record<string, string> }
  /** Destroy the socket after reading the request (the client sees a reset / closed socket). */
  | "drop"
  /** Never answer (the client's headers timeout fires). */
  | "hang";

/** A tiny loopback HTTP server whose answers come from `handler`; every request is recorded. */
export async function startLocalServer(handler: (req: SeenRequest, index: number) => Reply) {
  const requests: SeenRequest[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://localhost");
      const seen: SeenRequest = {
        method: req.method ?? "",
        url: req.url ?? "",
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      };
      requests.push(seen);
      const reply = handler(seen, requests.length - 1);
      if (reply === "drop") {
        req.socket.destroy();
        return;
      }
      if (reply === "hang") return;
      const headers: Record<string, string> = { ...(reply.headers ?? {}) };
      let payload = reply.text ?? "";
      if (reply.json !== undefined) {
        payload = JSON.stringify(reply.json);
        headers["content-type"] = "application/json";
      }
      res.writeHead(reply.status, headers);
      res.end(payload);
    });
  });
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
