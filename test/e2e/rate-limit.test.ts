import {
  decodeDeliveredOutcomes,
  decodeOutcome,
  hooklineNames,
  type OutcomeMeta,
} from "@hookline/contracts";
import { pollUntil, type Sink, sleep } from "@hookline/testkit";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type E2eStack, startE2eStack } from "../support/e2e-stack";
import type { IngestClient } from "../support/ingest-client";

const prefix = "e2eratelimit";
const names = hooklineNames(prefix);
const RATE = 20;
const EVENTS = 100;
/**
 * The bucket holds a tenth of a second's worth (BURST) and refills RATE a second, so over any
 * span of T seconds it grants at most BURST + RATE × T: 22 within any 1 s window.
 */
const BURST = Math.max(1, Math.ceil(RATE / 10));
const WINDOW_MS = 1_000;
const MAX_GRANTS_PER_WINDOW = BURST + RATE * (WINDOW_MS / 1_000);

let e2e: E2eStack;
let nc: NatsConnection;
let jsm: JetStreamManager;
let sink: Sink;
let ingest: IngestClient;

beforeAll(async () => {
  e2e = await startE2eStack({
    prefix,
    services: ["ingest", "delivery", "classifier"],
    env: {
      RETRY_TIERS: "200ms,1s,3s",
      DEFERRAL_MAX_DELAY: "2s",
      TASK_DEADLINE: "10m",
    },
  });
  ({ sink, ingest } = e2e);
  nc = await connect({ servers: e2e.nats.url });
  jsm = await jetstreamManager(nc);
});

afterAll(async () => {
  await nc?.drain();
  await e2e?.stop();
});

/** The most requests that arrived within any `windowMs` (a sliding window). */
function busiestWindow(times: number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  let first = 0;
  for (let last = 0; last < sorted.length; last++) {
    while ((sorted[last] ?? 0) - (sorted[first] ?? 0) >= windowMs) first++;
    most = Math.max(most, last - first + 1);
  }
  return most;
}

describe("rate limit, end to end", () => {
  it("paces an endpoint to its rateLimitPerSecond and still delivers every event", async () => {
    const path = "/paced";
    const endpoint = await ingest.createEndpoint({
      url: sink.url(path),
      eventTypes: ["paced.test"],
      rateLimitPerSecond: RATE,
    });
    sink.setSecrets(path, [endpoint.secret]);

    const failed: OutcomeMeta[] = [];
    const delivered: OutcomeMeta[] = [];
    const failedSub = nc.subscribe(names.subjects.outcomeFailed(endpoint.id), {
      callback: (error, msg) => {
        const decoded = error ? undefined : decodeOutcome(msg.headers);
        if (decoded?.ok) failed.push(decoded.value);
      },
    });
    const deliveredSub = nc.subscribe(names.subjects.outcomeDelivered(endpoint.id), {
      callback: (error, msg) => {
        const decoded = error ? undefined : decodeDeliveredOutcomes(msg);
        if (decoded?.ok) delivered.push(...decoded.value);
      },
    });
    await nc.flush();

    const events = Array.from({ length: EVENTS }, (_, i) => ({
      eventType: "paced.test",
      payload: { n: i },
    }));
    const posted = await ingest.request("/v1/events/batch", {
      method: "POST",
      body: JSON.stringify({ events }),
    });
    expect(posted.status).toBe(202);
    const { results } = (await posted.json()) as { results: { eventId: string }[] };
    const eventIds = new Set(results.map((r) => r.eventId));

    await sink.waitFor(EVENTS, { path, timeoutMs: 45_000 });
    await pollUntil(async () => delivered.length >= EVENTS, {
      timeoutMs: 10_000,
      what: "the delivered outcomes",
    });
    await sleep(500); // anything sent twice would show up now
    failedSub.unsubscribe();
    deliveredSub.unsubscribe();

    const deliveries = sink.deliveries(path);
    expect(deliveries).toHaveLength(EVENTS);
    expect(new Set(deliveries.map((d) => d.webhookId))).toEqual(eventIds);
    expect(deliveries.every((d) => d.verified && d.answeredStatus === 200)).toBe(true);

    // When each token was taken: a pass records its start (`at`) in the same tick as it asks
    // the limiter, so these are grant times to the millisecond, and the bucket math holds
    // exactly (+1 ms of rounding is below one token at 20/s).
    const grantedAt = new Map(delivered.map((o) => [o.eventId, o.history.at(-1)?.at ?? 0]));
    expect(grantedAt.size).toBe(EVENTS);
    expect(busiestWindow([...grantedAt.values()], WINDOW_MS)).toBeLessThanOrEqual(
      MAX_GRANTS_PER_WINDOW,
    );

    // At the sink each request shows up one send later. Sends differ in length (the first
    // burst opens new connections while the same process is deferring the rest), which can
    // squeeze the grants of up to `spread` more seconds into one window of arrivals.
    const latencies = deliveries.map((d) => d.receivedAt - (grantedAt.get(d.webhookId ?? "") ?? 0));
    const spreadS = (Math.max(...latencies) - Math.min(...latencies)) / 1_000;
    const arrivals = deliveries.map((d) => d.receivedAt);
    expect(busiestWindow(arrivals, WINDOW_MS)).toBeLessThanOrEqual(
      Math.floor(BURST + RATE * (WINDOW_MS / 1_000 + spreadS)) + 1,
    );
    // The other side of the same math: 100 tokens take at least (100 - 2) / 20 = 4.9 s.
    const grants = [...grantedAt.values()];
    expect((Math.max(...grants) - Math.min(...grants)) / 1_000).toBeGreaterThanOrEqual(
      (EVENTS - BURST) / RATE - 0.001,
    );

    // Everything over the limit waited in delivery for its token: nothing was cycled through
    // the classifier, and no attempt was spent.
    expect(failed).toHaveLength(0);
    expect(delivered.every((meta) => meta.attempt === 1)).toBe(true);

    const deadLetters = await jsm.streams.info(names.streams.deadletter);
    expect(deadLetters.state.messages).toBe(0);
  }, 90_000);
});
