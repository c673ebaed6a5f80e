import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { Webhook } from "standardwebhooks";
import { listenOnLoopback } from "./loopback-server";

/** What the sink does with one request. */
export interface SinkStep {
  /** Response status; default 200. */
  status?: number;
  /** Wait this long before answering (the request is recorded at once). */
  delayMs?: number;
  /** Never answer, until the client gives up or the sink closes. */
  hang?: boolean;
  /** Destroy the connection (TCP RST) without answering. */
  reset?: boolean;
  /** Sent as the Retry-After header. */
  retryAfter?: string;
  body?: string;
  headers?: Record<string, string>;
}

/** One request the sink received, recorded when its body ended. */
export interface Delivery {
  /** URL path without the query string; scripts and secrets are keyed by it. */
  path: string;
  /** The raw request target, query string included. */
  url: string;
  method: string;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: string;
  receivedAt: number;
  webhookId: string | undefined;
  webhookTimestamp: string | undefined;
  /** The space-separated entries of webhook-signature, e.g. "v1,<base64>". */
  signatures: string[];
  /** The secrets registered for the path that verified this request. */
  verifiedSecrets: string[];
  /** True when at least one registered secret verified it. */
  verified: boolean;
  /** The parsed body, or undefined when it is not JSON. */
  json: unknown;
  /** The status answered (or to be answered after delayMs); null for hang and reset. */
  answeredStatus: number | null;
}

export interface StartSinkOptions {
  /** Port to listen on; by default a free one. */
  port?: number;
  /** Receives one summary line per request, e.g. for a demo receiver. */
  log?: (line: string) => void;
}

export interface WaitForOptions {
  path?: string;
  /** Default 10 s. */
  timeoutMs?: number;
}

export interface Sink {
  readonly port: number;
  /** `http://127.0.0.1:<port><path>` */
  url(path?: string): string;
  /** The `whsec_…` secrets every request at `path` is verified against (replaces earlier ones). */
  setSecrets(path: string, secrets: string[]): void;
  /** Steps consumed one per request at `path`, in order (replaces an earlier script). */
  script(path: string, steps: SinkStep[]): void;
  /** What `path` does once its script is used up; 200 unless set. */
  setDefault(path: string, step: SinkStep): void;
  deliveries(path?: string): Delivery[];
  count(path?: string): number;
  /** Resolves with the deliveries at `path` (or all) once at least `count` have arrived. */
  waitFor(count: number, opts?: WaitForOptions): Promise<Delivery[]>;
  /** Forgets recorded deliveries; scripts, defaults and secrets stay. */
  clear(): void;
  /** Stops listening and destroys open and hanging connections. */
  close(): Promise<void>;
}

