import { encodeTask, hooklineNames, taskIdFor } from "@hookline/contracts";
import type { Sink } from "@hookline/testkit";
import { type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type E2eStack, startE2eStack } from "../support/e2e-stack";
import type { IngestClient } from "../support/ingest-client";

const prefix = "e2elanes";
const names = hooklineNames(prefix);
const BACKLOG = 5_000;
const FRESH = 20;
let e2e: E2eStack;
let nc: NatsConnection;
let jsm: JetStreamManager;
let sink: Sink;
let ingest: IngestClient;

beforeAll(async () => {
  e2e = await startE2eStack({
    prefix,
    services: ["ingest", "delivery"],
    env: {
      // 4 retry slots and 12 fresh ones: the backlog drains at about 40 tasks a second.
      DELIVERY_MAX_IN_FLIGHT: "16",
      DELIVERY_RETRY_SHARE: "0.25",
    },
  });
  ({ sink, ingest } = e2e);
  nc = await connect({ servers: e2e.nats.url });
  jsm = await jetstreamManager(nc);
});

afterAll(async () => {
  await nc?.close();
  await e2e?.stop();
});

/** Puts `count` due retries for the endpoint on `dispatch.retry.<ep>`, as a tier release would. */
async function queueRetries(endpointId: string, count: number): Promise<void> {
  const js = jetstream(nc);
  const body = new TextEncoder().encode(
    JSON.stringify({ type: "backlog.item", timestamp: new Date().toISOString(), data: {} }),
  );
  const now = Date.now();
  const chunk = 500;
  for (let start = 0; start < count; start += chunk) {
    const acks = [];
    for (let n = start; n < Math.min(count, start + chunk); n++) {
      const eventId = `evt-backlog-${n}`;
      const taskId = taskIdFor(eventId, endpointId);
      const headers = encodeTask(
        {
          taskId,
          eventId,
          eventType: "backlog.item",
          endpointId,
          attempt: 1,
          deferrals: 0,
          createdAt: now,
          deadline: now + 3_600_000,
          notBefore: now,
        },
        `${taskId}#1`,
      );
      acks.push(js.publish(names.subjects.dispatchRetry(endpointId), body, { headers }));
    }
    await Promise.all(acks);
  }
}

async function retryLaneBacklog(): Promise<number> {
  const info = await jsm.consumers.info(names.streams.dispatchRetry, names.consumers.deliveryRetry);
  return info.num_pending + info.num_ack_pending;
}

describe("lane isolation", () => {
  it("delivers fresh events while thousands of retries are still queued", {
    timeout: 40_000,
  }, async () => {
    const slow = await ingest.createEndpoint({
      url: sink.url("/backlog"),
      eventTypes: ["backlog.item"],
    });
    sink.setSecrets("/backlog", [slow.secret]);
    sink.setDefault("/backlog", { delayMs: 100 });
    const fresh = await ingest.createEndpoint({
      url: sink.url("/fresh"),
      eventTypes: ["fresh.item"],
    });
    sink.setSecrets("/fresh", [fresh.secret]);

    await queueRetries(slow.id, BACKLOG);
    // The retry lane is busy with the backlog before any fresh event exists.
    await sink.waitFor(20, { path: "/backlog" });

    const posted = await Promise.all(
      Array.from({ length: FRESH }, (_, n) =>
        ingest.postEvent({ eventType: "fresh.item", payload: { n } }),
      ),
    );
    expect(posted.every((p) => p.status === 202 && p.json.tasks === 1)).toBe(true);
    const deliveries = await sink.waitFor(FRESH, { path: "/fresh", timeoutMs: 15_000 });
    const backlogLeft = await retryLaneBacklog();
    const backlogSent = sink.count("/backlog");

    expect(new Set(deliveries.map((d) => d.webhookId))).toEqual(
      new Set(posted.map((p) => String(p.json.eventId))),
    );
    expect(deliveries.every((d) => d.verified)).toBe(true);
    // The retry lane had not caught up when the last fresh webhook arrived: had the lanes shared
    // slots in arrival order, the fresh events would have waited behind all 5,000 (~2 min).
    expect(backlogLeft).toBeGreaterThan(0);
    expect(backlogSent).toBeLessThan(BACKLOG);
    expect(sink.deliveries("/backlog").every((d) => d.verified)).toBe(true);
  });
});
