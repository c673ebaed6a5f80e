import { createRoute, z } from "@hono/zod-openapi";
import type { DlqScope } from "@hookline/kit";
import type { Kysely } from "kysely";
import { unlessDatabaseDown } from "../db/outage";
import type { Database } from "../db/schema";
import { auditEntrySchema, letterIdParamsSchema, publicAuditEntry } from "../http/letter-schemas";
import { letterNotFound, problemRef, serviceUnavailable } from "../http/problems";
import { auditTrail } from "../letters/audit";
import type { RegisterRoute } from "./registration";

export const getDeadLetterAuditRoute = createRoute({
  method: "get",
  path: "/v1/dead-letters/{id}/audit",
  tags: ["dead letters"],
  "x-required-scopes": ["deadletters:read"] satisfies DlqScope[],
  summary: "Who did what to a dead letter, and when (oldest first)",
  request: { params: letterIdParamsSchema },
  responses: {
    200: {
      description: "The audit trail",
      content: {
        "application/json": {
          schema: z.object({ data: z.array(auditEntrySchema) }).openapi("AuditTrail"),
        },
      },
    },
    401: problemRef.Unauthorized,
    404: problemRef.NotFound,
    503: problemRef.Unavailable,
  },
});

export function registerGetDeadLetterAudit(
  register: RegisterRoute,
  deps: { db: Kysely<Database> },
) {
  register(getDeadLetterAuditRoute, async (c) => {
    const { id } = c.req.valid("param");
    const trail = await unlessDatabaseDown(() => auditTrail(deps.db, id));
    switch (trail.outcome) {
      case "found":
        return c.json({ data: trail.entries.map(publicAuditEntry) }, 200);
      case "not_found":
        return letterNotFound(c, id);
      case "unavailable":
        return serviceUnavailable(c, trail.dependency);
    }
  });
}
