import { hooklineNames } from "@hookline/contracts";
import { type Sink, sleep } from "@hookline/testkit";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type E2eStack, startE2eStack } from "../support/e2e-stack";
import type { IngestClient } from "../support/ingest-client";
import { inspectStreams, type StreamInspector } from "../support/stream-messages";

const prefix = "e2egone";
const names = hooklineNames(prefix);
let e2e: E2eStack;
let nc: NatsConnection;
let sink: Sink;
let ingest: IngestClient;
let streams: StreamInspector;

/** Generous time for a KV change to reach delivery's endpoint cache through its watch. */
const CACHE_PROPAGATION_MS = 500;

beforeAll(async () => {
  e2e = await startE2eStack({
    prefix,
    services: ["ingest", "delivery", "classifier"],
    env: {
      RETRY_SCHEDULE: "200ms,500ms,1s",
      RETRY_TIERS: "200ms,1s,3s",
      RETRY_JITTER: "0.1",
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

interface EndpointView {
  id: string;
  disabled: boolean;
  disabledReason: string | null;
}

async function getEndpoint(id: string): Promise<EndpointView> {
  const res = await ingest.request(`/v1/endpoints/${id}`);
  expect(res.status).toBe(200);
  return (await res.json()) as EndpointView;
}

async function postEvent(eventType: string, n: number): Promise<string> {
  const posted = await ingest.postEvent({ eventType, payload: { n } });
  expect(posted.status).toBe(202);
  // A disabled endpoint still gets its task, so the event can be replayed later.
  expect(posted.json.tasks).toBe(1);
  return String(posted.json.eventId);
}

describe("410 Gone", () => {
  it("dead-letters and disables the endpoint, dead-letters later events, and resumes when re-enabled", {
    timeout: 40_000,
  }, async () => {
    const eventType = "gone.event";
    const endpoint = await ingest.createEndpoint({
      url: sink.url("/gone"),
      eventTypes: [eventType],
    });
    sink.setSecrets("/gone", [endpoint.secret]);
    sink.script("/gone", [{ status: 410 }]);

    const goneEventId = await postEvent(eventType, 0);
    const [goneLetter] = await streams.waitForDeadLetters(endpoint.id, 1);
    expect(goneLetter).toMatchObject({ eventId: goneEventId, reason: "endpoint_gone", attempt: 1 });
    expect(goneLetter?.history).toEqual([
      expect.objectContaining({ n: 1, result: "http_error", status: 410 }),
    ]);
    expect(sink.count("/gone")).toBe(1);

    // The classifier disables before it dead-letters, so the record already says so.
    const disabled = await getEndpoint(endpoint.id);
    expect(disabled.disabled).toBe(true);
    expect(disabled.disabledReason).toMatch(/410/);

    await sleep(CACHE_PROPAGATION_MS);
    const whileDisabled: string[] = [];
    for (let n = 1; n <= 5; n++) whileDisabled.push(await postEvent(eventType, n));
    const letters = await streams.waitForDeadLetters(endpoint.id, 1 + whileDisabled.length);
    const disabledLetters = letters.filter((letter) => letter.reason === "endpoint_disabled");
    // None dropped, none sent: each event is on DEADLETTER, and the sink saw only the 410.
    expect(disabledLetters.map((letter) => letter.eventId).sort()).toEqual(whileDisabled.sort());
    expect(disabledLetters.every((letter) => letter.attempt === 0)).toBe(true);
    expect(letters).toHaveLength(1 + whileDisabled.length);
    expect(sink.count("/gone")).toBe(1);

    const patched = await ingest.request(`/v1/endpoints/${endpoint.id}`, {
      method: "PATCH",
      body: JSON.stringify({ disabled: false }),
    });
    expect(patched.status).toBe(200);
    expect(await patched.json()).toMatchObject({ disabled: false, disabledReason: null });
    expect(await getEndpoint(endpoint.id)).toMatchObject({ disabled: false, disabledReason: null });

    await sleep(CACHE_PROPAGATION_MS);
    const resumedEventId = await postEvent(eventType, 6);
    const [, resumed] = await sink.waitFor(2, { path: "/gone" });
    expect(resumed).toMatchObject({
      webhookId: resumedEventId,
      verified: true,
      answeredStatus: 200,
    });
    await streams.waitForDelivered(endpoint.id, 1);
    expect(await streams.deadLetters(endpoint.id)).toHaveLength(1 + whileDisabled.length);
  });
});
