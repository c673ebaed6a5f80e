import type { Logger } from "@hookline/kit";
import type { Kysely } from "kysely";
import { isDatabaseOutage } from "../db/outage";
import type { Database } from "../db/schema";
import type { DlqMetrics } from "../metrics";
import { type Schedule, startSchedule } from "./schedule";

const DAY_MS = 86_400_000;
const PURGE_BATCH_SIZE = 1_000;

/**
 * Deletes resolved and discarded letters settled more than `retentionDays` ago (their audit
 * rows go with them), a batch per statement so no delete holds many locks for long. Open and
 * replayed letters are never purged.
 */
export async function purgeSettledLetters(
  db: Kysely<Database>,
  options: { retentionDays: number; now: number },
): Promise<{ purged: number }> {
  const cutoff = new Date(options.now - options.retentionDays * DAY_MS);
  let purged = 0;
  for (;;) {
    const result = await db
      .deleteFrom("dead_letters")
      .where("id", "in", (eb) =>
        eb
          .selectFrom("dead_letters")
          .select("id")
          .where("status", "in", ["resolved", "discarded"])
          .where("resolved_at", "<", cutoff)
          .limit(PURGE_BATCH_SIZE),
      )
      .executeTakeFirst();
    const deleted = Number(result.numDeletedRows);
    purged += deleted;
    if (deleted < PURGE_BATCH_SIZE) return { purged };
  }
}

/** Runs a purge now with runOnce; stop() ends the timer and waits for a purge in progress. */
export type RetentionSchedule = Schedule<{ purged: number } | { failed: true }>;

/** Purges on a timer: first after `firstRunDelayMs`, then every `intervalMs`. */
export function startRetention(options: {
  db: Kysely<Database>;
  logger: Logger;
  metrics: DlqMetrics;
  retentionDays: number;
  intervalMs: number;
  firstRunDelayMs: number;
  now?: () => number;
}): RetentionSchedule {
  const { db, logger, metrics } = options;
  const now = options.now ?? Date.now;

  const runOnce = async (): Promise<{ purged: number } | { failed: true }> => {
    try {
      const result = await purgeSettledLetters(db, {
        retentionDays: options.retentionDays,
        now: now(),
      });
      metrics.actions.inc({ action: "purged" }, result.purged);
      if (result.purged > 0) {
        logger.info({ purged: result.purged, retentionDays: options.retentionDays }, "purged");
      }
      return result;
    } catch (error) {
      // The next run tries again; an outage is reported by /readyz already.
      if (isDatabaseOutage(error)) logger.warn({ err: error }, "retention skipped: no database");
      else logger.error({ err: error }, "retention purge failed");
      return { failed: true };
    }
  };

  return startSchedule({
    run: runOnce,
    intervalMs: options.intervalMs,
    firstRunDelayMs: options.firstRunDelayMs,
  });
}
