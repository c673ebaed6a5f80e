import { hooklineNames } from "@hookline/contracts";
import {
  type EmbeddedPostgresHandle,
  type NatsClusterHandle,
  type NatsServerHandle,
  type PostgresHandle,
  type Receiver,
  type Stack,
  startEmbeddedPostgres,
  startNatsCluster,
  startNatsServer,
  startPostgres,
  startReceiver,
  startStack,
} from "@hookline/testkit";
import { type ConsumerInfo, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { IngestLoader } from "./load";

export const SERVICES = ["ingest", "delivery", "classifier", "dlq"] as const;
export type ServiceName = (typeof SERVICES)[number];

const INGEST_TOKEN = "chaos-ingest-token";
const OPS_TOKEN = "chaos-ops-token";

export interface HarnessOptions {
  prefix: string;
  /** "single": one nats-server; "cluster": three nodes with JETSTREAM_REPLICAS=3. */
  nats: "single" | "cluster";
  /** "shared": TEST_DATABASE_URL or embedded; "own": an embedded Postgres that can be frozen. */
  postgres: "shared" | "own";
  env?: Record<string, string>;
  /** Processes per service, e.g. { delivery: 2 }. */
  instances?: Partial<Record<ServiceName, number>>;
  log: (line: string) => void;
}

export interface EndpointSpec {
  /** Receiver path, e.g. "/ok". */
  path: string;
  eventTypes: string[];
  rateLimitPerSecond?: number;
  timeoutMs?: number;
  retrySchedule?: string[];
}

/** What one consumer holds delivered but unacknowledged: what a crash can hand out again. */
export interface AckPending {
  total: number;
  byConsumer: Record<string, number>;
  /** The consumers holding any, e.g. "DISPATCH/delivery-fresh 150, RETRY/retry-1s 9". */
  detail: string;
}

/** A whole Hookline on this machine: NATS, Postgres, the four services and a receiver. */
export interface Harness {
  readonly prefix: string;
  readonly stack: Stack;
  readonly receiver: Receiver;
  readonly loader: IngestLoader;
  readonly ingestUrl: string;
  readonly ingestToken: string;
  readonly dlqUrl: string;
  readonly opsToken: string;
  /** Set with nats: "single". */
  readonly nats: NatsServerHandle | undefined;
  /** Set with nats: "cluster". */
  readonly cluster: NatsClusterHandle | undefined;
  /** Set with postgres: "own". */
  readonly ownPostgres: EmbeddedPostgresHandle | undefined;
  /** Registers an endpoint at the receiver's path; returns its id. */
  endpoint(spec: EndpointSpec): Promise<string>;
  /** Sum of num_ack_pending over every consumer of this prefix's streams. */
  ackPending(): Promise<AckPending>;
  /** Messages every consumer of this prefix still has to deliver or see acknowledged. */
  backlog(): Promise<{ pending: number; ackPending: number }>;
  /** The stream ingest publishes to. */
  dispatchStream(): string;
  /** GET a service's /metrics and sum the samples of one metric (labels ignored). */
  metricSum(service: string, metric: string): Promise<number>;
  stop(): Promise<void>;
}

export async function startHarness(opts: HarnessOptions): Promise<Harness> {
  const cleanups: (() => Promise<void>)[] = [];
  const cleanup = async () => {
    for (const step of cleanups.splice(0).reverse()) {
      await step().catch((err: unknown) => opts.log(`cleanup: ${String(err)}`));
    }
  };
  try {
    const started = Date.now();
    const nats = opts.nats === "single" ? await startNatsServer() : undefined;
    if (nats) cleanups.push(() => nats.stop());
    const cluster = opts.nats === "cluster" ? await startNatsCluster({ size: 3 }) : undefined;
    if (cluster) cleanups.push(() => cluster.stop());
    const natsUrl = nats?.url ?? cluster?.urls ?? "";

    let pg: PostgresHandle;
    let ownPostgres: EmbeddedPostgresHandle | undefined;
    if (opts.postgres === "own") {
      ownPostgres = await startEmbeddedPostgres();
      pg = ownPostgres;
    } else {
      pg = await startPostgres();
    }
    cleanups.push(() => pg.stop());

    const receiver = await startReceiver();
    cleanups.push(() => receiver.close());

    const stack = await startStack({
      natsUrl,
      services: [...SERVICES],
      prefix: opts.prefix,
      instances: opts.instances,
      readyTimeoutMs: 60_000,
      stopTimeoutMs: 30_000,
      env: {
        INGEST_API_TOKENS: `chaos:${INGEST_TOKEN}`,
        DELIVERY_ALLOW_PRIVATE_NETWORKS: "true",
        LOG_LEVEL: "warn",
        ...(cluster ? { JETSTREAM_REPLICAS: "3" } : {}),
        ...opts.env,
      },
      serviceEnv: { dlq: { DATABASE_URL: pg.url, DLQ_API_TOKENS: `ops:${OPS_TOKEN}` } },
    });
    cleanups.push(() => stack.stop());

    const ingestUrl = stack.url("ingest");
    const loader = new IngestLoader({ url: ingestUrl, token: INGEST_TOKEN });
    cleanups.push(() => loader.close());

    const nc: NatsConnection = await connect({
      servers: natsUrl.split(","),
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      name: "chaos-suite",
    });
    cleanups.push(() => nc.close());
    const jsm = await jetstreamManager(nc, { timeout: 3_000 });
    const names = hooklineNames(opts.prefix);
    const streamPrefix = `${opts.prefix.toUpperCase()}_`;
    const consumers = async (): Promise<ConsumerInfo[]> => {
      const streams: string[] = [];
      for await (const stream of jsm.streams.list()) {
        if (stream.config.name.startsWith(streamPrefix)) streams.push(stream.config.name);
      }
      // In parallel: one after the other, a busy moment stretches this over seconds.
      const perStream = await Promise.all(
        streams.map(async (name) => {
          const found: ConsumerInfo[] = [];
          for await (const consumer of jsm.consumers.list(name)) found.push(consumer);
          return found;
        }),
      );
      return perStream.flat();
    };
    opts.log(
      `stack ${opts.prefix} up in ${((Date.now() - started) / 1000).toFixed(1)} s ` +
        `(nats ${opts.nats}, postgres ${opts.postgres === "own" ? "embedded, own" : "shared"})`,
    );

    return {
      prefix: opts.prefix,
      stack,
      receiver,
      loader,
      ingestUrl,
      ingestToken: INGEST_TOKEN,
      dlqUrl: stack.url("dlq"),
      opsToken: OPS_TOKEN,
      nats,
      cluster,
      ownPostgres,
      endpoint: async (spec) => {
        const { path, ...rest } = spec;
        const res = await fetch(`${ingestUrl}/v1/endpoints`, {
          method: "POST",
          headers: { authorization: `Bearer ${INGEST_TOKEN}`, "content-type": "application/json" },
          body: JSON.stringify({ url: receiver.url(path), ...rest }),
        });
        if (res.status !== 201)
          throw new Error(`create endpoint: ${res.status} ${await res.text()}`);
        const created = (await res.json()) as { id: string; secret: string };
        receiver.setSecrets(path, [created.secret]);
        return created.id;
      },
      ackPending: async () => {
        const byConsumer: Record<string, number> = {};
        let total = 0;
        for (const consumer of await consumers()) {
          const stream = consumer.stream_name.slice(streamPrefix.length);
          byConsumer[`${stream}/${consumer.name}`] = consumer.num_ack_pending;
          total += consumer.num_ack_pending;
        }
        const detail = Object.entries(byConsumer)
          .filter(([, n]) => n > 0)
          .sort((a, b) => b[1] - a[1])
          .map(([name, n]) => `${name} ${n}`)
          .join(", ");
        return { total, byConsumer, detail: detail || "none" };
      },
      backlog: async () => {
        let pending = 0;
        let ackPending = 0;
        for (const consumer of await consumers()) {
          pending += consumer.num_pending;
          ackPending += consumer.num_ack_pending;
        }
        return { pending, ackPending };
      },
      dispatchStream: () => names.streams.dispatch,
      metricSum: async (service, metric) => {
        const text = await (await fetch(`${stack.url(service)}/metrics`)).text();
        let sum = 0;
        for (const line of text.split("\n")) {
          if (line.startsWith(`${metric}{`) || line.startsWith(`${metric} `)) {
            sum += Number(line.slice(line.lastIndexOf(" ") + 1)) || 0;
          }
        }
        return sum;
      },
      stop: cleanup,
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
