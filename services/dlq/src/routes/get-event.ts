import { createRoute } from "@hono/zod-openapi";
import { type DlqScope, grantOf } from "@hookline/kit";
import type { Kysely } from "kysely";
import { viewEvent } from "../attempts/event-view";
import { unlessDatabaseDown } from "../db/outage";
import type { Database } from "../db/schema";
import {
  eventParamsSchema,
  eventTenantQuerySchema,
  eventViewSchema,
  publicEventView,
} from "../http/attempt-schemas";
import { ambiguousEvent, eventNotFound, problemRef, serviceUnavailable } from "../http/problems";
import type { RegisterRoute } from "./registration";

export const getEventRoute = createRoute({
  method: "get",
  path: "/v1/events/{eventId}",
  tags: ["attempts"],
  "x-required-scopes": ["attempts:read"] satisfies DlqScope[],
  summary: "Get an event: its body and where each of its tasks stands",
  description:
    "From the attempt log and the dead letters: one task per endpoint the event went to that " +
    "made an attempt or died (a task dead-lettered before any attempt, e.g. `backlog_full`, " +
    "counts too), with its state. Events past ATTEMPT_RETENTION_DAYS are known only by their " +
    "dead letters. A token bound to a tenant sees its own tenant's event. An unbound token " +
    "without `tenantId` is answered for the one tenant that knows the id; when several do, " +
    "400 `ambiguous_event` (naming how many): name the tenant.",
  request: { params: eventParamsSchema, query: eventTenantQuerySchema },
  responses: {
    200: { description: "The event", content: { "application/json": { schema: eventViewSchema } } },
    400: problemRef.EventBadRequest,
    401: problemRef.Unauthorized,
    404: problemRef.EventNotFound,
    503: problemRef.Unavailable,
  },
});

export function registerGetEvent(register: RegisterRoute, deps: { db: Kysely<Database> }) {
  register(getEventRoute, async (c) => {
    const { eventId } = c.req.valid("param");
    const tenantId = grantOf(c).tenantId ?? c.req.valid("query").tenantId;
    const found = await unlessDatabaseDown(() => viewEvent(deps.db, { eventId, tenantId }));
    switch (found.outcome) {
      case "found":
        return c.json(publicEventView(found.event), 200);
      case "not_found":
        return eventNotFound(c, eventId);
      case "ambiguous":
        return ambiguousEvent(c, found.tenantCount);
      case "unavailable":
        return serviceUnavailable(c, found.dependency);
    }
  });
}
