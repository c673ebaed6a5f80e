import type { ApiToken } from "@hookline/kit";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DlqApp } from "../app";
import { createQueueStatsReader, type QueueStatsReader } from "../queue-stats/queue-stats";
import { type DlqHarness, dlqAppOver, startDlqHarness } from "../testing/dlq-harness";
import { endpointId, putEndpoint } from "../testing/letters";

const tokens: ApiToken[] = [
  { name: "all", token: "token-all" },
  { name: "queues-reader", token: "token-queues", scopes: ["queues:read"] },
  { name: "stats-reader", token: "token-stats", scopes: ["attempts:read"] },
  { name: "acme", token: "token-acme", scopes: ["queues:read"], tenantId: "acme" },
];
const NOW = Date.parse("2030-01-01T00:00:00.000Z");

let h: DlqHarness;
let app: DlqApp;

function appWith(harness: DlqHarness, queues: QueueStatsReader): DlqApp {
  return dlqAppOver(harness, { tokens, queues });
}

beforeAll(async () => {
  h = await startDlqHarness({ prefix: "dlq_queues" });
  await putEndpoint(h.kv, endpointId(1), "acme");
  await putEndpoint(h.kv, endpointId(2), "other");
  await h.cache.waitForRevision(2);
  app = appWith(
    h,
    createQueueStatsReader({ jsm: h.jsm, names: h.names, endpoints: h.cache, now: () => NOW }),
  );
  for (let i = 0; i < 2; i++) await h.js.publish(h.names.subjects.dispatchFresh(endpointId(1)));
  await h.js.publish(h.names.subjects.dispatchFresh(endpointId(2)));
  await h.js.publish(h.names.subjects.retry("30s", endpointId(2)));
});
afterAll(async () => {
  await h?.close();
});

async function queues(query: string, token = "token-all", on = app) {
  const response = await on.request(`/v1/queues${query}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const body = (await response.json()) as Record<string, unknown>;
  return { status: response.status, type: response.headers.get("content-type"), body };
}

describe("GET /v1/queues", () => {
  it("answers every stream, consumer, tier and the biggest backlogs", async () => {
    const { status, body } = await queues("");
    expect(status).toBe(200);
    expect(body.generatedAt).toBe(new Date(NOW).toISOString());
    expect(body.tenantId).toBeNull();
    const streams = body.streams as { name: string; messages: number }[];
    expect(streams.find((stream) => stream.name === h.names.streams.dispatch)?.messages).toBe(3);
    const consumers = body.consumers as { name: string; pending: number }[];
    const fresh = consumers.find((consumer) => consumer.name === h.names.consumers.deliveryFresh);
    expect(fresh).toMatchObject({ pending: 3, ackPending: 0, oldestWaitingSeq: 1 });
    // No tier consumer here (the classifier makes them): the tier is known from its subjects.
    expect(body.retryTiers).toEqual([
      {
        tier: "30s",
        consumer: null,
        messages: 1,
        waiting: null,
        oldestWaitingAt: null,
        oldestWaitingAgeMs: null,
      },
    ]);
    // Two each: ties go by endpoint id.
    expect(body.topBacklogs).toEqual([
      {
        endpointId: endpointId(1),
        tenantId: "acme",
        total: 2,
        fresh: 2,
        retry: 0,
        overflow: 0,
        delayed: 0,
        delayedByTier: {},
      },
      {
        endpointId: endpointId(2),
        tenantId: "other",
        total: 2,
        fresh: 1,
        retry: 0,
        overflow: 0,
        delayed: 1,
        delayedByTier: { "30s": 1 },
      },
    ]);
  });

  it("gives a tenant-bound token its endpoints only, without streams or consumers", async () => {
    const bound = await queues("", "token-acme");
    expect(bound.status).toBe(200);
    expect(bound.body).toEqual({
      generatedAt: new Date(NOW).toISOString(),
      tenantId: "acme",
      // Without a tier consumer, the tier shows only where the tenant has messages in it.
      retryTiers: [],
      topBacklogs: [expect.objectContaining({ endpointId: endpointId(1), total: 2 })],
    });
    // An unbound token may ask for the same view.
    expect((await queues("?tenantId=acme")).body).toEqual(bound.body);
    const other = await queues("?tenantId=other", "token-acme");
    expect(other.status).toBe(404);
    expect(other.body).toMatchObject({ code: "tenant_not_found" });
  });

  it("needs queues:read", async () => {
    expect((await queues("", "token-queues")).status).toBe(200);
    const refused = await queues("", "token-stats");
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ detail: "this token lacks the scope queues:read" });
  });

  it("answers a bad tenant id with a 400 problem", async () => {
    const { status, type, body } = await queues("?tenantId=a%2Fb");
    expect(status).toBe(400);
    expect(type).toBe("application/problem+json");
    expect(body).toMatchObject({ code: "invalid_request" });
  });

  it("answers 503 when NATS does not answer", async () => {
    const closed = await connect({ servers: h.nats.url });
    const jsm = await jetstreamManager(closed);
    await closed.close();
    const down = appWith(h, createQueueStatsReader({ jsm, names: h.names, endpoints: h.cache }));
    const { status, type, body } = await queues("", "token-all", down);
    expect(status).toBe(503);
    expect(type).toBe("application/problem+json");
    expect(body).toMatchObject({
      code: "unavailable",
      detail: "NATS is unavailable; no queue figures",
    });
  });

  it("is in the OpenAPI document with its response schema", async () => {
    const document = (await (await app.request("/openapi.json")).json()) as {
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
      components: { schemas: Record<string, unknown> };
    };
    expect(document.paths["/v1/queues"]?.get?.responses).toHaveProperty("200");
    for (const schema of ["QueueStats", "StreamStats", "ConsumerStats", "RetryTierStats"]) {
      expect(document.components.schemas).toHaveProperty(schema);
    }
  });
});
