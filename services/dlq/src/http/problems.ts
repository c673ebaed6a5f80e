import { problemResponse, problemResponses } from "@hookline/kit";
import type { Context } from "hono";
import type { DeadLetterStatus } from "../db/schema";

const problemKinds = {
  BadRequest:
    "A field, filter or cursor is invalid (`errors` names each field); `invalid_cursor` for a " +
    "cursor this service did not issue.",
  Unauthorized: "Missing or unknown bearer token.",
  NotFound: "No dead letter has this id.",
  TenantNotFound:
    "A tenant-bound token named another tenant in `tenantId` (`tenant_not_found`), as if it " +
    "did not exist.",
  EventNotFound:
    "Nothing is known of the event: no attempt and no dead letter of it, in the tenant named " +
    "(or the token's), or in any tenant when none is named (`event_not_found`); or a " +
    "tenant-bound token named another tenant (`tenant_not_found`).",
  EventBadRequest:
    "A field is invalid (`invalid_request`, `errors` names each), or no tenant was named and " +
    "the event id is known in several tenants (`ambiguous_event`: name one with `tenantId`).",
  Conflict:
    "The letter's status does not allow this action (`invalid_status`), or it holds an invalid " +
    "message that cannot be replayed (`not_replayable`).",
  PayloadTooLarge: "The body is larger than `DLQ_MAX_BODY_BYTES`.",
  Unavailable: "Postgres or NATS is unavailable; retry after `Retry-After`.",
} as const;

const problems = problemResponses(problemKinds, {
  title: "Invalid query",
  detail: "status: Invalid option",
  instance: "/v1/dead-letters",
});

/** Error answers are shared response components, referenced by each route. */
export const problemRef = problems.refs;
export const registerProblemComponents = problems.register;

export function letterNotFound(c: Context, id: string) {
  return problemResponse(c, {
    status: 404,
    code: "dead_letter_not_found",
    title: "Dead letter not found",
    detail: `no dead letter with id ${JSON.stringify(id.slice(0, 100))}`,
  });
}

const allowedFor = {
  replay: "an open letter can be replayed (a replayed one reopens if it dies again)",
  resolve: "open and replayed letters can be resolved",
  discard: "open and replayed letters can be discarded",
} as const;

export function invalidStatus(
  c: Context,
  action: keyof typeof allowedFor,
  status: DeadLetterStatus,
) {
  return problemResponse(c, {
    status: 409,
    code: "invalid_status",
    title: `Cannot ${action} this dead letter`,
    detail: `the dead letter is ${status}; only ${allowedFor[action]}`,
  });
}

export function notReplayable(c: Context, detail: string) {
  return problemResponse(c, {
    status: 409,
    code: "not_replayable",
    title: "Cannot replay this dead letter",
    detail,
  });
}

const unavailableDetail = {
  database: "Postgres is unavailable",
  nats: "NATS is unavailable; the letter was not replayed",
} as const;

/** 503 with Retry-After: both dependencies are outages to wait out, and the calls are safe to retry. */
export function serviceUnavailable(
  c: Context,
  dependency: keyof typeof unavailableDetail | "starting",
  detail?: string,
) {
  return problemResponse(
    c,
    {
      status: 503,
      code: "unavailable",
      title: "Service unavailable",
      detail:
        detail ??
        (dependency === "starting" ? "the DLQ is starting" : unavailableDetail[dependency]),
    },
    { "retry-after": "1" },
  );
}

export function eventNotFound(c: Context, eventId: string) {
  return problemResponse(c, {
    status: 404,
    code: "event_not_found",
    title: "Event not found",
    detail: `nothing is known of the event ${JSON.stringify(eventId.slice(0, 128))}`,
  });
}

export function ambiguousEvent(c: Context, tenantCount: number) {
  return problemResponse(c, {
    status: 400,
    code: "ambiguous_event",
    title: "Ambiguous event id",
    detail: `the event id is known in ${tenantCount} tenants; name one with tenantId`,
    errors: [{ path: "tenantId", message: `required: the event id is in ${tenantCount} tenants` }],
  });
}
