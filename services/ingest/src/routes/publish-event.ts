import { createRoute } from "@hono/zod-openapi";
import { payloadTooLarge } from "@hookline/kit";
import type { Context } from "hono";
import type { IngestApp } from "../app";
import type { EventPublisher, PublishEventOutcome } from "../events/publisher";
import {
  eventBodySchema,
  eventResultSchema,
  idempotencyHeadersSchema,
} from "../http/event-schemas";
import { eventUnavailable, problemRef, unserialisablePayload } from "../http/problems";

export const publishEventRoute = createRoute({
  method: "post",
  path: "/v1/events",
  tags: ["events"],
  summary: "Accept an event and fan it out to the subscribed endpoints",
  description:
    "Answers 202 once every task is stored in JetStream. The event id is `id`, else the " +
    "Idempotency-Key header, else a new `evt_<ulid>`; a repeat within the dedupe window " +
    "creates no new tasks and answers `duplicate: true`. On a 503, send the event again with " +
    "`id` set to the `eventId` of the answer, so its webhook keeps the same `webhook-id`.",
  request: {
    headers: idempotencyHeadersSchema,
    body: { required: true, content: { "application/json": { schema: eventBodySchema } } },
  },
  responses: {
    202: {
      description: "Stored; delivery follows",
      content: { "application/json": { schema: eventResultSchema } },
    },
    400: problemRef.BadRequest,
    401: problemRef.Unauthorized,
    413: problemRef.PayloadTooLarge,
    503: problemRef.EventUnavailable,
  },
});

/** The answer to a publish: 202, or the problem the outcome names. */
export function answerPublishEvent(c: Context, result: PublishEventOutcome) {
  switch (result.outcome) {
    case "accepted":
    case "duplicate":
      return c.json(
        {
          eventId: result.eventId,
          tasks: result.tasks,
          duplicate: result.outcome === "duplicate",
        },
        202,
      );
    case "too_large":
      return payloadTooLarge(
        c,
        `the webhook body would be ${result.bytes} bytes; the limit is ${result.limit} bytes`,
      );
    case "unserialisable":
      return unserialisablePayload(c, "payload", result.error);
    case "unavailable":
      return eventUnavailable(c, result.reason, result.eventId);
  }
}

/** The validated route; http/fast-events.ts serves the same requests without it when it can. */
export function registerPublishEvent(app: IngestApp, deps: { events: EventPublisher }) {
  app.openapi(publishEventRoute, async (c) =>
    answerPublishEvent(
      c,
      await deps.events.publish(c.req.valid("json"), c.req.valid("header")["idempotency-key"]),
    ),
  );
}
