import { deadLetterReasons } from "@hookline/contracts";
import { Counter, Gauge, Histogram, type ServiceMetrics } from "@hookline/kit";
import { type DeadLetterStatus, deadLetterStatuses } from "./db/schema";

export const dlqActions = ["replayed", "resolved", "discarded", "purged"] as const;
export type DlqAction = (typeof dlqActions)[number];

/** Why an ATTEMPTS record made no row: undecodable, or older than ATTEMPT_RETENTION_DAYS. */
export const attemptSkipReasons = ["invalid", "expired"] as const;

export interface DlqMetrics {
  /** Letters stored, new or dead again, by reason; redeliveries are not counted. */
  stored: Counter<"reason">;
  /** Letters acted on, counted per letter (a bulk call counts each one). */
  actions: Counter<"action">;
  /** Attempt records written to the log (one delivered again is counted again; one row kept). */
  attemptsLogged: Counter;
  /** Attempt records acked without a row. */
  attemptsSkipped: Counter<"reason">;
  /** One batch write of the attempt log (one transaction), successful ones. */
  attemptLogWrite: Histogram;
  /** Batch writes that failed (each is tried again, its records kept unacked). */
  attemptLogWriteFailures: Counter;
  /** Batches COPY refused for a row or body already stored, written again by INSERT. */
  attemptLogRewrites: Counter;
  /** 1 while this instance holds the attempt log's writer lock: one instance writes. */
  attemptLogWriter: Gauge;
}

/**
 * DLQ series on the service registry. The `hookline_dead_letters` gauge follows the table: it
 * asks `countByStatus` on every scrape (undefined while the database is not there, which leaves
 * the last values).
 */
export function createDlqMetrics(
  service: ServiceMetrics,
  countByStatus: () => Promise<Record<DeadLetterStatus, number> | undefined>,
): DlqMetrics {
  const registers = [service.registry];
  const stored = new Counter({
    name: "hookline_dead_letters_stored_total",
    help: "Dead letters stored (new, or a task that died again), by reason",
    labelNames: ["reason"],
    registers,
  });
  for (const reason of deadLetterReasons) stored.inc({ reason }, 0);
  const actions = new Counter({
    name: "hookline_dlq_actions_total",
    help: "Dead letters replayed, resolved, discarded or purged by retention",
    labelNames: ["action"],
    registers,
  });
  for (const action of dlqActions) actions.inc({ action }, 0);
  const attemptsLogged = new Counter({
    name: "hookline_dlq_attempts_logged_total",
    help: "Attempt records written to the attempt log (a record delivered again counts again)",
    registers,
  });
  const attemptsSkipped = new Counter({
    name: "hookline_dlq_attempts_skipped_total",
    help: "Attempt records acked without a row: invalid, or expired (older than retention)",
    labelNames: ["reason"],
    registers,
  });
  for (const reason of attemptSkipReasons) attemptsSkipped.inc({ reason }, 0);
  const attemptLogWrite = new Histogram({
    name: "hookline_dlq_attempt_log_write_seconds",
    help: "Time to write one batch of the attempt log (one transaction)",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers,
  });
  const attemptLogWriteFailures = new Counter({
    name: "hookline_dlq_attempt_log_write_failures_total",
    help: "Attempt log batch writes that failed and are tried again",
    registers,
  });
  const attemptLogRewrites = new Counter({
    name: "hookline_dlq_attempt_log_rewrites_total",
    help: "Attempt log batches COPY refused for a row already stored, written again by INSERT",
    registers,
  });
  const attemptLogWriter = new Gauge({
    name: "hookline_dlq_attempt_log_writer",
    help: "1 while this instance writes the attempt log (holds its writer lock), else 0",
    registers,
  });
  new Gauge({
    name: "hookline_dead_letters",
    help: "Dead letters in the store by status",
    labelNames: ["status"],
    registers,
    async collect() {
      const counts = await countByStatus();
      if (counts === undefined) return;
      for (const status of deadLetterStatuses) this.set({ status }, counts[status]);
    },
  });
  return {
    stored,
    actions,
    attemptsLogged,
    attemptsSkipped,
    attemptLogWrite,
    attemptLogWriteFailures,
    attemptLogRewrites,
    attemptLogWriter,
  };
}
