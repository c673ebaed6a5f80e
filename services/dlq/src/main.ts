import { randomBytes } from "node:crypto";
import { hooklineNames } from "@hookline/contracts";
import {
  boundHeapGrowth,
  type ConsumerPump,
  type ControlService,
  connectNats,
  createLogger,
  createOpsEventEmitter,
  createServiceMetrics,
  drainOrClose,
  type EndpointCache,
  installGracefulShutdown,
  loadEnvOrExit,
  type NatsLink,
  provisionOptionsFromEnv,
  provisionUntilDone,
  type ReadinessChecks,
  serveHttp,
  startConsumerPump,
  startControlService,
  startEndpointCache,
  watchConsumerBacklog,
} from "@hookline/kit";
import { jetstream } from "@nats-io/jetstream";
import packageJson from "../package.json" with { type: "json" };
import { createDlqApp, createStartingApp } from "./app";
import { type AttemptLog, startAttemptLog } from "./attempt-log/attempt-log";
import { dlqEnvShape } from "./config";
import { connectDatabase } from "./db/connection";
import { migrateUntilDone } from "./db/migrate";
import { createPageCursors, cursorKey } from "./http/page-cursors";
import { createLetterReplayer } from "./letters/replay";
import { createLetterSettler } from "./letters/settle";
import { countByStatus } from "./letters/stats";
import { createDlqMetrics } from "./metrics";
import { createAttemptWindow } from "./ops-events/attempt-window";
import { type OpsMonitor, startOpsMonitor } from "./ops-events/ops-monitor";
import { createQueueStatsReader } from "./queue-stats/queue-stats";
import { type RetentionSchedule, startRetention } from "./retention/purge";
import { createRetryNowCounter } from "./retry-now/outcomes";
import { createEventRetrier } from "./retry-now/retry-now";
import { createStoreHandler } from "./store/store-consumer";

const SERVICE = "dlq";
/** The first purge waits for start-up to settle; later ones follow DLQ_RETENTION_INTERVAL. */
const RETENTION_FIRST_RUN_MS = 30_000;
/** API requests get a few connections beyond what the store's handlers use. */
const API_CONNECTIONS = 5;
/** The attempt log writes one batch at a time (its writer lock has a connection of its own). */
const ATTEMPT_LOG_CONNECTIONS = 1;

