import { minuteToken, type OpsEventMessage, opsEventId } from "@hookline/contracts";
import type { BreakerState } from "./endpoint-breaker";

/**
 * The operational event of a breaker's transition, if operators hear of it: `breaker.opened`
 * when a closed breaker opens (not when a failed probe opens it again, every reset timeout),
 * `breaker.closed` when it closes again. Each delivery instance has its own breakers; the id
 * holds the endpoint and the minute, so instances that open together store one event.
 */
export function breakerOpsEvent(transition: {
  endpointId: string;
  tenantId: string;
  from: BreakerState;
  to: BreakerState;
  now: number;
}): OpsEventMessage | undefined {
  const { endpointId, tenantId, from, to, now } = transition;
  let kind: "breaker.opened" | "breaker.closed";
  if (from === "closed" && to === "open") kind = "breaker.opened";
  else if (to === "closed") kind = "breaker.closed";
  else return undefined;
  return {
    id: opsEventId(kind, endpointId, minuteToken(now)),
    kind,
    occurredAt: new Date(now).toISOString(),
    data: { endpointId, tenantId, from, to },
    link: {
      service: "ingest",
      path: `/v1/tenants/${encodeURIComponent(tenantId)}/endpoints/${endpointId}/health`,
    },
  };
}
