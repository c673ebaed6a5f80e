import { createRoute } from "@hono/zod-openapi";
import { payloadTooLarge } from "@hookline/kit";
import type { Context } from "hono";
import type { IngestApp } from "../app";
import type { EventPublisher, PublishBatchOutcome } from "../events/publisher";
import { batchBodySchema, batchResultSchema, MAX_BATCH_EVENTS } from "../http/event-schemas";
import { eventBatchUnavailable, problemRef, unserialisablePayload } from "../http/problems";

export const publishEventBatchRoute = createRoute({
  method: "post",
  path: "/v1/events/batch",
  tags: ["events"],
  summary: `Accept 1–${MAX_BATCH_EVENTS} events at once`,
  description:
    "All or nothing from the client's view: 202 once every task of every event is stored, else " +
    "503 for the whole batch. Retrying a batch is harmless when each event keeps its id: the " +
    "503 names them in `eventIds` (request order), so send each event again with that `id`.",
  request: {
    body: { required: true, content: { "application/json": { schema: batchBodySchema } } },
  },
  responses: {
    202: {
      description: "Stored; results in request order",
      content: { "application/json": { schema: batchResultSchema } },
    },
    400: problemRef.BadRequest,
    401: problemRef.Unauthorized,
    413: problemRef.PayloadTooLarge,
    503: problemRef.EventBatchUnavailable,
  },
});

/** The answer to a batch publish: 202 with results in request order, or the problem. */
export function answerPublishBatch(c: Context, result: PublishBatchOutcome) {
  switch (result.outcome) {
    case "accepted":
      return c.json(
        {
          results: result.results.map((event) => ({
            eventId: event.eventId,
            tasks: event.tasks,
            duplicate: event.outcome === "duplicate",
          })),
        },
        202,
      );
    case "too_large":
      return payloadTooLarge(
        c,
        `events.${result.index}: the webhook body would be ${result.bytes} bytes; ` +
          `the limit is ${result.limit} bytes`,
      );
    case "unserialisable":
      return unserialisablePayload(c, `events.${result.index}.payload`, result.error);
    case "unavailable":
      return eventBatchUnavailable(c, result.reason, result.eventIds);
  }
}

/** The validated route; http/fast-events.ts serves the same requests without it when it can. */
export function registerPublishEventBatch(app: IngestApp, deps: { events: EventPublisher }) {
  app.openapi(publishEventBatchRoute, async (c) =>
    answerPublishBatch(c, await deps.events.publishBatch(c.req.valid("json").events)),
  );
}
