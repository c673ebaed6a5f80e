import { hooklineNames } from "@hookline/contracts";
import { pollUntil, type Sink, type Stack } from "@hookline/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DeadLetter, DlqClient } from "../support/dlq-client";
import { type E2eStackWithDlq, fastRetries, startE2eStack } from "../support/e2e-stack";
import type { IngestClient } from "../support/ingest-client";
import {
  actualDeltas,
  type ExpectedDelta,
  type Exposition,
  expectedTable,
  promtoolCheckMetrics,
  scrape,
} from "./support/exposition";

const prefix = "e2emetrics";
const names = hooklineNames(prefix);
const services = ["ingest", "delivery", "classifier", "dlq"] as const;
let e2e: E2eStackWithDlq;
let sink: Sink;
let stack: Stack;
let ingest: IngestClient;
let dlq: DlqClient;

beforeAll(async () => {
  e2e = await startE2eStack({
    prefix,
    services,
    env: {
      // 3 fresh slots and 1 retry slot: a hanging endpoint makes a backlog at once.
      DELIVERY_MAX_IN_FLIGHT: "4",
      // A 503 waits max(200ms schedule, 200ms overload minimum): always the 200ms tier.
      ...fastRetries,
    },
  });
  ({ sink, stack, ingest, dlq } = e2e);
});

afterAll(async () => {
  // The sink first: it ends the backlog test's hanging requests, so delivery can stop at once.
  await sink?.close();
  await e2e?.stop();
});

async function scrapeAll(): Promise<Record<string, Exposition>> {
  const scraped = await Promise.all(services.map((name) => scrape(stack.url(name))));
  return Object.fromEntries(services.map((name, index) => [name, scraped[index] as Exposition]));
}

async function endpointAt(path: string, eventType: string, extra: Record<string, unknown> = {}) {
  const endpoint = await ingest.createEndpoint({
    url: sink.url(path),
    eventTypes: [eventType],
    ...extra,
  });
  sink.setSecrets(path, [endpoint.secret]);
  return endpoint;
}

async function postOk(body: Record<string, unknown>): Promise<string> {
  const posted = await ingest.postEvent(body);
  expect(posted.status, JSON.stringify(posted.json)).toBe(202);
  return String(posted.json.eventId);
}

async function onlyLetterOf(endpointId: string): Promise<DeadLetter> {
  let letters: DeadLetter[] = [];
  await pollUntil(
    async () => {
      letters = (await dlq.list({ endpointId })).json.data;
      return letters.length >= 1;
    },
    { timeoutMs: 10_000, intervalMs: 100, what: `a dead letter for ${endpointId}` },
  );
  expect(letters).toHaveLength(1);
  return letters[0] as DeadLetter;
}

const delivered = { result: "delivered", status_class: "2xx" };

