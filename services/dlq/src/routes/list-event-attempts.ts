import { createRoute, z } from "@hono/zod-openapi";
import { type DlqScope, grantOf } from "@hookline/kit";
import type { Kysely } from "kysely";
import { listEventAttempts, MAX_EVENT_ATTEMPTS } from "../attempts/listing";
import { unlessDatabaseDown } from "../db/outage";
import type { Database } from "../db/schema";
import {
  attemptLogEntrySchema,
  eventParamsSchema,
  eventTenantQuerySchema,
  publicAttempt,
} from "../http/attempt-schemas";
import { problemRef, serviceUnavailable } from "../http/problems";
import type { RegisterRoute } from "./registration";

export const listEventAttemptsRoute = createRoute({
  method: "get",
  path: "/v1/events/{eventId}/attempts",
  tags: ["attempts"],
  "x-required-scopes": ["attempts:read"] satisfies DlqScope[],
  summary: "List every logged attempt of an event",
  description:
    "Every attempt of every task of the event, oldest first (by `attemptedAt`, then id), in " +
    `one answer of at most ${MAX_EVENT_ATTEMPTS}: \`truncated\` says when there were more ` +
    "(GET /v1/attempts?eventId= pages through all of them, newest first). Without `tenantId`, " +
    "an unbound token gets the event id's attempts in every tenant. An unknown event is an " +
    "empty list.",
  request: { params: eventParamsSchema, query: eventTenantQuerySchema },
  responses: {
    200: {
      description: "The event's attempts",
      content: {
        "application/json": {
          schema: z
            .object({
              data: z.array(attemptLogEntrySchema),
              truncated: z.boolean().openapi({
                example: false,
                description: `More than ${MAX_EVENT_ATTEMPTS} attempts: only the oldest are here`,
              }),
            })
            .openapi("EventAttempts"),
        },
      },
    },
    400: problemRef.BadRequest,
    401: problemRef.Unauthorized,
    404: problemRef.TenantNotFound,
    503: problemRef.Unavailable,
  },
});

export function registerListEventAttempts(register: RegisterRoute, deps: { db: Kysely<Database> }) {
  register(listEventAttemptsRoute, async (c) => {
    const { eventId } = c.req.valid("param");
    const tenantId = grantOf(c).tenantId ?? c.req.valid("query").tenantId;
    const found = await unlessDatabaseDown(() => listEventAttempts(deps.db, { eventId, tenantId }));
    if ("outcome" in found) return serviceUnavailable(c, found.dependency);
    return c.json({ data: found.attempts.map(publicAttempt), truncated: found.truncated }, 200);
  });
}
