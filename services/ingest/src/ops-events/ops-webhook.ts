import { type OpsEventMessage, opsEventType } from "@hookline/contracts";

/** Where the API resources an operational event points to are reached (OPS_LINK_*_URL). */
export interface OpsLinkBases {
  ingest: string;
  dlq: string;
}

const text = (value: unknown, fallback = "?") =>
  typeof value === "string" || typeof value === "number" ? String(value) : fallback;

const percent = (value: unknown) =>
  typeof value === "number" ? `${Math.round(value * 1000) / 10} %` : "?";

/** One readable line per kind: what a chat message and a reader of the payload see first. */
export function opsSummary(event: Pick<OpsEventMessage, "kind" | "data">): string {
  const d = event.data;
  const endpoint = `endpoint ${text(d.endpointId)}${d.tenantId ? ` (tenant ${text(d.tenantId)})` : ""}`;
  switch (event.kind) {
    case "endpoint.disabled":
      return `${endpoint} was disabled: ${text(d.reason, "no reason given")}`;
    case "endpoint.enabled":
      return `${endpoint} was enabled again`;
    case "breaker.opened":
      return `${endpoint}: circuit breaker opened, sending paused`;
    case "breaker.closed":
      return `${endpoint}: circuit breaker closed, sending resumed`;
    case "task.dead_lettered":
      return `${endpoint}: ${text(d.count)} task(s) dead-lettered from ${text(d.from)} to ${text(d.to)}`;
    case "deadletters.threshold":
      return `${text(d.open)} open dead letters, past the threshold of ${text(d.threshold)}`;
    case "endpoint.failure_rate":
      return (
        `${endpoint}: ${percent(d.rate)} of ${text(d.attempts)} attempts failed in the last ` +
        `${text(d.window)}, past ${percent(d.threshold)} (${text(d.severity)})`
      );
  }
}

/**
 * The event ingest publishes for an operational event: type `hookline.<kind>`, its id, and a
 * payload of the facts with `summary` and an absolute `link`.
 */
export function opsWebhookEvent(
  event: OpsEventMessage,
  links: OpsLinkBases,
): { id: string; eventType: string; payload: Record<string, unknown> } {
  const payload: Record<string, unknown> = {
    ...event.data,
    occurredAt: event.occurredAt,
    summary: opsSummary(event),
  };
  if (event.link !== undefined) {
    payload.link = `${links[event.link.service].replace(/\/+$/, "")}${event.link.path}`;
  }
  return { id: event.id, eventType: opsEventType(event.kind), payload };
}