async function main(): Promise<void> {
  const env = loadEnvOrExit(SERVICE, dlqEnvShape);
  boundHeapGrowth(env.HEAP_GROWTH_PERCENT);
  const logger = createLogger({ service: SERVICE, level: env.LOG_LEVEL, pretty: env.LOG_PRETTY });
  const metrics = createServiceMetrics(SERVICE);
  const database = connectDatabase({
    url: env.DATABASE_URL,
    poolSize:
      env.DLQ_CONCURRENCY + API_CONNECTIONS + (env.ATTEMPT_LOG ? ATTEMPT_LOG_CONNECTIONS : 0),
    logger,
  });

  // Filled in as start-up proceeds; readiness and shutdown look at what exists so far.
  let link: NatsLink | undefined;
  let provisioned = false;
  let migrated = false;
  let cache: EndpointCache | undefined;
  let pump: ConsumerPump | undefined;
  let retention: RetentionSchedule | undefined;
  let attemptLog: AttemptLog | undefined;
  let stopBacklog: (() => void) | undefined;
  let opsMonitor: OpsMonitor | undefined;
  let control: ControlService | undefined;
  let stopping = false;
  let serving = false;
  const readiness: ReadinessChecks = {
    nats: () => link?.isConnected() ?? false,
    provisioned: () => provisioned,
    database: async () => migrated && (await database.answers()),
    // The API replaces the starting app only after the consumers and the first operational
    // readings (up to seconds): ready before then, a load balancer would get the starting
    // app's answers.
    api: () => serving,
  };
  const dlqMetrics = createDlqMetrics(metrics, async () =>
    migrated ? countByStatus(database.db).catch(() => undefined) : undefined,
  );

  // Serve health checks at once; the API app replaces the starting app once all is ready.
  let app: { fetch: (request: Request) => Response | Promise<Response> } = createStartingApp({
    logger,
    metrics,
    readiness,
    maxBodyBytes: env.DLQ_MAX_BODY_BYTES,
  });
  const server = await serveHttp({ fetch: (request) => app.fetch(request) }, env.PORT);
  logger.info({ port: server.port }, "listening");

  installGracefulShutdown({
    logger,
    timeoutMs: env.SHUTDOWN_TIMEOUT,
    steps: [
      // First: operators' reads stop counting an instance that is going away.
      { name: "stop control service", run: () => control?.stop() },
      {
        name: "stop storing",
        run: async () => {
          stopping = true;
          stopBacklog?.();
          await retention?.stop();
          await Promise.all([pump?.stop(), attemptLog?.stop()]);
          await opsMonitor?.stop();
        },
      },
      { name: "close http", run: () => server.close() },
      { name: "stop endpoint cache", run: () => cache?.stop() },
      { name: "drain nats", run: () => drainOrClose(link) },
      { name: "close database", run: () => database.destroy() },
    ],
  });

  try {
    link = await connectNats({ url: env.NATS_URL, auth: env, name: `hookline-${SERVICE}`, logger });
    // Registered before provisioning, so operators see an instance that is not ready yet.
    control = await startControlService({
      nc: link.nc,
      prefix: env.HOOKLINE_PREFIX,
      service: SERVICE,
      version: packageJson.version,
      readiness,
      logger,
    });
    const names = hooklineNames(env.HOOKLINE_PREFIX);
    const jetStream = await provisionUntilDone({
      nc: link.nc,
      options: provisionOptionsFromEnv(env, names),
      mode: env.HOOKLINE_PROVISION,
      logger,
      stopping: () => stopping,
    });
    // SIGTERM during start-up: shutdown has begun, so start nothing more.
    if (jetStream === undefined || stopping) return;
    provisioned = true;
    if (!(await migrateUntilDone(database.db, logger, () => stopping))) return;
    migrated = true;
    const endpointCache = await startEndpointCache(jetStream.endpoints, logger);
    cache = endpointCache;
    await endpointCache.ready;
    if (stopping) return;

    const js = jetstream(link.nc);
    const opsKinds = new Set(env.OPS_EVENTS);
    // Failure rates are counted from the rows the attempt log writes: without it, none.
    if (!env.ATTEMPT_LOG && opsKinds.delete("endpoint.failure_rate")) {
      logger.warn(
        "endpoint.failure_rate events are off: they count the attempt log's records, and " +
          "ATTEMPT_LOG=false",
      );
    }
    const attemptWindow = opsKinds.has("endpoint.failure_rate")
      ? createAttemptWindow({
          windowMs: env.OPS_FAILURE_RATE_WINDOW,
          systemTenantId: env.OPS_EVENTS_TENANT,
        })
      : undefined;
    const monitor = startOpsMonitor({
      db: database.db,
      emitter: createOpsEventEmitter({ js, names, logger, kinds: opsKinds }),
      kinds: opsKinds,
      systemTenantId: env.OPS_EVENTS_TENANT,
      instance: randomBytes(4).toString("hex"),
      deadLetterWindowMs: env.OPS_DEADLETTER_WINDOW,
      deadLetterThresholds: env.OPS_DEADLETTER_THRESHOLDS,
      failureRateThresholds: env.OPS_FAILURE_RATE_THRESHOLDS,
      attemptWindow,
      failureRateWindowText:
        env.OPS_FAILURE_RATE_WINDOW % 60_000 === 0
          ? `${env.OPS_FAILURE_RATE_WINDOW / 60_000}m`
          : `${env.OPS_FAILURE_RATE_WINDOW / 1_000}s`,
      failureRateMinAttempts: env.OPS_FAILURE_RATE_MIN_ATTEMPTS,
      checkIntervalMs: env.OPS_CHECK_INTERVAL,
      logger,
    });
    opsMonitor = monitor;
    await monitor.readyOrLater();
    if (stopping) return;
    pump = startConsumerPump({
      js,
      stream: names.streams.deadletter,
      consumer: names.consumers.dlqStore,
      concurrency: env.DLQ_CONCURRENCY,
      handle: createStoreHandler({
        db: database.db,
        names,
        cache: endpointCache,
        metrics,
        dlqMetrics,
        logger,
        consumer: names.consumers.dlqStore,
        onStored: (letter) => monitor.stored(letter),
      }),
      logger,
    });
    stopBacklog = watchConsumerBacklog({
      jsm: jetStream.jsm,
      metrics,
      consumers: [
        { stream: names.streams.deadletter, consumer: names.consumers.dlqStore },
        ...(env.ATTEMPT_LOG
          ? [{ stream: names.streams.attempts, consumer: names.consumers.dlqAttempts }]
          : []),
      ],
      // Every service watches every stream's usage: kit's watchStreamUsage says why.
      streams: Object.values(names.streams),
      logger,
    });
    retention = startRetention({
      db: database.db,
      logger,
      metrics: dlqMetrics,
      retentionDays: env.DLQ_RETENTION_DAYS,
      intervalMs: env.DLQ_RETENTION_INTERVAL,
      firstRunDelayMs: Math.min(RETENTION_FIRST_RUN_MS, env.DLQ_RETENTION_INTERVAL),
    });

    const tokens = env.DLQ_API_TOKENS;
    app = createDlqApp({
      logger,
      metrics,
      readiness,
      tokens,
      maxBodyBytes: env.DLQ_MAX_BODY_BYTES,
      db: database.db,
      cursors: createPageCursors(cursorKey(env.DLQ_CURSOR_SECRET, tokens)),
      replayer: createLetterReplayer({
        db: database.db,
        js,
        names,
        metrics: dlqMetrics,
        logger,
        taskDeadlineMs: env.TASK_DEADLINE,
      }),
      settler: createLetterSettler({ db: database.db, metrics: dlqMetrics }),
      queues: createQueueStatsReader({ jsm: jetStream.jsm, names, endpoints: endpointCache }),
      retrier: createEventRetrier({
        db: database.db,
        js,
        jsm: jetStream.jsm,
        names,
        counted: createRetryNowCounter(metrics),
        logger,
      }),
    });
    serving = true;
    // After the API: the log's first partitions take a moment, and /readyz is true already.
    if (env.ATTEMPT_LOG) {
      const log = await startAttemptLog({
        js,
        database,
        databaseUrl: env.DATABASE_URL,
        names,
        metrics: dlqMetrics,
        serviceMetrics: metrics,
        logger,
        retentionDays: env.ATTEMPT_RETENTION_DAYS,
        bodies: env.ATTEMPT_LOG_BODIES,
        batchSize: env.ATTEMPT_LOG_BATCH,
        onWritten: attemptWindow === undefined ? undefined : (rows) => attemptWindow.add(rows),
      });
      attemptLog = log;
      // SIGTERM while its partitions were being made: shutdown did not see it yet.
      if (stopping) {
        await log.stop();
        return;
      }
    }
    logger.info(
      {
        prefix: names.prefix,
        concurrency: env.DLQ_CONCURRENCY,
        retentionDays: env.DLQ_RETENTION_DAYS,
        attemptLog: env.ATTEMPT_LOG,
        attemptRetentionDays: env.ATTEMPT_RETENTION_DAYS,
      },
      "dlq ready",
    );
  } catch (error) {
    // Shutdown drains NATS and closes the pool under a start-up still in progress.
    if (stopping) return;
    throw error;
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${SERVICE}: failed to start: ${String(error)}\n`);
  process.exit(1);
});
