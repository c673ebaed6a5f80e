import type { MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

// Services add their own series to the kit registry; prom-client is a dependency of kit only.
export { Counter, Gauge, Histogram } from "prom-client";

export interface ServiceMetrics {
  registry: Registry;
  httpRequests: Counter<"method" | "route" | "status">;
  httpDuration: Histogram<"method" | "route" | "status">;
  consumerPending: Gauge<"stream" | "consumer">;
  consumerAckPending: Gauge<"stream" | "consumer">;
  /** Stream usage and limits (watchStreamUsage); no limit, no max series. */
  streamBytes: Gauge<"stream">;
  streamMaxBytes: Gauge<"stream" | "discard">;
  streamMessages: Gauge<"stream">;
  streamMaxMessages: Gauge<"stream" | "discard">;
  invalidMessages: Counter<"consumer">;
}

/** One registry per service; every series carries a `service` label. */
export function createServiceMetrics(service: string): ServiceMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  // prom-client names three gauges *_total, which Prometheus reserves for counters (promtool
  // rejects them); the same values are exported without the suffix.
  for (const name of [
    "nodejs_active_handles_total",
    "nodejs_active_requests_total",
    "nodejs_active_resources_total",
  ]) {
    registry.removeSingleMetric(name);
  }
  const registers = [registry];
  return {
    registry,
    httpRequests: new Counter({
      name: "hookline_http_requests_total",
      help: "HTTP requests served",
      labelNames: ["method", "route", "status"],
      registers,
    }),
    httpDuration: new Histogram({
      name: "hookline_http_request_duration_seconds",
      help: "HTTP request duration",
      labelNames: ["method", "route", "status"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    consumerPending: new Gauge({
      name: "hookline_jetstream_consumer_pending_messages",
      help: "Messages in the stream not yet delivered to the consumer",
      labelNames: ["stream", "consumer"],
      registers,
    }),
    consumerAckPending: new Gauge({
      name: "hookline_jetstream_consumer_ack_pending_messages",
      help: "Messages delivered to the consumer and not yet acknowledged",
      labelNames: ["stream", "consumer"],
      registers,
    }),
    streamBytes: new Gauge({
      name: "hookline_jetstream_stream_bytes",
      help: "Bytes the stream holds",
      labelNames: ["stream"],
      registers,
    }),
    streamMaxBytes: new Gauge({
      name: "hookline_jetstream_stream_max_bytes",
      help: "The stream's byte limit (max_bytes) and its discard policy; absent when it has none",
      labelNames: ["stream", "discard"],
      registers,
    }),
    streamMessages: new Gauge({
      name: "hookline_jetstream_stream_messages",
      help: "Messages the stream holds",
      labelNames: ["stream"],
      registers,
    }),
    streamMaxMessages: new Gauge({
      name: "hookline_jetstream_stream_max_messages",
      help: "The stream's message limit (max_msgs) and its discard policy; absent when it has none",
      labelNames: ["stream", "discard"],
      registers,
    }),
    invalidMessages: new Counter({
      name: "hookline_invalid_messages_total",
      help: "Messages a consumer could not decode and dead-lettered raw",
      labelNames: ["consumer"],
      registers,
    }),
  };
}

/** Counts and times requests by route pattern, never by raw path (ids would explode labels). */
export function httpMetricsMiddleware(metrics: ServiceMetrics): MiddlewareHandler {
  return async (c, next) => {
    const started = performance.now();
    await next();
    // The route that would have handled the request, even when middleware (auth, body limits)
    // answered first; "ALL" entries are middleware.
    const route = matchedRoutes(c).findLast((entry) => entry.method !== "ALL");
    const labels = {
      method: c.req.method,
      route: route?.path ?? "unmatched",
      status: String(c.res.status),
    };
    metrics.httpRequests.inc(labels);
    metrics.httpDuration.observe(labels, (performance.now() - started) / 1000);
  };
}
