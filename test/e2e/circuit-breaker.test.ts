import { decodeOutcome, Header, hooklineNames, type OutcomeMeta } from "@hookline/contracts";
import { pollUntil, type Sink, type Stack } from "@hookline/testkit";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type E2eStack, startE2eStack } from "../support/e2e-stack";
import type { IngestClient } from "../support/ingest-client";

const prefix = "e2ebreaker";
const names = hooklineNames(prefix);
const TASKS = 200;
const VOLUME_THRESHOLD = 10;
const RESET_TIMEOUT_MS = 1_000;
/** Fewer slots than the volume threshold, so few calls are in flight when the breaker opens. */
const MAX_IN_FLIGHT = 4;

let e2e: E2eStack;
let nc: NatsConnection;
let jsm: JetStreamManager;
let sink: Sink;
let stack: Stack;
let ingest: IngestClient;

beforeAll(async () => {
  e2e = await startE2eStack({
    prefix,
    services: ["ingest", "delivery", "classifier"],
    env: {
      DELIVERY_MAX_IN_FLIGHT: String(MAX_IN_FLIGHT),
      DELIVERY_BREAKER_VOLUME_THRESHOLD: String(VOLUME_THRESHOLD),
      DELIVERY_BREAKER_RESET_TIMEOUT: `${RESET_TIMEOUT_MS}ms`,
      // Many short attempts: the probes that fail use attempts, and no task may run out.
      RETRY_SCHEDULE: "200ms,500ms,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s",
      RETRY_TIERS: "200ms,1s,3s",
      RETRY_OVERLOAD_MIN_DELAY: "200ms",
      DEFERRAL_MAX_DELAY: "2s",
      TASK_DEADLINE: "10m",
    },
  });
  ({ sink, stack, ingest } = e2e);
  nc = await connect({ servers: e2e.nats.url });
  jsm = await jetstreamManager(nc);
});

afterAll(async () => {
  await nc?.drain();
  await e2e?.stop();
});

async function deliveryMetric(name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(`${stack.url("delivery")}/metrics`)).text();
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`))) {
      return Number(line.slice(line.lastIndexOf(" ") + 1));
    }
  }
  return 0;
}

const transitionsTo = (to: string) =>
  deliveryMetric("hookline_circuit_breaker_transitions_total", { to });

describe("circuit breaker, end to end", () => {
  it("stops calling a failing endpoint, spends attempts without requests, delivers after recovery", async () => {
    const path = "/breaker";
    const endpoint = await ingest.createEndpoint({
      url: sink.url(path),
      eventTypes: ["breaker.test"],
    });
    sink.setSecrets(path, [endpoint.secret]);
    sink.setDefault(path, { status: 500, body: "down for maintenance" });

    const deferred: { meta: OutcomeMeta; retryAfterHeader: string | undefined }[] = [];
    const sub = nc.subscribe(names.subjects.outcomeFailed(endpoint.id), {
      callback: (error, msg) => {
        if (error) return;
        const decoded = decodeOutcome(msg.headers);
        if (decoded.ok && decoded.value.result === "circuit_open") {
          deferred.push({
            meta: decoded.value,
            retryAfterHeader: msg.headers?.get(Header.retryAfterMs),
          });
        }
      },
    });
    await nc.flush();

    const events = Array.from({ length: TASKS }, (_, i) => ({
      eventType: "breaker.test",
      payload: { n: i },
    }));
    const posted = await ingest.request("/v1/events/batch", {
      method: "POST",
      body: JSON.stringify({ events }),
    });
    expect(posted.status).toBe(202);
    const { results } = (await posted.json()) as { results: { eventId: string; tasks: number }[] };
    expect(results.every((r) => r.tasks === 1)).toBe(true);
    const eventIds = new Set(results.map((r) => r.eventId));
    expect(eventIds.size).toBe(TASKS);

    // Opened, let a probe through, and opened again when it failed.
    await pollUntil(async () => (await transitionsTo("open")) >= 2, {
      timeoutMs: 30_000,
      intervalMs: 200,
      what: "the breaker to reopen after a failed probe",
    });
    expect(deferred.length).toBeGreaterThan(0);

    sink.setDefault(path, { status: 200 });
    const okIds = () =>
      new Set(
        sink
          .deliveries(path)
          .filter((d) => d.answeredStatus === 200)
          .map((d) => d.webhookId),
      );
    await pollUntil(async () => okIds().size >= TASKS, {
      timeoutMs: 45_000,
      intervalMs: 200,
      what: `all ${TASKS} events delivered after recovery`,
      detail: () => `${okIds().size} delivered; ${sink.count(path)} requests in all`,
    });
    sub.unsubscribe();

    expect(okIds()).toEqual(eventIds);
    expect(sink.deliveries(path).every((d) => d.verified)).toBe(true);

    // Requests the failing endpoint got. opossum counts a call into its window when the call
    // starts, so it opens on a failure once the window holds VOLUME_THRESHOLD calls and failures
    // outnumber the calls in flight: with fewer slots than the threshold, by the
    // VOLUME_THRESHOLD-th failure, when at most MAX_IN_FLIGHT - 1 other calls have started.
    // After that only half-open probes reach it, one per half-open.
    const failed = sink.deliveries(path).filter((d) => d.answeredStatus === 500).length;
    const halfOpens = await transitionsTo("half_open");
    expect(halfOpens).toBeGreaterThanOrEqual(1);
    expect(failed).toBeGreaterThanOrEqual(VOLUME_THRESHOLD);
    expect(failed).toBeLessThanOrEqual(VOLUME_THRESHOLD + (MAX_IN_FLIGHT - 1) + halfOpens);
    expect(await transitionsTo("closed")).toBeGreaterThanOrEqual(1);

    // Attempts that came due while the breaker was open counted, without a request, and their
    // tasks followed the schedule: no Retry-After stretched them to the breaker's reset.
    for (const { meta, retryAfterHeader } of deferred) {
      expect(retryAfterHeader).toBe(""); // nats.js reads an absent header as ""
      expect(meta.retryAfterMs).toBeUndefined();
      expect(meta.attempt).toBeGreaterThanOrEqual(1);
      expect(meta.deferrals).toBe(0);
      expect(meta.history.at(-1)).toMatchObject({ result: "circuit_open", n: meta.attempt });
    }

    const deadLetters = await jsm.streams.info(names.streams.deadletter);
    expect(deadLetters.state.messages).toBe(0);
  }, 120_000);
});
