import { hooklineNames } from "@hookline/contracts";
import type { Delivery, Sink } from "@hookline/testkit";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type E2eStack, startE2eStack } from "../support/e2e-stack";
import type { IngestClient } from "../support/ingest-client";
import { inspectStreams, type StreamInspector } from "../support/stream-messages";

const prefix = "e2eretrypolicies";
const names = hooklineNames(prefix);
const eventType = "policies.compared";
/** The classifier's clock and the sink's are one; this only absorbs millisecond rounding. */
const ROUNDING_MS = 50;

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
      // Short tiers, so a policy's delays of a few seconds wait in them; ingest reads them too
      // (no policy delay may be longer than the longest).
      RETRY_TIERS: "1s,3s,10s",
      RETRY_JITTER: "0",
      RETRY_OVERLOAD_MIN_DELAY: "1s",
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

async function failingEndpoint(path: string, retryPolicy: Record<string, unknown>) {
  const endpoint = await ingest.createEndpoint({
    url: sink.url(path),
    eventTypes: [eventType],
    retryPolicy,
  });
  sink.setSecrets(path, [endpoint.secret]);
  sink.setDefault(path, { status: 500 });
  return endpoint;
}

const gapsOf = (requests: Delivery[]) =>
  requests.slice(1).map((request, i) => request.receivedAt - (requests[i]?.receivedAt ?? 0));

describe("retry policies per endpoint", () => {
  it("retries two endpoints of one event on their own strategies' spacings", async () => {
    const fixed = await failingEndpoint("/fixed", {
      strategy: "fixed",
      baseDelay: "1s",
      maxAttempts: 4,
      jitter: 0,
    });
    const exponential = await failingEndpoint("/exponential", {
      strategy: "exponential",
      baseDelay: "1s",
      maxDelay: "8s",
      maxAttempts: 4,
      jitter: 0,
    });

    const posted = await ingest.postEvent({ eventType, payload: { compare: true } });
    expect(posted.status).toBe(202);
    expect(posted.json.tasks).toBe(2);

    // Both exhaust their 4 attempts (maxAttempts, not RETRY_SCHEDULE's 8).
    const [fixedLetter] = await streams.waitForDeadLetters(fixed.id, 1, 20_000);
    const [exponentialLetter] = await streams.waitForDeadLetters(exponential.id, 1, 20_000);
    expect(fixedLetter).toMatchObject({ reason: "exhausted", attempt: 4 });
    expect(exponentialLetter).toMatchObject({ reason: "exhausted", attempt: 4 });

    const fixedRequests = sink.deliveries("/fixed");
    const exponentialRequests = sink.deliveries("/exponential");
    expect(fixedRequests.map((r) => r.answeredStatus)).toEqual([500, 500, 500, 500]);
    expect(exponentialRequests.map((r) => r.answeredStatus)).toEqual([500, 500, 500, 500]);
    expect([...fixedRequests, ...exponentialRequests].every((r) => r.verified)).toBe(true);
    expect(new Set(fixedRequests.map((r) => r.webhookId))).toEqual(new Set([posted.json.eventId]));

    // fixed: 1s, 1s, 1s. exponential: 1s, 2s, 4s, each at least that long.
    const fixedGaps = gapsOf(fixedRequests);
    const exponentialGaps = gapsOf(exponentialRequests);
    for (const gap of fixedGaps) expect(gap).toBeGreaterThanOrEqual(1_000 - ROUNDING_MS);
    [1_000, 2_000, 4_000].forEach((least, i) => {
      expect(exponentialGaps[i]).toBeGreaterThanOrEqual(least - ROUNDING_MS);
    });
    // Sent together, the fixed endpoint (3 s of waits) is done well before the exponential one
    // (7 s) has its last attempt.
    const lastFixed = fixedRequests.at(-1)?.receivedAt ?? Number.POSITIVE_INFINITY;
    const lastExponential = exponentialRequests.at(-1)?.receivedAt ?? 0;
    expect(lastFixed).toBeLessThan(lastExponential);
    expect(exponentialRequests[2]?.receivedAt ?? 0).toBeGreaterThan(
      fixedRequests[2]?.receivedAt ?? Number.POSITIVE_INFINITY,
    );
  });

  it("refuses a policy delay longer than the longest tier ingest was given", async () => {
    const response = await ingest.request("/v1/endpoints", {
      method: "POST",
      body: JSON.stringify({
        url: sink.url("/too-long"),
        retryPolicy: { strategy: "fixed", baseDelay: "30s" },
      }),
    });
    expect(response.status).toBe(400);
    expect(response.headers.get("content-type")).toContain("application/problem+json");
    expect(((await response.json()) as { detail: string }).detail).toBe(
      "retryPolicy.baseDelay: must be between 1s and 10s (the longest of RETRY_TIERS)",
    );
  });
});
