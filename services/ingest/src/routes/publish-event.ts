import { createRoute } from "@hono/zod-openapi";
import { type IngestScope, payloadTooLarge } from "@hookline/kit";
import type { Context } from "hono";
import type { EventPublisher, PublishEventOutcome } from "../events/publisher";
import { tenantParamsSchema } from "../http/endpoint-schemas";
import {
  eventBodySchema,
  eventResultSchema,
  idempotencyHeadersSchema,
} from "../http/event-schemas";
import {
  eventUnavailable,
  problemRef,
  tenantDeleting,
  unserialisablePayload,
} from "../http/problems";
import type { TenantView } from "../tenants/tenant-view";
import { LEGACY_PATH_NOTE } from "./legacy-paths";
import type { RegisterRoute } from "./registration";

const common = {
  method: "post" as const,
  tags: ["events"],
  "x-required-scopes": ["events:write"] satisfies IngestScope[],
  summary: "Accept an event and fan it out to the tenant's subscribed endpoints",
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
};
const description =
  "Answers 202 once every task is stored in JetStream. The event id is `id`, else the " +
  "Idempotency-Key header, else a new `evt_<ulid>`; a repeat within the dedupe window " +
  "creates no new tasks and answers `duplicate: true`. Ids are unique per tenant: the same id " +
  "sent to two tenants is two events. `endpointIds` can name only the tenant's own endpoints. " +
  "On a 503, send the event again with `id` set to the `eventId` of the answer, so its webhook " +
  "keeps the same `webhook-id`.";
const body = { required: true, content: { "application/json": { schema: eventBodySchema } } };

export const publishTenantEventRoute = createRoute({
  ...common,
  path: "/v1/tenants/{tenantId}/events",
  description: `${description} A tenant being deleted takes no events (409).`,
  request: { params: tenantParamsSchema, headers: idempotencyHeadersSchema, body },
  responses: { ...common.responses, 404: problemRef.NotFound, 409: problemRef.Conflict },
});

export const publishEventRoute = createRoute({
  ...common,
  path: "/v1/events",
  description: `${description} ${LEGACY_PATH_NOTE}`,
  request: { headers: idempotencyHeadersSchema, body },
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

/** The validated routes; http/fast-events.ts serves the same requests without them when it can. */
export function registerPublishEvent(
  register: RegisterRoute,
  deps: { events: EventPublisher; tenants: Pick<TenantView, "state"> },
) {
  register(publishTenantEventRoute, async (c) => {
    const { tenantId } = c.req.valid("param");
    if (deps.tenants.state(tenantId) === "deleting") return tenantDeleting(c, tenantId);
    const event = { ...c.req.valid("json"), tenantId };
    return answerPublishEvent(
      c,
      await deps.events.publish(event, c.req.valid("header")["idempotency-key"]),
    );
  });
  register(publishEventRoute, async (c) =>
    answerPublishEvent(
      c,
      await deps.events.publish(c.req.valid("json"), c.req.valid("header")["idempotency-key"]),
    ),
  );
}
