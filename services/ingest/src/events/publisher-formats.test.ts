import { type EndpointRecord, hooklineNames } from "@hookline/contracts";
import { createLogger, createServiceMetrics } from "@hookline/kit";
import type { JetStreamClient, PubAck } from "@nats-io/jetstream";
import { describe, expect, it } from "vitest";
import { createIngestMetrics } from "../metrics";
import { createEventPublisher } from "./publisher";

const endpoint = (n: number, format?: EndpointRecord["format"]): EndpointRecord => ({
  id: `ep_01JABCDEFGHJKMNPQRSTVWXYZ${n}`,
  tenantId: "acme",
  url: "https://hooks.example.com/in",
  eventTypes: [],
  secrets: [{ value: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", createdAt: "2025-01-01T00:00:00Z" }],
  disabled: false,
  createdAt: "2025-01-01T00:00:00Z",
  updatedAt: "2025-01-01T00:00:00Z",
  ...(format === undefined ? {} : { format }),
});

/** Publishes to no NATS: records each task's endpoint and body. */
function recordingPublisher(endpoints: EndpointRecord[], systemTenantId = "hookline") {
  const bodies = new Map<string, string>();
  const publisher = createEventPublisher({
    js: {} as JetStreamClient,
    tasks: {
      publish: async (_subject, data, task) => {
        bodies.set(task.endpointId, Buffer.from(data).toString("utf8"));
        return { stream: "S", seq: bodies.size, duplicate: false } as PubAck;
      },
    },
    names: hooklineNames("formats_test"),
    cache: { subscribedTo: () => endpoints },
    isConnected: () => true,
    metrics: createIngestMetrics(createServiceMetrics("ingest"), () => undefined),
    logger: createLogger({ service: "ingest", level: "silent", pretty: false }),
    taskDeadlineMs: 60_000,
    maxEventBytes: 10_000,
    systemTenantId,
  });
  return { publisher, bodies };
}

describe("the body of each endpoint's task", () => {
  it("is Standard Webhooks' unless the endpoint wants Slack's or Discord's", async () => {
    const [standard, plain, slack, discord] = [
      endpoint(1),
      endpoint(2, "standard"),
      endpoint(3, "slack"),
      endpoint(4, "discord"),
    ];
    const { publisher, bodies } = recordingPublisher([standard, plain, slack, discord]);
    const result = await publisher.publish({
      tenantId: "acme",
      eventType: "order.created",
      payload: { total: 5 },
      id: "evt_1",
    });
    expect(result).toEqual({ outcome: "accepted", eventId: "evt_1", tasks: 4 });
    expect(JSON.parse(bodies.get(standard.id) ?? "")).toMatchObject({
      type: "order.created",
      data: { total: 5 },
    });
    expect(bodies.get(plain.id)).toBe(bodies.get(standard.id));
    expect(JSON.parse(bodies.get(slack.id) ?? "")).toEqual({
      text: "Event order.created (evt_1)",
    });
    expect(JSON.parse(bodies.get(discord.id) ?? "")).toEqual({
      content: "Event order.created (evt_1)",
      allowed_mentions: { parse: [] },
    });
  });

  it("says what an operational event is about, in the system tenant only", async () => {
    const slack = endpoint(5, "slack");
    const { publisher, bodies } = recordingPublisher([slack], "acme");
    await publisher.publish({
      tenantId: "acme",
      eventType: "hookline.breaker.opened",
      payload: { summary: "endpoint ep_x: circuit breaker opened", link: "https://x.example/h" },
      id: "ops_breaker.opened_x_1",
    });
    expect(JSON.parse(bodies.get(slack.id) ?? "")).toEqual({
      text: "hookline.breaker.opened: endpoint ep_x: circuit breaker opened <https://x.example/h|details>",
    });
  });
});
