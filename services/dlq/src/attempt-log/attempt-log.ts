import type { HooklineNames } from "@hookline/contracts";
import type { Logger, ServiceMetrics } from "@hookline/kit";
import type { JetStreamClient } from "@nats-io/jetstream";
import type { Kysely } from "kysely";
import { isDatabaseOutage } from "../db/outage";
import type { Database } from "../db/schema";
import type { DlqMetrics } from "../metrics";
import { startSchedule } from "../retention/schedule";
import { type AttemptConsumer, startAttemptConsumer } from "./attempt-consumer";
import { createPartitionKeeper, type PartitionKeeper } from "./partitions";

/** Partitions are created ahead and dropped past retention this often. */
const MAINTENANCE_INTERVAL_MS = 3_600_000;

export interface AttemptLog {
  partitions: PartitionKeeper;
  /** Creates the coming days' partitions and drops expired ones now (the hourly run). */
  maintainPartitions(): Promise<unknown>;
  /** Stops consuming (the batch in hand is written or given back) and the hourly run. */
  stop(): Promise<void>;
}

export interface AttemptLogOptions {
  js: JetStreamClient;
  db: Kysely<Database>;
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
}

/**
 * The attempt log: the partitions for the coming days first, then the `dlq-attempts` consumer,
 * and the partitions' hourly upkeep. Start-up does not wait for a database that is away: the
 * consumer creates what a batch needs, and the hourly run tries again.
 */
export async function startAttemptLog(options: AttemptLogOptions): Promise<AttemptLog> {
  const { db, logger } = options;
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
  const consumer: AttemptConsumer = startAttemptConsumer({
    js: options.js,
    stream: options.names.streams.attempts,
    consumer: options.names.consumers.dlqAttempts,
    db,
    partitions,
    bodies: options.bodies,
    batchSize: options.batchSize,
    metrics: options.metrics,
    serviceMetrics: options.serviceMetrics,
    logger,
    lingerMs: options.lingerMs,
    retryDelayMs: options.retryDelayMs,
  });
  return {
    partitions,
    maintainPartitions: upkeep.runOnce,
    async stop() {
      await consumer.stop();
      await upkeep.stop();
    },
  };
}
