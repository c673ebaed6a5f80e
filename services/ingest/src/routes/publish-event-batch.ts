import { createRoute } from "@hono/zod-openapi";
import { type IngestScope, payloadTooLarge } from "@hookline/kit";
import type { Context } from "hono";
import type { EventPublisher, PublishBatchOutcome } from "../events/publisher";
import { tenantParamsSchema } from "../http/endpoint-schemas";
import { batchBodySchema, batchResultSchema, MAX_BATCH_EVENTS } from "../http/event-schemas";
import {
  eventBatchUnavailable,
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
  summary: `Accept 1–${MAX_BATCH_EVENTS} events at once`,
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
};
const description =
  "All or nothing from the client's view: 202 once every task of every event is stored, else " +
  "503 for the whole batch. Retrying a batch is harmless when each event keeps its id: the " +
  "503 names them in `eventIds` (request order), so send each event again with that `id`.";
const body = { required: true, content: { "application/json": { schema: batchBodySchema } } };

export const publishTenantEventBatchRoute = createRoute({
  ...common,
  path: "/v1/tenants/{tenantId}/events/batch",
  description: `${description} A tenant being deleted takes no events (409).`,
  request: { params: tenantParamsSchema, body },
  responses: { ...common.responses, 404: problemRef.NotFound, 409: problemRef.Conflict },
});

export const publishEventBatchRoute = createRoute({
  ...common,
  path: "/v1/events/batch",
  description: `${description} ${LEGACY_PATH_NOTE}`,
  request: { body },
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

/** The validated routes; http/fast-events.ts serves the same requests without them when it can. */
export function registerPublishEventBatch(
  register: RegisterRoute,
  deps: { events: EventPublisher; tenants: Pick<TenantView, "state"> },
) {
  register(publishTenantEventBatchRoute, async (c) => {
    const { tenantId } = c.req.valid("param");
    if (deps.tenants.state(tenantId) === "deleting") return tenantDeleting(c, tenantId);
    const events = c.req.valid("json").events.map((event) => ({ ...event, tenantId }));
    return answerPublishBatch(c, await deps.events.publishBatch(events));
  });
  register(publishEventBatchRoute, async (c) =>
    answerPublishBatch(c, await deps.events.publishBatch(c.req.valid("json").events)),
  );
}