/** What one pass of the scenario below adds to each series, exactly. */
const scenarioDeltas = (okEvents: number): ExpectedDelta[] => [
  // Ingest: okEvents + flaky + refused accepted, one duplicate, one bad token.
  { service: "ingest", metric: "hookline_ingest_events_total", delta: okEvents + 4 },
  {
    service: "ingest",
    metric: "hookline_ingest_events_total",
    labels: { outcome: "accepted" },
    delta: okEvents + 2,
  },
  {
    service: "ingest",
    metric: "hookline_ingest_events_total",
    labels: { outcome: "duplicate" },
    delta: 1,
  },
  {
    service: "ingest",
    metric: "hookline_ingest_events_total",
    labels: { outcome: "rejected" },
    delta: 1,
  },
  { service: "ingest", metric: "hookline_ingest_tasks_total", delta: okEvents + 2 },
  { service: "ingest", metric: "hookline_endpoints", labels: { state: "enabled" }, delta: 3 },
  {
    service: "ingest",
    metric: "hookline_http_requests_total",
    labels: { method: "POST", route: "/v1/events", status: "202" },
    delta: okEvents + 3,
  },
  // Counted under the route it was meant for, though the bearer-auth middleware answered.
  {
    service: "ingest",
    metric: "hookline_http_requests_total",
    labels: { method: "POST", route: "/v1/events", status: "401" },
    delta: 1,
  },
  {
    service: "ingest",
    metric: "hookline_http_requests_total",
    labels: { method: "POST", route: "/v1/endpoints", status: "201" },
    delta: 3,
  },
  // Delivery: every fresh task once; the retried task and the replay on the retry lane.
  { service: "delivery", metric: "hookline_delivery_attempts_total", delta: okEvents + 4 },
  {
    service: "delivery",
    metric: "hookline_delivery_attempts_total",
    labels: { lane: "fresh", ...delivered },
    delta: okEvents,
  },
  {
    service: "delivery",
    metric: "hookline_delivery_attempts_total",
    labels: { lane: "fresh", result: "http_error", status_class: "5xx" },
    delta: 1,
  },
  {
    service: "delivery",
    metric: "hookline_delivery_attempts_total",
    labels: { lane: "fresh", result: "http_error", status_class: "4xx" },
    delta: 1,
  },
  {
    service: "delivery",
    metric: "hookline_delivery_attempts_total",
    labels: { lane: "retry", ...delivered },
    delta: 2,
  },
  {
    service: "delivery",
    metric: "hookline_delivery_attempt_duration_seconds_count",
    labels: { result: "delivered" },
    delta: okEvents + 2,
  },
  {
    service: "delivery",
    metric: "hookline_delivery_attempt_duration_seconds_count",
    labels: { result: "http_error" },
    delta: 2,
  },
  {
    service: "delivery",
    metric: "hookline_delivery_end_to_end_seconds_count",
    labels: { lane: "fresh" },
    delta: okEvents,
  },
  {
    service: "delivery",
    metric: "hookline_delivery_end_to_end_seconds_count",
    labels: { lane: "retry" },
    delta: 2,
  },
  { service: "delivery", metric: "hookline_circuit_breaker_transitions_total", delta: 0 },
  // Classifier: the 503 is retried through the 200ms tier, the 400 dead-lettered.
  { service: "classifier", metric: "hookline_classifier_decisions_total", delta: 2 },
  {
    service: "classifier",
    metric: "hookline_classifier_decisions_total",
    labels: { decision: "retry", reason: "http_error" },
    delta: 1,
  },
  {
    service: "classifier",
    metric: "hookline_classifier_decisions_total",
    labels: { decision: "deadletter", reason: "non_retryable" },
    delta: 1,
  },
  { service: "classifier", metric: "hookline_retry_scheduled_total", delta: 1 },
  {
    service: "classifier",
    metric: "hookline_retry_scheduled_total",
    labels: { tier: "200ms" },
    delta: 1,
  },
  { service: "classifier", metric: "hookline_retry_released_total", delta: 1 },
  {
    service: "classifier",
    metric: "hookline_retry_released_total",
    labels: { tier: "200ms" },
    delta: 1,
  },
  { service: "classifier", metric: "hookline_endpoints_disabled_total", delta: 0 },
  // DLQ: one letter stored, then replayed, so it is no longer open.
  { service: "dlq", metric: "hookline_dead_letters_stored_total", delta: 1 },
  {
    service: "dlq",
    metric: "hookline_dead_letters_stored_total",
    labels: { reason: "non_retryable" },
    delta: 1,
  },
  { service: "dlq", metric: "hookline_dead_letters", labels: { status: "open" }, delta: 0 },
  { service: "dlq", metric: "hookline_dead_letters", labels: { status: "replayed" }, delta: 1 },
  { service: "dlq", metric: "hookline_dlq_actions_total", delta: 1 },
  {
    service: "dlq",
    metric: "hookline_dlq_actions_total",
    labels: { action: "replayed" },
    delta: 1,
  },
  {
    service: "dlq",
    metric: "hookline_http_requests_total",
    labels: { method: "POST", route: "/v1/dead-letters/:id/replay", status: "202" },
    delta: 1,
  },
  // Nothing in the scenario is undecodable.
  ...services.map((service) => ({ service, metric: "hookline_invalid_messages_total", delta: 0 })),
];

