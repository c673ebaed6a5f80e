import { createRoute, z } from "@hono/zod-openapi";
import { tenantIdSchema } from "@hookline/contracts";
import { type DlqScope, grantOf, type Logger } from "@hookline/kit";
import { problemRef, serviceUnavailable } from "../http/problems";
import { type QueueStatsReader, TOP_BACKLOGS } from "../queue-stats/queue-stats";
import type { RegisterRoute } from "./registration";

const exampleEndpoint = "ep_01JD8Z6Q3V4W5X6Y7Z8A9B0C1E";
const exampleTime = "2025-01-01T12:00:00.000Z";
const count = z.number().int();
const time = z.string().nullable();

const oldestWaiting = {
  oldestWaitingSeq: count.nullable().openapi({
    example: 1041,
    description:
      "The stream sequence of the oldest message not yet acked: the first after the ack " +
      "floor on the consumer's filter subject",
  }),
  oldestWaitingAt: time.openapi({ example: exampleTime, description: "Its stream timestamp" }),
  oldestWaitingAgeMs: count.nullable().openapi({
    example: 1500,
    description:
      "generatedAt minus oldestWaitingAt; null when nothing is pending or awaiting an ack",
  }),
};

const streamSchema = z
  .object({
    name: z.string().openapi({ example: "HOOKLINE_DISPATCH" }),
    messages: count.openapi({ example: 42 }),
    bytes: count.openapi({ example: 43_008 }),
    firstSeq: count.openapi({ example: 1000 }),
    firstAt: time.openapi({ example: exampleTime, description: "null when the stream is empty" }),
    lastSeq: count.openapi({ example: 1041 }),
    lastAt: time.openapi({ example: exampleTime, description: "null when the stream is empty" }),
    consumers: count.openapi({ example: 1 }),
  })
  .openapi("StreamStats");

const consumerSchema = z
  .object({
    stream: z.string().openapi({ example: "HOOKLINE_DISPATCH" }),
    name: z.string().openapi({ example: "delivery-fresh" }),
    filterSubject: z.string().nullable().openapi({ example: "hookline.dispatch.fresh.>" }),
    pending: count.openapi({ example: 30, description: "Not yet delivered (num_pending)" }),
    ackPending: count.openapi({
      example: 12,
      description: "Delivered and not yet acked (num_ack_pending)",
    }),
    redelivered: count.openapi({
      example: 0,
      description: "Delivered more than once and not yet acked (num_redelivered)",
    }),
    waitingPulls: count.openapi({ example: 2, description: "Pull requests waiting (num_waiting)" }),
    ackFloor: count.openapi({
      example: 1040,
      description: "Stream sequence at and below which every message is acked",
    }),
    ...oldestWaiting,
  })
  .openapi("ConsumerStats");

const retryTierSchema = z
  .object({
    tier: z.string().openapi({ example: "5m" }),
    consumer: z.string().nullable().openapi({
      example: "retry-5m",
      description: "null for a tier with messages but no consumer",
    }),
    messages: count.openapi({
      example: 17,
      description:
        "Messages on `<prefix>.retry.<tier>.>` (stream subject counts); a tenant's answer " +
        "counts its endpoints' subjects only",
    }),
    waiting: count.nullable().optional().openapi({
      example: 17,
      description: "Every tenant only: the tier consumer's pending plus ack pending",
    }),
    oldestWaitingAt: oldestWaiting.oldestWaitingAt.optional(),
    oldestWaitingAgeMs: oldestWaiting.oldestWaitingAgeMs.optional(),
  })
  .openapi("RetryTierStats");

const backlogSchema = z
  .object({
    endpointId: z.string().openapi({ example: exampleEndpoint }),
    tenantId: z.string().nullable().openapi({
      example: "acme",
      description: "From the endpoint registry; null for an endpoint it no longer holds",
    }),
    total: count.openapi({ example: 120, description: "fresh + retry + overflow + delayed" }),
    fresh: count.openapi({ example: 100, description: "DISPATCH, `dispatch.fresh.<ep>`" }),
    retry: count.openapi({
      example: 3,
      description: "DISPATCH_RETRY, `dispatch.retry.<ep>`: released retries and replays",
    }),
    overflow: count.openapi({
      example: 0,
      description:
        "DISPATCH_RETRY, `dispatch.overflow.<ep>`: tasks moved off a busy endpoint's way",
    }),
    delayed: count.openapi({
      example: 17,
      description: "RETRY, `retry.<tier>.<ep>`: retries waiting for their time, every tier",
    }),
    delayedByTier: z.record(z.string(), count).openapi({ example: { "5m": 17 } }),
  })
  .openapi("EndpointBacklog");

const queueStatsSchema = z
  .object({
    generatedAt: z.string().openapi({ example: exampleTime }),
    tenantId: z.string().nullable().openapi({
      example: null,
      description: "The tenant the answer is limited to; null: every tenant",
    }),
    streams: z
      .array(streamSchema)
      .optional()
      .openapi({
        description:
          "Every tenant only: each Hookline stream and the endpoint registry's " +
          "(KV_<prefix>_endpoints)",
      }),
    consumers: z.array(consumerSchema).optional().openapi({
      description: "Every tenant only: each durable consumer of those streams",
    }),
    retryTiers: z.array(retryTierSchema).openapi({
      description: "Each retry tier (consumer retry-<tier> on RETRY), shortest first",
    }),
    topBacklogs: z.array(backlogSchema).openapi({
      description:
        `The ${TOP_BACKLOGS} endpoints with the most queued tasks, most first, ties by ` +
        "endpoint id",
    }),
  })
  .openapi("QueueStats");

export const getQueuesRoute = createRoute({
  method: "get",
  path: "/v1/queues",
  tags: ["queues"],
  "x-required-scopes": ["queues:read"] satisfies DlqScope[],
  summary: "JetStream's streams, consumers, retry tiers and the biggest endpoint backlogs",
  description:
    "Read from JetStream's own figures at the time of the call (stream info with per-subject " +
    "counts, consumer info, and the oldest unacked message of each consumer with any waiting), " +
    "never counted by hand. A token bound to a tenant (or `?tenantId`, for a token that is not) " +
    "gets its tenant's part only: its endpoints' backlogs and their messages per retry tier " +
    "(endpoint to tenant from the endpoint registry); the streams, consumers and tier totals " +
    "hold every tenant's traffic and are left out. The answer is as large as the task streams' " +
    "subjects (one per endpoint with anything queued): meant for operators, not frequent polling.",
  request: {
    query: z.object({ tenantId: tenantIdSchema.optional().meta({ example: "acme" }) }),
  },
  responses: {
    200: {
      description: "Queue figures",
      content: { "application/json": { schema: queueStatsSchema } },
    },
    400: problemRef.BadRequest,
    401: problemRef.Unauthorized,
    404: problemRef.TenantNotFound,
    503: problemRef.Unavailable,
  },
});

export function registerGetQueues(
  register: RegisterRoute,
  deps: { queues: QueueStatsReader; logger: Logger },
) {
  register(getQueuesRoute, async (c) => {
    const query = c.req.valid("query");
    // A bound token's tenant, whatever the query says (registration refused another).
    const read = await deps.queues.read({ tenantId: grantOf(c).tenantId ?? query.tenantId });
    if (read.outcome === "unavailable") {
      deps.logger.warn({ err: read.error }, "queue stats: JetStream did not answer");
      return serviceUnavailable(c, "nats", "NATS is unavailable; no queue figures");
    }
    return c.json(read.stats, 200);
  });
}
