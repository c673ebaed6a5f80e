import { Counter, Gauge, type ServiceMetrics } from "@hookline/kit";
import type { MiddlewareHandler } from "hono";

export const eventOutcomes = ["accepted", "duplicate", "rejected", "unavailable"] as const;
export type EventOutcomeLabel = (typeof eventOutcomes)[number];

export interface IngestMetrics {
  events: Counter<"outcome">;
  /** Tasks newly stored in DISPATCH (duplicates of earlier publishes are not counted). */
  tasks: Counter;
}

export interface EndpointStateCounts {
  enabled: number;
  disabled: number;
}

/**
 * Ingest's own series, on the service registry. The endpoint gauge is computed on scrape from
 * `endpointStates` (undefined while the endpoint cache is still starting).
 */
export function createIngestMetrics(
  service: ServiceMetrics,
  endpointStates: () => EndpointStateCounts | undefined,
): IngestMetrics {
  const registers = [service.registry];
  const events = new Counter({
    name: "hookline_ingest_events_total",
    help: "Events by outcome: accepted, duplicate (every task already stored), rejected, unavailable",
    labelNames: ["outcome"],
    registers,
  });
  for (const outcome of eventOutcomes) events.inc({ outcome }, 0);
  new Gauge({
    name: "hookline_endpoints",
    help: "Registered endpoints by state",
    labelNames: ["state"],
    registers,
    collect() {
      const counts = endpointStates();
      if (counts === undefined) return;
      this.set({ state: "enabled" }, counts.enabled);
      this.set({ state: "disabled" }, counts.disabled);
    },
  });
  const tasks = new Counter({
    name: "hookline_ingest_tasks_total",
    help: "Tasks stored in the dispatch stream by fan-out",
    registers,
  });
  return { events, tasks };
}

/** /v1/tenants/{tenantId}/events and …/events/batch. */
const TENANT_EVENTS_PATH = /^\/v1\/tenants\/[^/]+\/events(\/batch)?$/;

/** Event requests answered 4xx (bad token, bad body, too large, unknown tenant) count as rejected. */
export function countRejectedEvents(metrics: IngestMetrics): MiddlewareHandler {
  return async (c, next) => {
    await next();
    if (c.res.status < 400 || c.res.status >= 500) return;
    const path = c.req.path;
    if (path.startsWith("/v1/events") || TENANT_EVENTS_PATH.test(path)) {
      metrics.events.inc({ outcome: "rejected" });
    }
  };
}
