import {
  defaultProvisionOptions,
  type HooklineNames,
  hooklineNames,
  provision,
} from "@hookline/contracts";
import {
  type ApiToken,
  type ConsumerPump,
  connectNats,
  createLogger,
  createServiceMetrics,
  type EndpointCache,
  type Logger,
  type NatsLink,
  type ReadinessChecks,
  type ServiceMetrics,
  startConsumerPump,
  startEndpointCache,
} from "@hookline/kit";
import {
  type NatsServerHandle,
  type PostgresHandle,
  startNatsServer,
  startPostgres,
} from "@hookline/testkit";
import {
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
} from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { sql } from "kysely";
import { createDlqApp, type DlqApp } from "../app";
import { connectDatabase, type DatabaseLink } from "../db/connection";
import { migrateToLatest } from "../db/migrate";
import { createPageCursors, cursorKey } from "../http/page-cursors";
import { createLetterReplayer } from "../letters/replay";
import { createLetterSettler } from "../letters/settle";
import { countByStatus } from "../letters/stats";
import { createDlqMetrics, type DlqMetrics } from "../metrics";
import { createQueueStatsReader, type QueueStatsReader } from "../queue-stats/queue-stats";
import { createRetryNowCounter } from "../retry-now/outcomes";
import { createEventRetrier } from "../retry-now/retry-now";
import type { IncomingLetter } from "../store/incoming";
import { createStoreHandler } from "../store/store-consumer";
import { storeLetter } from "../store/store-letter";

export const TEST_TOKEN = "test-dlq-token-123";
export const TEST_ACTOR = "alice";
export const TASK_DEADLINE_MS = 3 * 86_400_000;

/** A response body as the test expects it to be (the schemas are checked by the routes). */
export async function bodyOf<T>(response: Response): Promise<T> {
  return (await response.json()) as T;
}

export interface DlqHarness {
  app: DlqApp;
  nats: NatsServerHandle;
  pg: PostgresHandle;
  link: NatsLink;
  js: JetStreamClient;
  jsm: JetStreamManager;
  kv: KV;
  names: HooklineNames;
  cache: EndpointCache;
  database: DatabaseLink;
  metrics: ServiceMetrics;
  dlqMetrics: DlqMetrics;
  logger: Logger;
  /** Stores a letter directly, as the consumer would. */
  store(letter: IncomingLetter): ReturnType<typeof storeLetter>;
  /** Runs the dlq-store consumer, as main.ts does. */
  startStoring(options?: { retryDelayMs?: number }): ConsumerPump;
  /** Calls the app with the test token (unless `token` is given) and a JSON body. */
  call(method: string, path: string, body?: unknown, token?: string | null): Promise<Response>;
  /** Empties both tables between tests. */
  reset(): Promise<void>;
  close(): Promise<void>;
}

export interface DlqHarnessOptions {
  prefix: string;
  /** A Postgres to use (and stop on close); by default testkit's startPostgres(). */
  postgres?: PostgresHandle;
  now?: () => number;
  /** DLQ_MAX_BODY_BYTES; its default when absent. */
  maxBodyBytes?: number;
}

/** What the dlq app is built over: a harness, or its parts while it starts. */
export type DlqAppParts = Pick<
  DlqHarness,
  "logger" | "metrics" | "database" | "js" | "jsm" | "names" | "cache" | "dlqMetrics"
>;

/**
 * The dlq app as main.ts builds it, over a harness's parts: the harness's own, and the apps
 * tests build again with other tokens (scoped, tenant-bound) or their own queue reader.
 */
