import { minuteToken, type OpsEventMessage, opsEventId } from "@hookline/contracts";
import type { WindowCount } from "./dead-letter-tally";

/** An endpoint's attempts in the failure-rate window, from the attempt log. */
export interface EndpointAttempts {
  endpointId: string;
  tenantId: string;
  attempts: number;
  failed: number;
}

const iso = (at: number) => new Date(at).toISOString();
const deadLettersOf = (endpointId: string) =>
  `/v1/dead-letters?endpointId=${encodeURIComponent(endpointId)}&status=open`;

/** `task.dead_lettered` for one endpoint's window; the id names the instance that counted. */
export function deadLetteredEvent(
  count: WindowCount,
  windowMs: number,
  instance: string,
  now: number,
) {
  const from = iso(count.windowStart);
  return {
    id: opsEventId("task.dead_lettered", count.endpointId, from.slice(0, 19), instance),
    kind: "task.dead_lettered",
    occurredAt: iso(now),
    data: {
      endpointId: count.endpointId,
      tenantId: count.tenantId,
      count: count.count,
      from,
      to: iso(count.windowStart + windowMs),
    },
    link: { service: "dlq", path: deadLettersOf(count.endpointId) },
  } satisfies OpsEventMessage;
}

/** `deadletters.threshold`: the open letters reached `threshold` (in this minute). */
export function thresholdEvent(open: number, threshold: number, now: number) {
  return {
    id: opsEventId("deadletters.threshold", threshold, minuteToken(now)),
    kind: "deadletters.threshold",
    occurredAt: iso(now),
    data: { open, threshold },
    link: { service: "dlq", path: "/v1/dead-letters?status=open" },
  } satisfies OpsEventMessage;
}

/** `endpoint.failure_rate`: the first threshold is a warning, any later one critical. */
export function failureRateEvent(
  endpoint: EndpointAttempts,
  threshold: number,
  thresholds: readonly number[],
  windowText: string,
  now: number,
) {
  const severity = threshold === thresholds[0] ? "warning" : "critical";
  return {
    id: opsEventId("endpoint.failure_rate", endpoint.endpointId, threshold, minuteToken(now)),
    kind: "endpoint.failure_rate",
    occurredAt: iso(now),
    data: {
      endpointId: endpoint.endpointId,
      tenantId: endpoint.tenantId,
      rate: endpoint.failed / endpoint.attempts,
      attempts: endpoint.attempts,
      failed: endpoint.failed,
      threshold,
      severity,
      window: windowText,
    },
    link: {
      service: "dlq",
      path: `/v1/attempts?endpointId=${encodeURIComponent(endpoint.endpointId)}`,
    },
  } satisfies OpsEventMessage;
}
