import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { Webhook } from "standardwebhooks";
import { listenOnLoopback } from "./loopback-server";
import type { SinkStep } from "./sink";

/** One request, as the receiver keeps it: small, so a load run can record hundreds of thousands. */
export interface ReceivedRequest {
  /** URL path without the query string. */
  path: string;
  webhookId: string | undefined;
  receivedAt: number;
  /** The body's `timestamp` (Hookline's acceptance time) in ms; undefined when absent. */
  acceptedAt: number | undefined;
  /** 1 for the first request with this webhook-id at this path, 2 for the next, … */
  nth: number;
  /** Whether a secret set for the path verified it; undefined when the path has none. */
  verified: boolean | undefined;
  /** The status written, once written; null until then and for hang, reset or a client gone. */
  answeredStatus: number | null;
  answeredAt: number | undefined;
}

/** What a path does: a fixed step, or one chosen per request (e.g. from `nth`). */
export type ReceiverBehaviour = SinkStep | ((request: ReceivedRequest) => SinkStep);

export interface StartReceiverOptions {
  /** Port to listen on; by default a free one on 127.0.0.1. */
  port?: number;
}

export interface PathStats {
  requests: number;
  /** Requests being handled now (received, not answered): the endpoint's concurrency. */
  inFlight: number;
  /** The most requests handled at once so far. */
  peakInFlight: number;
  /** Requests whose signature failed to verify (only counted where a secret is set). */
  unverified: number;
}

export interface Receiver {
  readonly port: number;
  /** `http://127.0.0.1:<port><path>` */
  url(path: string): string;
  /** Requests at `path` are verified with these `whsec_…` secrets (replacing earlier ones). */
  setSecrets(path: string, secrets: string[]): void;
  /** What `path` answers from now on; 200 at once unless set. */
  behave(path: string, behaviour: ReceiverBehaviour): void;
  /** The requests at `path` (or all), in arrival order. */
  requests(path?: string): readonly ReceivedRequest[];
  /** How many 2xx answers each webhook-id got at `path` (or at any path). */
  okCounts(path?: string): Map<string, number>;
  stats(path: string): PathStats;
  /** Requests received and not yet answered, at every path. */
  inFlight(): number;
  /** Stops listening and destroys open connections, hanging requests included. */
  close(): Promise<void>;
}

const TIMESTAMP = /"timestamp":"([^"]+)"/;

/**
 * A webhook receiver for load and chaos runs: records every request compactly (webhook-id,
 * arrival, acceptance time, answer), answers per path with fixed or computed steps (status,
 * delay, hang, reset, Retry-After), tracks concurrency per path, and verifies signatures with
 * the `standardwebhooks` library when a path has secrets.
 */
export async function startReceiver(opts: StartReceiverOptions = {}): Promise<Receiver> {
  const all: ReceivedRequest[] = [];
  const byPath = new Map<string, ReceivedRequest[]>();
  const seen = new Map<string, number>();
  const behaviours = new Map<string, ReceiverBehaviour>();
  const hooks = new Map<string, Webhook[]>();
  const stats = new Map<string, PathStats>();
  const timers = new Set<NodeJS.Timeout>();
  let inFlight = 0;

  const statsOf = (path: string): PathStats => {
    let s = stats.get(path);
    if (s === undefined) {
      s = { requests: 0, inFlight: 0, peakInFlight: 0, unverified: 0 };
      stats.set(path, s);
    }
    return s;
  };

  const verify = (path: string, body: string, req: IncomingMessage): boolean | undefined => {
    const list = hooks.get(path);
    if (list === undefined || list.length === 0) return undefined;
    const headers = {
      "webhook-id": String(req.headers["webhook-id"] ?? ""),
      "webhook-timestamp": String(req.headers["webhook-timestamp"] ?? ""),
      "webhook-signature": String(req.headers["webhook-signature"] ?? ""),
    };
    for (const hook of list) {
      try {
        hook.verify(body, headers, { jsonParse: false });
        return true;
      } catch {
        // not this secret
      }
    }
    return false;
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("error", () => undefined);
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const path = new URL(req.url ?? "/", "http://receiver").pathname;
      const webhookId = req.headers["webhook-id"];
      const id = typeof webhookId === "string" ? webhookId : undefined;
      const key = `${path}\u0000${id ?? ""}`;
      const nth = (seen.get(key) ?? 0) + 1;
      seen.set(key, nth);
      const stamp = TIMESTAMP.exec(body)?.[1];
      const verified = verify(path, body, req);
      const record: ReceivedRequest = {
        path,
        webhookId: id,
        receivedAt: Date.now(),
        acceptedAt: stamp === undefined ? undefined : Date.parse(stamp),
        nth,
        verified,
        answeredStatus: null,
        answeredAt: undefined,
      };
      all.push(record);
      let list = byPath.get(path);
      if (list === undefined) {
        list = [];
        byPath.set(path, list);
      }
      list.push(record);
      const s = statsOf(path);
      s.requests++;
      if (verified === false) s.unverified++;
      s.inFlight++;
      s.peakInFlight = Math.max(s.peakInFlight, s.inFlight);
      inFlight++;
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        s.inFlight--;
        inFlight--;
      };
      res.on("close", finish);

      const behaviour = behaviours.get(path) ?? {};
      const step = typeof behaviour === "function" ? behaviour(record) : behaviour;
      if (step.reset) {
        finish();
        req.socket.resetAndDestroy();
        return;
      }
      if (step.hang) return; // answered never; the connection closes when the client gives up
      const answer = () => {
        if (res.destroyed) return;
        const headers: Record<string, string> = { "content-type": "text/plain", ...step.headers };
        if (step.retryAfter !== undefined) headers["retry-after"] = step.retryAfter;
        const status = step.status ?? 200;
        res.writeHead(status, headers);
        res.end(step.body ?? "");
        record.answeredStatus = status;
        record.answeredAt = Date.now();
        finish();
      };
      if (step.delayMs === undefined || step.delayMs <= 0) {
        answer();
        return;
      }
      const timer = setTimeout(() => {
        timers.delete(timer);
        answer();
      }, step.delayMs);
      timers.add(timer);
    });
  };

  const server = createServer(handle);
  // Senders keep connections alive; slow answers must not be cut by the server's own timeouts.
  server.keepAliveTimeout = 65_000;
  server.requestTimeout = 0;
  const { port, sockets } = await listenOnLoopback(server, opts.port);
  let closed = false;

  return {
    port,
    url: (path) => `http://127.0.0.1:${port}${path}`,
    setSecrets: (path, secrets) => {
      hooks.set(
        path,
        secrets.map((secret) => new Webhook(secret)),
      );
    },
    behave: (path, behaviour) => {
      behaviours.set(path, behaviour);
    },
    requests: (path) => (path === undefined ? all : (byPath.get(path) ?? [])),
    okCounts: (path) => {
      const counts = new Map<string, number>();
      for (const r of path === undefined ? all : (byPath.get(path) ?? [])) {
        const ok = r.answeredStatus !== null && r.answeredStatus >= 200 && r.answeredStatus < 300;
        if (ok && r.webhookId !== undefined) {
          counts.set(r.webhookId, (counts.get(r.webhookId) ?? 0) + 1);
        }
      }
      return counts;
    },
    stats: (path) => ({ ...statsOf(path) }),
    inFlight: () => inFlight,
    close: async () => {
      if (closed) return;
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      server.closeAllConnections();
      await done;
    },
  };
}
