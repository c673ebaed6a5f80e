import type { AttemptResult, DeliveryLane } from "@hookline/contracts";
import { Counter, Gauge, Histogram, type ServiceMetrics } from "@hookline/kit";
import type { StatusClass } from "./http/attempt";

/** Whether the task had made no attempt before this pass (`first`), or had (`retry`). */
export type AttemptOrdinal = "first" | "retry";

export interface DeliveryMetrics {
  /** Every task handled, by what happened; non-attempts (endpoint_missing, …) included. */
  attempts: Counter<"lane" | "result" | "status_class" | "attempt">;
  /** HTTP attempts only. */
  attemptDuration: Histogram<"result">;
  /** From ingest's acceptance (Hookline-Created-At) to a 2xx answer. */
  endToEnd: Histogram<"lane">;
  inFlight: Gauge<"lane">;
  /** Breakers kept (LRU), by state; moved on each transition, never counted per scrape. */
  circuitBreakers: Gauge<"state">;
  circuitBreakerTransitions: Counter<"to">;
  /** Tasks waiting in this instance for their endpoint's turn (in-flight cap or rate limit). */
  heldTasks: Gauge;
  /** Tasks moved to their endpoint's own overflow consumer because it had too many waiting. */
  moved: Counter<"lane">;
  /**
   * Runs `flush` before every scrape of `attempts` and `inFlight`: lane recorders count there
   * and write the totals then, rather than hash their labels on every task.
   */
  beforeScrape(flush: () => void): void;
}

export function createDeliveryMetrics(service: ServiceMetrics): DeliveryMetrics {
  const registers = [service.registry];
  const flushes: (() => void)[] = [];
  const collect = () => {
    for (const flush of flushes) flush();
  };
  return {
    beforeScrape: (flush) => flushes.push(flush),
    attempts: new Counter({
      name: "hookline_delivery_attempts_total",
      help: "Delivery attempts by lane, result, HTTP status class and attempt (first or retry)",
      labelNames: ["lane", "result", "status_class", "attempt"],
      registers,
      collect,
    }),
    attemptDuration: new Histogram({
      name: "hookline_delivery_attempt_duration_seconds",
      help: "Duration of one HTTP attempt, connect to response",
      labelNames: ["result"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30],
      registers,
    }),
    endToEnd: new Histogram({
      name: "hookline_delivery_end_to_end_seconds",
      help: "From ingest accepting the event to the endpoint answering 2xx",
      labelNames: ["lane"],
      // Fine at the low end for the 5 ms p99 target; the tail covers retries over hours.
      buckets: [
        0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
        60, 300, 1_800, 7_200, 21_600, 86_400,
      ],
      registers,
    }),
    inFlight: new Gauge({
      name: "hookline_delivery_in_flight",
      help: "Tasks being handled now",
      labelNames: ["lane"],
      registers,
      collect,
    }),
    circuitBreakers: new Gauge({
      name: "hookline_circuit_breakers",
      help: "Per-endpoint circuit breakers kept, by state (closed, open, half_open)",
      labelNames: ["state"],
      registers,
    }),
    circuitBreakerTransitions: new Counter({
      name: "hookline_circuit_breaker_transitions_total",
      help: "Circuit breaker state changes, by the state entered",
      labelNames: ["to"],
      registers,
    }),
    heldTasks: new Gauge({
      name: "hookline_delivery_held_tasks",
      help: "Tasks waiting in this instance for their endpoint's in-flight cap or rate limit",
      registers,
    }),
    moved: new Counter({
      name: "hookline_delivery_moved_total",
      help: "Tasks moved to their endpoint's own overflow consumer, by the lane they came from",
      labelNames: ["lane"],
      registers,
    }),
  };
}

/** Records one lane's tasks. Series are looked up once and kept, and counts and the in-flight
 * gauge are written at scrape time: prom-client hashes the labels of every inc() and set(), even
 * on a kept series, and that showed up in profiles of the hot path. */
export interface LaneRecorder {
  handled(result: AttemptResult, statusClass: StatusClass, attempt: AttemptOrdinal): void;
  attemptSeconds(result: AttemptResult, seconds: number): void;
  endToEndSeconds(seconds: number): void;
  inFlight(count: number): void;
  moved(): void;
}

export function laneRecorder(metrics: DeliveryMetrics, lane: DeliveryLane): LaneRecorder {
  /** Per result, status class and attempt: its series and what it counted since the last
   * scrape. */
  const handled = new Map<string, { series: Counter.Internal; count: number }>();
  const durations = new Map<AttemptResult, Histogram.Internal<"result">>();
  const endToEnd = metrics.endToEnd.labels({ lane });
  const inFlight = metrics.inFlight.labels({ lane });
  let active = 0;
  const moved = metrics.moved.labels({ lane });
  moved.inc(0);
  metrics.beforeScrape(() => {
    inFlight.set(active);
    for (const entry of handled.values()) {
      if (entry.count === 0) continue;
      entry.series.inc(entry.count);
      entry.count = 0;
    }
  });
  return {
    handled(result, statusClass, attempt) {
      const key = `${result}/${statusClass}/${attempt}`;
      let entry = handled.get(key);
      if (!entry) {
        const series = metrics.attempts.labels({
          lane,
          result,
          status_class: statusClass,
          attempt,
        });
        // Shown from the first one on, as before: a series appears with its first task.
        series.inc(0);
        entry = { series, count: 0 };
        handled.set(key, entry);
      }
      entry.count++;
    },
    attemptSeconds(result, seconds) {
      let series = durations.get(result);
      if (!series) {
        series = metrics.attemptDuration.labels({ result });
        durations.set(result, series);
      }
      series.observe(seconds);
    },
    endToEndSeconds: (seconds) => endToEnd.observe(seconds),
    inFlight: (count) => {
      active = count;
    },
    moved: () => moved.inc(),
  };
}