interface Waiter {
  count: number;
  path: string | undefined;
  resolve: (deliveries: Delivery[]) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * A real HTTP receiver standing in for a customer's webhook endpoint. Signatures are checked
 * with the `standardwebhooks` library, independently of Hookline's own signing code.
 */
export async function startSink(opts: StartSinkOptions = {}): Promise<Sink> {
  const recorded: Delivery[] = [];
  const secrets = new Map<string, { value: string; hook: Webhook }[]>();
  const scripts = new Map<string, SinkStep[]>();
  const defaults = new Map<string, SinkStep>();
  const waiters = new Set<Waiter>();
  const timers = new Set<NodeJS.Timeout>();

  // Counts per path keep waitFor cheap when a load test records many thousands of requests.
  const counts = new Map<string, number>();
  const countAt = (path: string | undefined) =>
    path === undefined ? recorded.length : (counts.get(path) ?? 0);
  const matching = (path: string | undefined) =>
    path === undefined ? [...recorded] : recorded.filter((d) => d.path === path);

  const settleWaiters = () => {
    for (const waiter of waiters) {
      if (countAt(waiter.path) >= waiter.count) {
        waiters.delete(waiter);
        clearTimeout(waiter.timer);
        waiter.resolve(matching(waiter.path));
      }
    }
  };

  const nextStep = (path: string): SinkStep => {
    const steps = scripts.get(path);
    return steps?.shift() ?? defaults.get(path) ?? {};
  };

  const verify = (path: string, body: string, headers: Record<string, string>): string[] => {
    const ok: string[] = [];
    for (const { value, hook } of secrets.get(path) ?? []) {
      try {
        // jsonParse off: a correctly signed non-JSON body is still verified.
        hook.verify(body, headers, { jsonParse: false });
        ok.push(value);
      } catch {
        // not signed with this secret (or stale timestamp, or missing headers)
      }
    }
    return ok;
  };

  const respond = (req: IncomingMessage, res: ServerResponse, step: SinkStep) => {
    if (step.reset) {
      req.socket.resetAndDestroy();
      return;
    }
    if (step.hang) return; // the socket stays open until the client aborts or close()
    const answer = () => {
      const headers: Record<string, string> = { "content-type": "text/plain", ...step.headers };
      if (step.retryAfter !== undefined) headers["retry-after"] = step.retryAfter;
      res.writeHead(step.status ?? 200, headers);
      res.end(step.body ?? "");
    };
    if (step.delayMs === undefined || step.delayMs <= 0) {
      answer();
      return;
    }
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (!res.destroyed) answer();
    }, step.delayMs);
    timers.add(timer);
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("error", () => undefined); // client went away mid-body: nothing to record
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const url = req.url ?? "/";
      const path = new URL(url, "http://sink").pathname;
      const headers = flattenHeaders(req);
      const step = nextStep(path);
      const verifiedSecrets = verify(path, body, headers);
      const delivery: Delivery = {
        path,
        url,
        method: req.method ?? "GET",
        headers,
        body,
        receivedAt: Date.now(),
        webhookId: headers["webhook-id"],
        webhookTimestamp: headers["webhook-timestamp"],
        signatures: (headers["webhook-signature"] ?? "").split(" ").filter(Boolean),
        verifiedSecrets,
        verified: verifiedSecrets.length > 0,
        json: parseJson(body),
        answeredStatus: step.hang || step.reset ? null : (step.status ?? 200),
      };
      recorded.push(delivery);
      counts.set(path, (counts.get(path) ?? 0) + 1);
      opts.log?.(summarize(delivery, step));
      settleWaiters();
      respond(req, res, step);
    });
  };

  const server = createServer(handle);
  const { port, sockets } = await listenOnLoopback(server, opts.port);
  let closed = false;

  return {
    port,
    url: (path = "/") => `http://127.0.0.1:${port}${path}`,
    setSecrets: (path, values) => {
      secrets.set(
        path,
        values.map((value) => ({ value, hook: new Webhook(value) })),
      );
    },
    script: (path, steps) => {
      scripts.set(path, [...steps]);
    },
    setDefault: (path, step) => {
      defaults.set(path, step);
    },
    deliveries: (path) => matching(path),
    count: countAt,
    waitFor: (count, waitOpts = {}) => {
      const { path, timeoutMs = 10_000 } = waitOpts;
      if (countAt(path) >= count) return Promise.resolve(matching(path));
      if (closed) return Promise.reject(new Error("sink.waitFor: the sink is closed"));
      return new Promise<Delivery[]>((resolve, reject) => {
        const waiter: Waiter = {
          count,
          path,
          resolve,
          reject,
          timer: setTimeout(() => {
            waiters.delete(waiter);
            const where = path === undefined ? "in total" : `at ${path}`;
            reject(
              new Error(
                `sink.waitFor: expected ${count} deliveries ${where} within ${timeoutMs}ms, ` +
                  `got ${countAt(path)} (${recorded.length} at all paths: ${describePaths(counts)})`,
              ),
            );
          }, timeoutMs),
        };
        waiters.add(waiter);
      });
    },
    clear: () => {
      recorded.length = 0;
      counts.clear();
    },
    close: async () => {
      if (closed) return;
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const waiter of waiters) {
        clearTimeout(waiter.timer);
        waiter.reject(new Error("sink.waitFor: the sink was closed while waiting"));
      }
      waiters.clear();
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      server.closeAllConnections();
      await done;
    },
  };
}

function flattenHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}

function parseJson(body: string): unknown {
  if (body === "") return undefined;
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return undefined;
  }
}

function summarize(d: Delivery, step: SinkStep): string {
  const outcome = step.reset ? "reset" : step.hang ? "hang" : `${d.answeredStatus}`;
  const parts = [d.method, d.path, outcome, d.verified ? "verified" : "unverified"];
  if (d.webhookId !== undefined) parts.push(`webhook-id=${d.webhookId}`);
  const type =
    typeof d.json === "object" && d.json !== null ? Reflect.get(d.json, "type") : undefined;
  if (typeof type === "string") parts.push(`type=${type}`);
  return parts.join(" ");
}

function describePaths(counts: Map<string, number>): string {
  return counts.size === 0 ? "none" : [...counts].map(([p, n]) => `${p}=${n}`).join(", ");
}
