import { createRoute, z } from "@hono/zod-openapi";
import type { Kysely } from "kysely";
import type { DlqApp } from "../app";
import { unlessDatabaseDown } from "../db/outage";
import type { Database } from "../db/schema";
import { auditEntrySchema, letterIdParamsSchema, publicAuditEntry } from "../http/letter-schemas";
import { letterNotFound, problemRef, serviceUnavailable } from "../http/problems";
import { auditTrail } from "../letters/audit";

export const getDeadLetterAuditRoute = createRoute({
  method: "get",
  path: "/v1/dead-letters/{id}/audit",
  tags: ["dead letters"],
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

export function registerGetDeadLetterAudit(app: DlqApp, deps: { db: Kysely<Database> }) {
  app.openapi(getDeadLetterAuditRoute, async (c) => {
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
