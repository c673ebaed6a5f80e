import { PROBLEM_CONTENT_TYPE, problemResponse } from "@hookline/kit";
import type { Context } from "hono";

const problemContent = {
  [PROBLEM_CONTENT_TYPE]: { schema: { $ref: "#/components/schemas/Problem" } },
};

/** The attempt routes' own error answers, documented inline (the shared ones speak of letters). */
export const attemptProblemRef = {
  TenantNotFound: {
    description:
      "A tenant-bound token named another tenant in `tenantId` (`tenant_not_found`), as if it " +
      "did not exist.",
    content: problemContent,
  },
  EventNotFound: {
    description:
      "Nothing is known of the event: no attempt and no dead letter of it, in the tenant named " +
      "(or the token's), or in any tenant when none is named (`event_not_found`); or a " +
      "tenant-bound token named another tenant (`tenant_not_found`).",
    content: problemContent,
  },
  EventBadRequest: {
    description:
      "A field is invalid (`invalid_request`, `errors` names each), or no tenant was named and " +
      "the event id is known in several tenants (`ambiguous_event`: name one with `tenantId`).",
    content: problemContent,
  },
} as const;

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
