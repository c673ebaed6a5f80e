import {
  type NatsServerHandle,
  type PostgresHandle,
  type Sink,
  type Stack,
  startNatsServer,
  startPostgres,
  startSink,
  startStack,
} from "@hookline/testkit";
import { type DlqClient, dlqClient } from "./dlq-client";
import { type IngestClient, ingestClient } from "./ingest-client";

export type E2eService = "ingest" | "delivery" | "classifier" | "dlq";

/**
 * Retries fast enough to watch a webhook fail, retry and dead-letter within a test: two retries,
 * no jitter, and a 503 waits max(200ms schedule, 200ms overload minimum), the 200ms tier.
 */
export const fastRetries = {
  RETRY_SCHEDULE: "200ms,500ms",
  RETRY_TIERS: "200ms,1s,3s",
  RETRY_JITTER: "0",
  RETRY_OVERLOAD_MIN_DELAY: "200ms",
};

export interface E2eStackOptions<S extends E2eService> {
  /** HOOKLINE_PREFIX of the services. */
  prefix: string;
  /** With "dlq" listed, Postgres is started too and the dlq is given its database and token. */
  services: readonly S[];
  /** Env for every service; wins over the defaults (the ingest token, private networks allowed). */
  env?: Record<string, string>;
  /** Env per service; wins over `env` and over the dlq's defaults. */
  serviceEnv?: Partial<Record<S, Record<string, string>>>;
  /** The bearer token of ingest's client (actor "e2e"); a fixed one by default. */
  ingestToken?: string;
  /** The bearer token of the dlq's client (actor "ops"); a fixed one by default. */
  opsToken?: string;
}

/** A nats-server, a sink and the services, with a client for ingest. */
export interface E2eStack {
  nats: NatsServerHandle;
  sink: Sink;
  stack: Stack;
  ingest: IngestClient;
  /** Stops the services, then the sink, then nats-server (and Postgres). */
  stop(): Promise<void>;
}

/** An E2eStack that runs the dlq, with its Postgres and a client for it. */
export interface E2eStackWithDlq extends E2eStack {
  pg: PostgresHandle;
  dlq: DlqClient;
}

/**
 * Starts what a cross-service test needs: nats-server, a sink, Postgres when the dlq runs, and
 * the services (which may deliver to the sink on 127.0.0.1).
 */
export async function startE2eStack<const S extends E2eService>(
  options: E2eStackOptions<S>,
): Promise<"dlq" extends S ? E2eStackWithDlq : E2eStack> {
  const ingestToken = options.ingestToken ?? "e2e-ingest-token";
  const opsToken = options.opsToken ?? "e2e-ops-token";
  const withDlq = options.services.some((name) => name === "dlq");
  const [nats, sink, pg] = await Promise.all([
    startNatsServer(),
    startSink(),
    withDlq ? startPostgres() : undefined,
  ]);
  const stopInfrastructure = async () => {
    await sink.close();
    await Promise.all([nats.stop(), pg?.stop()]);
  };

  const serviceEnv: Record<string, Record<string, string>> = { ...options.serviceEnv };
  if (pg !== undefined) {
    serviceEnv.dlq = {
      DATABASE_URL: pg.url,
      DLQ_API_TOKENS: `ops:${opsToken}`,
      ...serviceEnv.dlq,
    };
  }
  let stack: Stack;
  try {
    stack = await startStack({
      natsUrl: nats.url,
      services: [...options.services],
      prefix: options.prefix,
      env: {
        INGEST_API_TOKENS: `e2e:${ingestToken}`,
        DELIVERY_ALLOW_PRIVATE_NETWORKS: "true",
        ...options.env,
      },
      serviceEnv,
    });
  } catch (error) {
    await stopInfrastructure();
    throw error;
  }

  const started: E2eStack = {
    nats,
    sink,
    stack,
    ingest: ingestClient(stack.url("ingest"), ingestToken),
    stop: async () => {
      await stack.stop();
      await stopInfrastructure();
    },
  };
  const handle =
    pg === undefined ? started : { ...started, pg, dlq: dlqClient(stack.url("dlq"), opsToken) };
  return handle as "dlq" extends S ? E2eStackWithDlq : E2eStack;
}
