import type { OpenAPIHono } from "@hono/zod-openapi";
import { PROBLEM_CONTENT_TYPE, problemResponse, problemResponses } from "@hookline/kit";
import type { Context, Env } from "hono";
import type { UnavailableReason } from "../events/publisher";

const problemKinds = {
  BadRequest: "The request is malformed or a field is invalid; `errors` names each field.",
  Unauthorized: "Missing or unknown bearer token.",
  NotFound:
    "No such tenant, or no endpoint with this id in the tenant (another tenant's endpoint " +
    "answers exactly as a missing one).",
  Conflict:
    "The endpoint or tenant kept changing under concurrent writes (retry); the tenant id is " +
    "taken; the tenant is being deleted; or the default tenant, which cannot be deleted.",
  PayloadTooLarge: "The body exceeds the configured size limit.",
  Unavailable: "NATS is unavailable or the dispatch stream is full; retry after `Retry-After`.",
} as const;

/** 503s of the event routes name the ids to resend, so a retry keeps each webhook-id. */
const eventUnavailableKinds = {
  EventUnavailable: {
    description:
      "NATS is unavailable, a PubAck timed out or the dispatch stream is full. Retry after " +
      "`Retry-After` with `id` set to `eventId`: the retry then maps to the same tasks and the " +
      "webhook keeps the same `webhook-id`, even if this attempt was partly stored.",
    member: "eventId",
    schema: { type: "string", example: "evt_01JD8Z6Q3V4W5X6Y7Z8A9B0C1D" },
  },
  EventBatchUnavailable: {
    description:
      "NATS is unavailable, a PubAck timed out or the dispatch stream is full; none of the " +
      "batch counts as accepted. Retry after `Retry-After` with `events[i].id` set to " +
      "`eventIds[i]`, so every webhook keeps its `webhook-id`.",
    member: "eventIds",
    schema: {
      type: "array",
      items: { type: "string" },
      description: "One id per event, in request order",
      example: ["order-1001", "evt_01JD8Z6Q3V4W5X6Y7Z8A9B0C1D"],
    },
  },
} as const;

const problems = problemResponses(problemKinds, {
  title: "Invalid json",
  detail: "eventType: Invalid input",
  instance: "/v1/events",
});

/** Error answers are shared response components, referenced by each route. */
export const problemRef = {
  ...problems.refs,
  EventUnavailable: { $ref: "#/components/responses/EventUnavailable" },
  EventBatchUnavailable: { $ref: "#/components/responses/EventBatchUnavailable" },
} as const;

export function registerProblemComponents<E extends Env>(app: OpenAPIHono<E>) {
  problems.register(app);
  for (const [kind, { description, member, schema }] of Object.entries(eventUnavailableKinds)) {
    app.openAPIRegistry.registerComponent("responses", kind, {
      description,
      content: {
        [PROBLEM_CONTENT_TYPE]: {
          schema: {
            allOf: [
              { $ref: "#/components/schemas/Problem" },
              { type: "object", required: [member], properties: { [member]: schema } },
            ],
          },
        },
      },
    });
  }
}

export function endpointNotFound(c: Context, id: string) {
  return problemResponse(c, {
    status: 404,
    code: "endpoint_not_found",
    title: "Endpoint not found",
    detail: `no endpoint with id ${JSON.stringify(id)}`,
  });
}

export function tenantNotFound(c: Context, tenantId: string) {
  return problemResponse(c, {
    status: 404,
    code: "tenant_not_found",
    title: "Tenant not found",
    detail: `no tenant with id ${JSON.stringify(tenantId)}`,
  });
}

/** Its deletion has begun: it takes nothing new; DELETE again finishes a deletion cut short. */
export function tenantDeleting(c: Context, tenantId: string) {
  return problemResponse(c, {
    status: 409,
    code: "tenant_deleting",
    title: "Tenant is being deleted",
    detail: `tenant ${JSON.stringify(tenantId)} is being deleted; DELETE it again to finish`,
  });
}

