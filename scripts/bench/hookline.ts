// Hookline as the benchmark runs it: its own nats-server and Postgres, the four built services
// (`node dist/main.js`), and the calls the scenarios need (endpoints, dead-letter counts,
// restarts with time to ready).

import { hooklineNames } from "@hookline/contracts";
import {
  type NatsServerHandle,
  type Stack,
  startNatsServer,
  startPostgres,
  startStack,
} from "@hookline/testkit";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { Pool } from "undici";
import type { DeadLetterCounts } from "./measure";
import { rssMb } from "./processes";

export const SERVICES = ["ingest", "delivery", "classifier", "dlq"] as const;
export type ServiceName = (typeof SERVICES)[number];
const INGEST_TOKEN = "bench-ingest-token-0123456789";
const OPS_TOKEN = "bench-ops-token-0123456789";
export const BENCH_SECRET = "whsec_YmVuY2gtc2luay1zZWNyZXQtMDEyMzQ1Njc4OQ==";

export interface EndpointSpec {
  url: string;
  eventTypes: string[];
  retrySchedule?: string[];
}

export interface StartupFigures {
  /** From spawning the process to GET /readyz answering 200. */
  readyMs: Record<ServiceName, number>;
  /** RSS once ready. */
  rssMb: Record<ServiceName, number>;
}

export interface Hookline {
  prefix: string;
  nats: NatsServerHandle;
  stack: Stack;
  ingestOrigin: string;
  token: string;
  /** Processes whose CPU is counted: the four services and nats-server. */
  pids(): Record<string, number>;
  rss(): Record<string, number>;
  createEndpoints(specs: EndpointSpec[], concurrency?: number): Promise<string[]>;
  /** Dead letters the dlq stored since this moment, by reason. */
  deadLetters(fromIso: string): Promise<DeadLetterCounts>;
  /** nats-server's JetStream storage in MB (all streams). */
  storageMb(): Promise<number>;
  /**
   * Stops every service and starts them all again at once, timing each until ready; `env`
   * changes a service's environment from then on.
   */
  restart(env?: Partial<Record<ServiceName, Record<string, string>>>): Promise<StartupFigures>;
  /** Attempt-log rows in the dlq's Postgres, and what the dlq-attempts consumer still holds. */
  attemptLog(): Promise<{ rows: number; waiting: number }>;
  /**
   * Purges HOOKLINE_ATTEMPTS: the success records delivery published while the dlq's log was
   * off, which no on-run should write.
   */
  purgeAttemptRecords(): Promise<number>;
  stop(): Promise<void>;
}

