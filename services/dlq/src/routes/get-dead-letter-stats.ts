import { createRoute, z } from "@hono/zod-openapi";
import type { DlqScope } from "@hookline/kit";
import type { Kysely } from "kysely";
import { unlessDatabaseDown } from "../db/outage";
import type { Database } from "../db/schema";
import { filterFields, letterFilter, orderedRange, rangeIssue } from "../http/letter-schemas";
import { problemRef, serviceUnavailable } from "../http/problems";
import { letterStats, MAX_STAT_GROUPS, statGroupings } from "../letters/stats";
import { type RegisterRoute, tenantScopedFilter } from "./registration";

const counts = z.record(z.string(), z.number().int());

export const getDeadLetterStatsRoute = createRoute({
  method: "get",
  path: "/v1/dead-letters/stats",
  tags: ["dead letters"],
  "x-required-scopes": ["deadletters:read"] satisfies DlqScope[],
  summary: "Count dead letters by status, reason, endpoint and event type (and tenant)",
  description:
    "Over every letter, or those the optional filters select. byStatus and byReason list every " +
    `value (0 when none); byEndpoint and byEventType the ${MAX_STAT_GROUPS} largest groups, ` +
    "without invalid messages that carry no endpoint or event type. With `groupBy=tenant`, " +
    `byTenant too (the ${MAX_STAT_GROUPS} largest tenants). Metrics carry no tenant label: ` +
    "per-tenant figures come from here.",
  request: {
    query: z
      .object({
        ...filterFields,
        groupBy: z
          .enum(statGroupings)
          .optional()
          .openapi({ example: "tenant", description: "Adds byTenant to the answer" }),
      })
      .refine(orderedRange, rangeIssue),
  },
  responses: {
    200: {
      description: "Counts",
      content: {
        "application/json": {
          schema: z
            .object({
              byStatus: counts.openapi({
                example: { open: 3, replayed: 1, resolved: 0, discarded: 0 },
              }),
              byReason: counts.openapi({ example: { exhausted: 3, endpoint_gone: 1 } }),
              byEndpoint: counts.openapi({ example: { ep_01JD8Z6Q3V4W5X6Y7Z8A9B0C1E: 4 } }),
              byEventType: counts.openapi({ example: { "order.created": 4 } }),
              byTenant: counts
                .optional()
                .openapi({ example: { acme: 3, default: 1 }, description: "With groupBy=tenant" }),
            })
            .openapi("DeadLetterStats"),
        },
      },
    },
    400: problemRef.BadRequest,
    401: problemRef.Unauthorized,
    503: problemRef.Unavailable,
  },
});

export function registerGetDeadLetterStats(
  register: RegisterRoute,
  deps: { db: Kysely<Database> },
) {
  register(getDeadLetterStatsRoute, async (c) => {
    const { groupBy, ...filter } = c.req.valid("query");
    const stats = await unlessDatabaseDown(() =>
      letterStats(
        deps.db,
        tenantScopedFilter(c, letterFilter(filter)),
        groupBy === undefined ? [] : [groupBy],
      ),
    );
    if ("outcome" in stats) return serviceUnavailable(c, stats.dependency);
    return c.json(stats, 200);
  });
}
