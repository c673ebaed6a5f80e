import type { AttemptResult, DeadLetterReason } from "@hookline/contracts";
import type { RetryFloor } from "../scheduling/retry-plan";

/** What a failed pass means for the task, before any timing is considered. */
export type AttemptClassification =
  /**
   * Worth another attempt. `floor` says which minimum wait applies: 429 rate_limited, 503 and
   * timeouts overloaded, network errors network.
   */
  | { decision: "retry"; floor: RetryFloor }
  /**
   * Rate limited without a request: put off without using an attempt. Delivery now paces rate
   * limits itself; this is for outcomes an older delivery stored.
   */
  | { decision: "defer" }
  | { decision: "deadletter"; reason: ImmediateDeadLetterReason }
  /** 410: dead-letter as `endpoint_gone` and disable the endpoint (Standard Webhooks). */
  | { decision: "gone" }
  /** A success on the failure subject would be a bug upstream; there is nothing left to do. */
  | { decision: "delivered" };

export type ImmediateDeadLetterReason = Extract<
  DeadLetterReason,
  "non_retryable" | "endpoint_disabled" | "endpoint_deleted"
>;

/** Statuses outside 5xx that say "try again later": timeout, too early, too many requests. */
const retryableClientStatuses = new Set([408, 425, 429]);

export function isRetryableStatus(status: number): boolean {
  return retryableClientStatuses.has(status) || (status >= 500 && status <= 599);
}

function statusFloor(status: number): RetryFloor {
  if (status === 429) return "rate_limited";
  return status === 503 ? "overloaded" : "none";
}

/**
 * Classifies one failed pass. Retryable: timeout, network_error, HTTP 408, 425, 429 and 5xx.
 * Every other status (1xx, 2xx, 3xx, other 4xx) and blocked_destination is not retryable.
 */
export function classifyAttempt(outcome: {
  result: AttemptResult;
  status?: number | undefined;
}): AttemptClassification {
  switch (outcome.result) {
    case "timeout":
      return { decision: "retry", floor: "overloaded" };
    case "network_error":
      return { decision: "retry", floor: "network" };
    case "http_error": {
      const { status } = outcome;
      if (status === 410) return { decision: "gone" };
      if (status === undefined || !isRetryableStatus(status)) {
        return { decision: "deadletter", reason: "non_retryable" };
      }
      return { decision: "retry", floor: statusFloor(status) };
    }
    case "circuit_open":
      // The attempt came due while the breaker was open: it counts, and the schedule goes on,
      // so a dead endpoint's tasks reach `exhausted` instead of looping until their deadline.
      return { decision: "retry", floor: "none" };
    case "rate_limited":
      return { decision: "defer" };
    case "blocked_destination":
      return { decision: "deadletter", reason: "non_retryable" };
    case "endpoint_disabled":
      return { decision: "deadletter", reason: "endpoint_disabled" };
    case "endpoint_missing":
      return { decision: "deadletter", reason: "endpoint_deleted" };
    case "delivered":
      return { decision: "delivered" };
  }
}