describe("metrics in the full stack", () => {
  it("count a scenario of deliveries, a retry, a dead letter and its replay exactly", async () => {
    const okEvents = 5;
    const before = await scrapeAll();

    await endpointAt("/ok", "metrics.ok");
    await endpointAt("/flaky", "metrics.flaky");
    sink.script("/flaky", [{ status: 503, body: "busy" }]);
    const refusing = await endpointAt("/refuses", "metrics.refused");
    sink.setDefault("/refuses", { status: 400, body: "bad request" });

    const okIds = await Promise.all(
      Array.from({ length: okEvents }, (_, n) =>
        postOk({ eventType: "metrics.ok", payload: { n } }),
      ),
    );
    const flakyId = await postOk({ eventType: "metrics.flaky", payload: { n: 0 } });
    await postOk({ eventType: "metrics.refused", payload: { n: 0 } });
    // The same id again stores nothing new.
    const again = await ingest.postEvent({ id: okIds[0], eventType: "metrics.ok", payload: {} });
    expect(again.json).toMatchObject({ duplicate: true });
    const refused = await fetch(`${stack.url("ingest")}/v1/events`, {
      method: "POST",
      headers: { authorization: "Bearer wrong-token", "content-type": "application/json" },
      body: JSON.stringify({ eventType: "metrics.ok", payload: {} }),
    });
    expect(refused.status).toBe(401);

    await sink.waitFor(okEvents, { path: "/ok" });
    const flakyDeliveries = await sink.waitFor(2, { path: "/flaky" });
    expect(flakyDeliveries.map((d) => [d.webhookId, d.answeredStatus])).toEqual([
      [flakyId, 503],
      [flakyId, 200],
    ]);
    const letter = await onlyLetterOf(refusing.id);
    sink.setDefault("/refuses", { status: 200 });
    expect((await dlq.replay(letter.id, "fixed")).status).toBe(202);
    await sink.waitFor(2, { path: "/refuses" });
    expect(sink.count("/ok")).toBe(okEvents);

    // Counters move after the sink has answered; wait until they settle, then compare them all
    // (after a timeout the assertion prints the whole table of differences).
    const expected = scenarioDeltas(okEvents);
    let after = await scrapeAll();
    await pollUntil(
      async () => {
        after = await scrapeAll();
        return (
          JSON.stringify(actualDeltas(expected, before, after)) ===
          JSON.stringify(expectedTable(expected))
        );
      },
      { timeoutMs: 10_000, intervalMs: 200, what: "the metrics to reach the expected deltas" },
    ).catch(() => undefined);
    expect(actualDeltas(expected, before, after)).toEqual(expectedTable(expected));
  });

  it("pass promtool check metrics", async () => {
    const scraped = await scrapeAll();
    for (const service of services) {
      const checked = promtoolCheckMetrics(scraped[service]?.text ?? "");
      expect(checked.problems, `promtool on ${service}'s /metrics`).toEqual([]);
      expect(checked.status, `promtool exit status for ${service}`).toBe(0);
    }
  });

  it("carry the service label and the backlog gauges of every consumer", async () => {
    const scraped = await scrapeAll();
    for (const service of services) {
      const hookline = scraped[service]?.samples.filter((s) => s.name.startsWith("hookline_"));
      expect(hookline?.length, service).toBeGreaterThan(0);
      expect(hookline?.filter((s) => s.labels.service !== service)).toEqual([]);
    }
    const { streams, consumers: named } = names;
    const watched: [string, string, string[]][] = [
      ["delivery", streams.dispatch, [named.deliveryFresh]],
      ["delivery", streams.dispatchRetry, [named.deliveryRetry]],
      ["classifier", streams.retry, ["200ms", "1s", "3s"].map(named.retryTier)],
      ["classifier", streams.outcomes, [named.classifier]],
      ["dlq", streams.deadletter, [named.dlqStore]],
    ];
    for (const [service, stream, consumers] of watched) {
      for (const consumer of consumers) {
        for (const metric of [
          "hookline_jetstream_consumer_pending_messages",
          "hookline_jetstream_consumer_ack_pending_messages",
        ]) {
          expect(scraped[service]?.has(metric, { stream, consumer }), `${service} ${metric}`).toBe(
            true,
          );
        }
      }
    }
  });

  it("carry every stream's usage, and DISPATCH's byte limit, from every service", async () => {
    const streams = Object.values(names.streams);
    const usage = ["hookline_jetstream_stream_bytes", "hookline_jetstream_stream_messages"];
    let scraped = await scrapeAll();
    const missing = () =>
      services.flatMap((service) =>
        streams.flatMap((stream) =>
          usage
            .filter((metric) => !scraped[service]?.has(metric, { stream }))
            .map((metric) => `${service} ${metric} ${stream}`),
        ),
      );
    // Stream info is read at start-up and then every 10 s.
    await pollUntil(
      async () => {
        scraped = await scrapeAll();
        return missing().length === 0;
      },
      {
        timeoutMs: 15_000,
        intervalMs: 500,
        what: "stream usage gauges",
        detail: () => missing().join(", "),
      },
    );
    const stream = names.streams.dispatch;
    for (const service of services) {
      const exposition = scraped[service] as Exposition;
      // DISPATCH refuses writes past DISPATCH_MAX_BYTES (1 GiB unless set), so ingest can 503.
      const limits = exposition.samples.filter(
        (s) => s.name === "hookline_jetstream_stream_max_bytes" && s.labels.stream === stream,
      );
      expect(
        limits.map((s) => s.labels.discard),
        service,
      ).toEqual(["new"]);
      const maxBytes = limits[0]?.value ?? 0;
      expect(maxBytes, service).toBeGreaterThanOrEqual(1024 * 1024);
      expect(maxBytes, service).toBeLessThanOrEqual(1024 ** 4);
      const bytes = exposition.value("hookline_jetstream_stream_bytes", { stream });
      expect(bytes, service).toBeGreaterThanOrEqual(0);
      expect(bytes, service).toBeLessThan(maxBytes);
    }
  });

  it("show a dispatch backlog in delivery's consumer gauges", async () => {
    // Three fresh slots, each held by a request that never gets an answer while the test runs.
    await endpointAt("/hangs", "metrics.backlog", { timeoutMs: 30_000 });
    sink.setDefault("/hangs", { hang: true });
    const total = 200;
    const batch = await ingest.request("/v1/events/batch", {
      method: "POST",
      body: JSON.stringify({
        events: Array.from({ length: total }, (_, n) => ({
          eventType: "metrics.backlog",
          payload: { n },
        })),
      }),
    });
    expect(batch.status).toBe(202);
    await sink.waitFor(3, { path: "/hangs" });

    const consumer = { stream: names.streams.dispatch, consumer: names.consumers.deliveryFresh };
    let delivery = await scrape(stack.url("delivery"));
    const backlog = () => ({
      pending: delivery.value("hookline_jetstream_consumer_pending_messages", consumer),
      ackPending: delivery.value("hookline_jetstream_consumer_ack_pending_messages", consumer),
    });
    // The gauges follow consumer info, read every 10 s.
    await pollUntil(
      async () => {
        delivery = await scrape(stack.url("delivery"));
        const { pending, ackPending } = backlog();
        return pending + ackPending === total;
      },
      {
        timeoutMs: 15_000,
        intervalMs: 500,
        what: `pending + ack pending of delivery-fresh to reach ${total}`,
        detail: () => JSON.stringify(backlog()),
      },
    );
    const { pending, ackPending } = backlog();
    // Nothing was acked: all of it waits, a few pulled into the lane, the rest not yet sent.
    expect(ackPending).toBeGreaterThanOrEqual(3);
    expect(ackPending).toBeLessThanOrEqual(10);
    expect(pending).toBeGreaterThanOrEqual(total - 10);
    expect(delivery.value("hookline_delivery_in_flight", { lane: "fresh" })).toBe(3);
    expect(sink.count("/hangs")).toBe(3);
  });
});