export function dlqAppOver(
  parts: DlqAppParts,
  options: {
    tokens: ApiToken[];
    queues?: QueueStatsReader;
    readiness?: ReadinessChecks;
    maxBodyBytes?: number | undefined;
    now?: () => number;
  },
): DlqApp {
  const { logger, metrics, database, js, names, dlqMetrics } = parts;
  const { tokens } = options;
  const now = options.now ?? Date.now;
  return createDlqApp({
    logger,
    metrics,
    readiness: options.readiness ?? {},
    tokens,
    maxBodyBytes: options.maxBodyBytes ?? 65_536,
    db: database.db,
    cursors: createPageCursors(cursorKey(undefined, tokens)),
    replayer: createLetterReplayer({
      db: database.db,
      js,
      names,
      metrics: dlqMetrics,
      logger,
      taskDeadlineMs: TASK_DEADLINE_MS,
      publishTimeoutMs: 1_000,
      now,
    }),
    settler: createLetterSettler({ db: database.db, metrics: dlqMetrics, now }),
    queues:
      options.queues ??
      createQueueStatsReader({ jsm: parts.jsm, names, endpoints: parts.cache, now }),
    retrier: createEventRetrier({
      db: database.db,
      js,
      jsm: parts.jsm,
      names,
      counted: createRetryNowCounter(metrics),
      logger,
      publishTimeoutMs: 1_000,
      now,
    }),
  });
}

/** The DLQ wired as main.ts wires it, in-process, against a real nats-server and Postgres. */
export async function startDlqHarness(options: DlqHarnessOptions): Promise<DlqHarness> {
  const [nats, pg] = await Promise.all([
    startNatsServer(),
    options.postgres === undefined ? startPostgres() : Promise.resolve(options.postgres),
  ]);
  const logger = createLogger({
    service: "dlq",
    level: process.env.HOOKLINE_TEST_LOGS === "1" ? "debug" : "silent",
    pretty: false,
  });
  const metrics = createServiceMetrics("dlq");
  const database = connectDatabase({ url: pg.url, poolSize: 20, logger });
  const migrated = await migrateToLatest(database.db);
  if (migrated.outcome === "failed") throw migrated.error;
  const link = await connectNats({ url: nats.url, name: "dlq-test", logger });
  const names = hooklineNames(options.prefix);
  const jsm = await jetstreamManager(link.nc);
  const { endpoints: kv } = await provision(link.nc, jsm, { ...defaultProvisionOptions, names });
  const cache = await startEndpointCache(kv, logger);
  await cache.ready;
  const js = jetstream(link.nc);
  const dlqMetrics = createDlqMetrics(metrics, () =>
    countByStatus(database.db).catch(() => undefined),
  );
  const tokens = [{ name: TEST_ACTOR, token: TEST_TOKEN }];
  const now = options.now ?? Date.now;
  const app = dlqAppOver(
    { logger, metrics, database, js, jsm, names, cache, dlqMetrics },
    {
      tokens,
      readiness: { nats: link.isConnected, database: () => database.answers() },
      maxBodyBytes: options.maxBodyBytes,
      now,
    },
  );
  const pumps: ConsumerPump[] = [];

  return {
    app,
    nats,
    pg,
    link,
    js,
    jsm,
    kv,
    names,
    cache,
    database,
    metrics,
    dlqMetrics,
    logger,
    store: (letter) =>
      storeLetter(database.db, letter, { endpointUrl: null, now: new Date(now()) }),
    startStoring(storing = {}) {
      const pump = startConsumerPump({
        js,
        stream: names.streams.deadletter,
        consumer: names.consumers.dlqStore,
        concurrency: 8,
        handle: createStoreHandler({
          db: database.db,
          names,
          cache,
          metrics,
          dlqMetrics,
          logger,
          consumer: names.consumers.dlqStore,
          ...storing,
        }),
        logger,
      });
      pumps.push(pump);
      return pump;
    },
    call(method, path, body, token = TEST_TOKEN) {
      return Promise.resolve(
        app.request(path, {
          method,
          headers: {
            ...(token === null ? {} : { authorization: `Bearer ${token}` }),
            ...(body === undefined ? {} : { "content-type": "application/json" }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        }),
      );
    },
    async reset() {
      await sql`truncate dead_letters, dead_letter_audit`.execute(database.db);
    },
    async close() {
      await Promise.all(pumps.map((pump) => pump.stop()));
      cache.stop();
      await link.nc.close();
      await database.destroy();
      await Promise.all([nats.stop(), pg.stop()]);
    },
  };
}
