import { hooklineNames } from "@hookline/contracts";
import { type Sink, sleep } from "@hookline/testkit";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type E2eStack, startE2eStack } from "../support/e2e-stack";
import type { IngestClient } from "../support/ingest-client";
import { inspectStreams, type StreamInspector } from "../support/stream-messages";

const prefix = "e2eretries";
const names = hooklineNames(prefix);
let e2e: E2eStack;
let nc: NatsConnection;
let sink: Sink;
let ingest: IngestClient;
let streams: StreamInspector;

beforeAll(async () => {
  e2e = await startE2eStack({
    prefix,
    services: ["ingest", "delivery", "classifier"],
    env: {
      // 4 attempts in all: the first, then one after each entry.
      RETRY_SCHEDULE: "200ms,500ms,1s",
      RETRY_TIERS: "200ms,1s,3s",
      // Small: jitter never decides a count here, and Retry-After is spread upwards only.
      RETRY_JITTER: "0.1",
      RETRY_OVERLOAD_MIN_DELAY: "200ms",
    },
  });
  ({ sink, ingest } = e2e);
  nc = await connect({ servers: e2e.nats.url });
  streams = inspectStreams(nc, await jetstreamManager(nc), names);
});

afterAll(async () => {
  await nc?.close();
  await e2e?.stop();
});

/** An endpoint of its own at `path`, subscribed to one event type of its own. */
async function endpointAt(path: string, extra: Record<string, unknown> = {}) {
  const eventType = `retries${path.replaceAll("/", ".")}`;
  const endpoint = await ingest.createEndpoint({
    url: sink.url(path),
    eventTypes: [eventType],
    ...extra,
  });
  sink.setSecrets(path, [endpoint.secret]);
  const post = async (): Promise<string> => {
    const posted = await ingest.postEvent({ eventType, payload: { path } });
    expect(posted.status).toBe(202);
    expect(posted.json.tasks).toBe(1);
    return String(posted.json.eventId);
  };
  return { id: endpoint.id, post };
}

describe("failure handling: retries and dead letters", () => {
  it("delivers on the third attempt after 503, 503, with the same webhook-id each time", async () => {
    const endpoint = await endpointAt("/flaky");
    sink.script("/flaky", [{ status: 503 }, { status: 503 }]);
    const eventId = await endpoint.post();

    const requests = await sink.waitFor(3, { path: "/flaky" });
    expect(requests.map((r) => r.answeredStatus)).toEqual([503, 503, 200]);
    expect(requests.map((r) => r.webhookId)).toEqual([eventId, eventId, eventId]);
    expect(requests.every((r) => r.verified)).toBe(true);

    // Hookline-History never reaches the receiver; the outcomes stream shows it.
    const failed = await streams.failedOutcomes(endpoint.id);
    expect(failed.map((o) => [o.attempt, o.result, o.status])).toEqual([
      [1, "http_error", 503],
      [2, "http_error", 503],
    ]);
    const [delivered] = await streams.waitForDelivered(endpoint.id, 1);
    expect(delivered?.attempt).toBe(3);
    expect(delivered?.history.map((a) => [a.n, a.result, a.status])).toEqual([
      [1, "http_error", 503],
      [2, "http_error", 503],
      [3, "delivered", 200],
    ]);

    await sleep(1_500);
    expect(sink.count("/flaky")).toBe(3);
    expect(await streams.deadLetters(endpoint.id)).toEqual([]);
  });

  it("dead-letters a 400 as non_retryable after exactly one attempt", async () => {
    const endpoint = await endpointAt("/bad-request");
    sink.setDefault("/bad-request", { status: 400 });
    const eventId = await endpoint.post();

    const [deadLetter] = await streams.waitForDeadLetters(endpoint.id, 1);
    expect(deadLetter).toMatchObject({ eventId, reason: "non_retryable", attempt: 1 });
    expect(deadLetter?.history).toEqual([
      expect.objectContaining({ n: 1, result: "http_error", status: 400 }),
    ]);
    // Longer than every scheduled delay: a retry would have come by now.
    await sleep(1_500);
    expect(sink.count("/bad-request")).toBe(1);
    expect(await streams.deadLetters(endpoint.id)).toHaveLength(1);
  });

  it("counts a request past the endpoint's timeoutMs as a timeout, and retries it", async () => {
    const endpoint = await endpointAt("/slow", { timeoutMs: 300 });
    sink.script("/slow", [{ hang: true }]);
    const eventId = await endpoint.post();

    const requests = await sink.waitFor(2, { path: "/slow" });
    expect(requests.map((r) => r.answeredStatus)).toEqual([null, 200]);
    expect(requests.map((r) => r.webhookId)).toEqual([eventId, eventId]);

    const failed = await streams.failedOutcomes(endpoint.id);
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ attempt: 1, result: "timeout" });
    expect(failed[0]?.status).toBeUndefined();
    const [delivered] = await streams.waitForDelivered(endpoint.id, 1);
    expect(delivered?.history.map((a) => a.result)).toEqual(["timeout", "delivered"]);
  });

  it("dead-letters an endpoint that always answers 500 as exhausted after 1 + 3 attempts", async () => {
    const endpoint = await endpointAt("/broken");
    sink.setDefault("/broken", { status: 500 });
    const eventId = await endpoint.post();

    const [deadLetter] = await streams.waitForDeadLetters(endpoint.id, 1, 20_000);
    expect(deadLetter).toMatchObject({ eventId, reason: "exhausted", attempt: 4 });
    expect(deadLetter?.history.map((a) => [a.n, a.result, a.status])).toEqual([
      [1, "http_error", 500],
      [2, "http_error", 500],
      [3, "http_error", 500],
      [4, "http_error", 500],
    ]);
    await sleep(1_500);
    const requests = sink.deliveries("/broken");
    expect(requests).toHaveLength(4);
    expect(new Set(requests.map((r) => r.webhookId))).toEqual(new Set([eventId]));
  });

  it("uses the endpoint's own retrySchedule instead of RETRY_SCHEDULE", async () => {
    const endpoint = await endpointAt("/own-schedule", { retrySchedule: ["200ms"] });
    sink.setDefault("/own-schedule", { status: 502 });
    await endpoint.post();

    const [deadLetter] = await streams.waitForDeadLetters(endpoint.id, 1);
    expect(deadLetter).toMatchObject({ reason: "exhausted", attempt: 2 });
    await sleep(1_500);
    expect(sink.count("/own-schedule")).toBe(2);
  });

  it("waits at least Retry-After before the next attempt after a 429", async () => {
    const endpoint = await endpointAt("/busy");
    sink.script("/busy", [{ status: 429, retryAfter: "2" }]);
    await endpoint.post();

    const [first, second] = await sink.waitFor(2, { path: "/busy" });
    expect(first?.answeredStatus).toBe(429);
    expect(second?.answeredStatus).toBe(200);
    // Retry-After is a floor. The classifier computes the due time after the sink recorded the
    // first request, and every process reads the same clock, so the true gap is ≥ 2000 ms; the
    // 50 ms slack only absorbs millisecond rounding, it is not a tolerance for early retries.
    const gapMs = (second?.receivedAt ?? 0) - (first?.receivedAt ?? 0);
    expect(gapMs).toBeGreaterThanOrEqual(2_000 - 50);

    const failed = await streams.failedOutcomes(endpoint.id);
    expect(failed).toEqual([
      expect.objectContaining({ attempt: 1, status: 429, retryAfterMs: 2_000 }),
    ]);
  });
});