export function tenantExists(c: Context, tenantId: string) {
  return problemResponse(c, {
    status: 409,
    code: "tenant_exists",
    title: "Tenant exists",
    detail: `a tenant with id ${JSON.stringify(tenantId)} exists already`,
  });
}

export function defaultTenantUndeletable(c: Context) {
  return problemResponse(c, {
    status: 409,
    code: "default_tenant",
    title: "The default tenant cannot be deleted",
    detail:
      "the default tenant serves the paths without a tenant (/v1/endpoints, /v1/events) and " +
      "always exists",
  });
}

export function tenantConflict(c: Context) {
  return problemResponse(c, {
    status: 409,
    code: "concurrent_update",
    title: "Concurrent update",
    detail: "the tenant or its endpoints kept changing while this write was retried; try again",
  });
}

export function tenantStoreUnavailable(c: Context) {
  return serviceUnavailable(c, "the tenant or endpoint store (NATS KV) is unavailable");
}

export function endpointConflict(c: Context) {
  return problemResponse(c, {
    status: 409,
    code: "concurrent_update",
    title: "Concurrent update",
    detail: "the endpoint kept changing while this write was retried; try again",
  });
}

/** 503 with Retry-After: the client retries, and JetStream's dedupe makes a retry harmless. */
export function serviceUnavailable(c: Context, detail: string, retryAfterSeconds = 1) {
  return problemResponse(
    c,
    { status: 503, code: "unavailable", title: "Service unavailable", detail },
    { "retry-after": String(retryAfterSeconds) },
  );
}

export function endpointStoreUnavailable(c: Context) {
  return serviceUnavailable(c, "the endpoint store (NATS KV) is unavailable");
}

/** A field the schema takes but this deployment can't honour. */
export function invalidField(c: Context, path: string, message: string) {
  return problemResponse(c, {
    status: 400,
    code: "invalid_request",
    title: "Invalid request",
    detail: `${path}: ${message}`,
    errors: [{ path, message }],
  });
}

/** JSON.stringify refused the payload; `path` is `payload` or `events.<index>.payload`. */
export function unserialisablePayload(c: Context, path: string, error: string) {
  const message = `cannot be serialised as JSON (${error})`;
  return problemResponse(c, {
    status: 400,
    code: "invalid_request",
    title: "Invalid json",
    detail: `${path}: ${message}`,
    errors: [{ path, message }],
  });
}

/** Why an event was not accepted; some of its tasks may be stored, so a retry must keep its id. */
const eventsUnavailableDetail: Record<UnavailableReason, string> = {
  nats_disconnected: "NATS is not connected",
  publish_timeout: "JetStream did not acknowledge in time",
  stream_full: "the dispatch stream is full",
  stream_unavailable: "the dispatch stream is not available",
  publish_failed: "storing the tasks failed",
};

/** A full stream drains at delivery speed, so it gets a longer pause than a reconnect. */
const retryAfterSeconds = (reason: UnavailableReason) => (reason === "stream_full" ? "2" : "1");

/** The 503 of POST /v1/events: `eventId` is the id to resend the event with. */
export function eventUnavailable(c: Context, reason: UnavailableReason, eventId: string) {
  return problemResponse(
    c,
    {
      status: 503,
      code: "unavailable",
      title: "Service unavailable",
      detail:
        `${eventsUnavailableDetail[reason]}; the event is not accepted: send it again with id ` +
        JSON.stringify(eventId),
      extensions: { eventId },
    },
    { "retry-after": retryAfterSeconds(reason) },
  );
}

/** The 503 of POST /v1/events/batch: `eventIds[i]` is the id to resend `events[i]` with. */
export function eventBatchUnavailable(c: Context, reason: UnavailableReason, eventIds: string[]) {
  return problemResponse(
    c,
    {
      status: 503,
      code: "unavailable",
      title: "Service unavailable",
      detail:
        `${eventsUnavailableDetail[reason]}; the batch is not accepted: send it again with ` +
        "events[i].id set to eventIds[i]",
      extensions: { eventIds },
    },
    { "retry-after": retryAfterSeconds(reason) },
  );
}
