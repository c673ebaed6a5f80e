import type { HooklineNames } from "@hookline/contracts";
import { createOutageWarning, type Logger, type ServiceMetrics } from "@hookline/kit";
import type { JetStreamClient } from "@nats-io/jetstream";
import { isDatabaseOutage } from "../db/outage";
import type { DlqMetrics } from "../metrics";
import { startSchedule } from "../retention/schedule";
import {
  type AttemptConsumer,
  type AttemptConsumerOptions,
  startAttemptConsumer,
} from "./attempt-consumer";
import type { AttemptLogDatabase } from "./attempt-writer";
import { createPartitionKeeper, type PartitionKeeper } from "./partitions";
import { createSignal } from "./signal";
import { attemptLogLockKey, tryTakeWriterLock } from "./writer-lock";

/** Partitions are created ahead and dropped past retention this often. */
const MAINTENANCE_INTERVAL_MS = 3_600_000;
/** An instance standing by tries to take the writer lock this often. */
const LOCK_RETRY_MS = 5_000;

export interface AttemptLog {
  partitions: PartitionKeeper;
  /** Creates the coming days' partitions and drops expired ones now (the hourly run). */
  maintainPartitions(): Promise<unknown>;
  /**
   * Stops consuming (the batch in hand is written or given back), then releases the writer
   * lock, and the hourly run.
   */
  stop(): Promise<void>;
}

export interface AttemptLogOptions {
  js: JetStreamClient;
  /** The pool: partitions, and the consumer's batches. */
  database: AttemptLogDatabase;
  /** DATABASE_URL: the writer lock's connection, besides the pool. */
  databaseUrl: string;
  names: HooklineNames;
  metrics: DlqMetrics;
  serviceMetrics: ServiceMetrics;
  logger: Logger;
  /** ATTEMPT_RETENTION_DAYS. */
  retentionDays: number;
  /** ATTEMPT_LOG_BODIES. */
  bodies: boolean;
  /** ATTEMPT_LOG_BATCH. */
  batchSize: number;
  now?: () => number;
  maintenanceIntervalMs?: number;
  lingerMs?: number;
  retryDelayMs?: number;
  /** How often an instance standing by tries to take the writer lock. */
  lockRetryMs?: number;
  /** How often the lock's connection is checked while held. */
  lockCheckIntervalMs?: number;
  /** Each written batch's rows, while this instance writes (the failure-rate window). */
  onWritten?: AttemptConsumerOptions["onWritten"];
}

/**
 * The attempt log: the partitions for the coming days first, then the `dlq-attempts` consumer,
 * and the partitions' hourly upkeep. Start-up does not wait for a database that is away: the
 * consumer creates what a batch needs, and the hourly run tries again.
 *
 * One instance of a deployment writes at a time, the one holding the writer lock (a Postgres
 * advisory lock, writer-lock.ts): the durable acks all, so a second puller would see its acks
 * stall at the first record the other holds. The others stand by and try for the lock every
 * few seconds; readiness does not depend on it. A writer whose lock connection ends (Postgres
 * away, or the connection lost) gives back what it holds and stands by until it can take the
 * lock again; records wait in JetStream meanwhile.
 */
export async function startAttemptLog(options: AttemptLogOptions): Promise<AttemptLog> {
  const { logger } = options;
  const { db } = options.database;
  const partitions = createPartitionKeeper({
    db,
    retentionDays: options.retentionDays,
    now: options.now,
  });
  const maintain = async () => {
    try {
      const { created, dropped } = await partitions.maintain();
      if (created.length > 0 || dropped.length > 0) {
        logger.info({ created, dropped }, "attempt log partitions created and dropped");
      }
      return { created, dropped };
    } catch (error) {
      if (isDatabaseOutage(error)) {
        logger.warn({ err: error }, "attempt log partitions not kept up: no database");
      } else logger.error({ err: error }, "attempt log partition upkeep failed");
      return { failed: true as const };
    }
  };
  await maintain();
  const intervalMs = options.maintenanceIntervalMs ?? MAINTENANCE_INTERVAL_MS;
  const upkeep = startSchedule({ run: maintain, intervalMs, firstRunDelayMs: intervalMs });
  const writing = startWriting(options, partitions);
  return {
    partitions,
    maintainPartitions: upkeep.runOnce,
    async stop() {
      await writing.stop();
      await upkeep.stop();
    },
  };
}

/** Takes the writer lock when it can, and consumes while it holds it. */
function startWriting(options: AttemptLogOptions, partitions: PartitionKeeper) {
  const { logger } = options;
  const key = attemptLogLockKey(options.names.prefix);
  const retryMs = options.lockRetryMs ?? LOCK_RETRY_MS;
  const warnUnavailable = createOutageWarning(logger);
  const writer = options.metrics.attemptLogWriter;
  let stopping = false;
  const wake = createSignal();
  let stopped: () => void = () => undefined;
  const stopRequested = new Promise<"stop">((resolve) => {
    stopped = () => resolve("stop");
  });

  const run = async () => {
    let standingBy = false;
    while (!stopping) {
      const attempt = await tryTakeWriterLock({
        url: options.databaseUrl,
        key,
        checkIntervalMs: options.lockCheckIntervalMs,
      });
      if (attempt.outcome !== "taken") {
        if (attempt.outcome === "unavailable") {
          warnUnavailable(attempt.error, "cannot take the attempt log's writer lock: no database");
        } else if (!standingBy) {
          logger.info("another instance writes the attempt log; standing by");
        }
        standingBy = true;
        await wake.wait(retryMs);
        continue;
      }
      const { lock } = attempt;
      if (stopping) {
        await lock.release();
        return;
      }
      standingBy = false;
      writer.set(1);
      logger.info("this instance writes the attempt log (it holds the writer lock)");
      const consumer: AttemptConsumer = startAttemptConsumer({
        js: options.js,
        stream: options.names.streams.attempts,
        consumer: options.names.consumers.dlqAttempts,
        database: options.database,
        partitions,
        bodies: options.bodies,
        batchSize: options.batchSize,
        metrics: options.metrics,
        serviceMetrics: options.serviceMetrics,
        logger,
        lingerMs: options.lingerMs,
        retryDelayMs: options.retryDelayMs,
        onWritten: options.onWritten,
      });
      const why = await Promise.race([lock.lost.then(() => "lost" as const), stopRequested]);
      if (why === "lost") {
        logger.warn("the attempt log's writer lock is lost; records held go back, standing by");
        await consumer.abandon();
      } else {
        await consumer.stop();
      }
      writer.set(0);
      // After the last batch's ack: the next writer starts where this one ended.
      await lock.release();
      if (why === "lost") await wake.wait(retryMs);
    }
  };
  const running = run();

  return {
    async stop() {
      stopping = true;
      stopped();
      wake.notify();
      await running;
    },
  };
}
