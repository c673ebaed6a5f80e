import { Counter, type ServiceMetrics } from "@hookline/kit";

/** What retry-now did with one task of an event (retry-now.ts describes each). */
export const retryNowOutcomes = [
  "sent",
  "already_released",
  "not_waiting",
  "backlog_full",
  "invalid_copy",
  "not_found_in_scan",
  "unavailable",
  "copy_kept",
] as const;
export type RetryNowOutcome = (typeof retryNowOutcomes)[number];

const RETRY_NOW_METRIC = "hookline_dlq_retry_now_total";

/** `hookline_dlq_retry_now_total{outcome}`: tasks retry-now acted on, by outcome. */
export function createRetryNowCounter(service: ServiceMetrics): (outcome: RetryNowOutcome) => void {
  // One per registry: tests build several apps over one service's metrics.
  const registered = service.registry.getSingleMetric(RETRY_NOW_METRIC);
  const counter =
    registered instanceof Counter
      ? (registered as Counter<"outcome">)
      : new Counter({
          name: RETRY_NOW_METRIC,
          help: "Tasks of events the retry-now call acted on, by outcome (sent, already_released, …)",
          labelNames: ["outcome"],
          registers: [service.registry],
        });
  for (const outcome of retryNowOutcomes) counter.inc({ outcome }, 0);
  return (outcome) => counter.inc({ outcome });
}