export async function startHookline(env: Record<string, string>): Promise<Hookline> {
  const prefix = "bench";
  const [nats, pg] = await Promise.all([startNatsServer(), startPostgres()]);
  let stack: Stack;
  try {
    stack = await startStack({
      natsUrl: nats.url,
      services: [...SERVICES],
      prefix,
      runtime: "built",
      env: {
        INGEST_API_TOKENS: `bench:${INGEST_TOKEN}`,
        DELIVERY_ALLOW_PRIVATE_NETWORKS: "true",
        LOG_LEVEL: "warn",
        ...env,
      },
      serviceEnv: { dlq: { DATABASE_URL: pg.url, DLQ_API_TOKENS: `ops:${OPS_TOKEN}` } },
      readyTimeoutMs: 120_000,
    });
  } catch (error) {
    await Promise.all([nats.stop(), pg.stop()]);
    throw error;
  }
  const ingestOrigin = stack.url("ingest");
  const api = new Pool(ingestOrigin, { connections: 32 });
  const dlq = new Pool(stack.url("dlq"), { connections: 2 });
  const headers = { authorization: `Bearer ${INGEST_TOKEN}`, "content-type": "application/json" };

  const createEndpoint = async (spec: EndpointSpec): Promise<string> => {
    const res = await api.request({
      method: "POST",
      path: "/v1/endpoints",
      headers,
      body: JSON.stringify({ ...spec, secret: BENCH_SECRET }),
    });
    const text = await res.body.text();
    if (res.statusCode !== 201) throw new Error(`POST /v1/endpoints ${res.statusCode}: ${text}`);
    return (JSON.parse(text) as { id: string }).id;
  };

  const names = hooklineNames(prefix);
  /** A JetStream manager on a connection of its own, closed after `use`. */
  const withStreams = async <T>(use: (jsm: JetStreamManager) => Promise<T>): Promise<T> => {
    const nc = await connect({ servers: nats.url });
    try {
      return await use(await jetstreamManager(nc));
    } finally {
      await nc.close();
    }
  };

  const pids = () => ({
    ...Object.fromEntries(SERVICES.map((name) => [name, stack.pid(name)])),
    "nats-server": nats.pid,
  });

  return {
    prefix,
    nats,
    stack,
    ingestOrigin,
    token: INGEST_TOKEN,
    pids,
    rss: () => Object.fromEntries(Object.entries(pids()).map(([name, pid]) => [name, rssMb(pid)])),
    async createEndpoints(specs, concurrency = 16) {
      const ids: string[] = new Array(specs.length);
      let next = 0;
      const worker = async () => {
        while (next < specs.length) {
          const i = next++;
          const spec = specs[i];
          if (spec) ids[i] = await createEndpoint(spec);
        }
      };
      await Promise.all(Array.from({ length: concurrency }, worker));
      return ids;
    },
    async deadLetters(fromIso) {
      const res = await dlq.request({
        method: "GET",
        path: `/v1/dead-letters/stats?from=${encodeURIComponent(fromIso)}`,
        headers: { authorization: `Bearer ${OPS_TOKEN}` },
      });
      const text = await res.body.text();
      if (res.statusCode !== 200) throw new Error(`dead-letter stats ${res.statusCode}: ${text}`);
      const stats = JSON.parse(text) as { byReason: Record<string, number> };
      const byReason = Object.fromEntries(
        Object.entries(stats.byReason).filter(([, count]) => count > 0),
      );
      return { total: Object.values(byReason).reduce((a, b) => a + b, 0), byReason };
    },
    async attemptLog() {
      // Rows through the dlq's own API: every attempt it logged in the last day.
      const res = await dlq.request({
        method: "GET",
        path: "/v1/stats?window=24h",
        headers: { authorization: `Bearer ${OPS_TOKEN}` },
      });
      const text = await res.body.text();
      if (res.statusCode !== 200) throw new Error(`delivery stats ${res.statusCode}: ${text}`);
      const rows = (JSON.parse(text) as { attempts: number }).attempts;
      const info = await withStreams((jsm) =>
        jsm.consumers.info(names.streams.attempts, names.consumers.dlqAttempts),
      );
      return { rows, waiting: info.num_pending + info.num_ack_pending };
    },
    async purgeAttemptRecords() {
      const purged = await withStreams((jsm) => jsm.streams.purge(names.streams.attempts));
      return purged.purged;
    },
    async storageMb() {
      const res = await fetch(`${nats.monitorUrl}/jsz`);
      const jsz = (await res.json()) as { storage?: number };
      return (jsz.storage ?? 0) / 1024 / 1024;
    },
    async restart(env = {}) {
      await Promise.all(SERVICES.map((name) => stack.terminate(name)));
      const readyMs = {} as Record<ServiceName, number>;
      const rss = {} as Record<ServiceName, number>;
      await Promise.all(
        SERVICES.map(async (name) => {
          const started = performance.now();
          await stack.start(name, env[name]);
          readyMs[name] = performance.now() - started;
          rss[name] = rssMb(stack.pid(name));
        }),
      );
      return { readyMs, rssMb: rss };
    },
    async stop() {
      await Promise.all([api.close(), dlq.close()]);
      await stack.stop();
      await Promise.all([nats.stop(), pg.stop()]);
    },
  };
}
