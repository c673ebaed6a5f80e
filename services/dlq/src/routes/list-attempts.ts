import { createRoute, z } from "@hono/zod-openapi";
import { type DlqScope, grantOf, invalidCursorProblem } from "@hookline/kit";
import type { Kysely } from "kysely";
import { attemptCursorCodec } from "../attempts/cursor";
import {
  DEFAULT_ATTEMPT_PAGE_SIZE,
  listAttempts,
  MAX_ATTEMPT_PAGE_SIZE,
} from "../attempts/listing";
import { unlessDatabaseDown } from "../db/outage";
import type { Database } from "../db/schema";
import {
  attemptFilter,
  attemptFilterFields,
  attemptLogEntrySchema,
  attemptRangeIssue,
  orderedAttemptRange,
  publicAttempt,
} from "../http/attempt-schemas";
import type { PageCursors } from "../http/page-cursors";
import { problemRef, serviceUnavailable } from "../http/problems";
import type { RegisterRoute } from "./registration";

export const listAttemptsRoute = createRoute({
  method: "get",
  path: "/v1/attempts",
  tags: ["attempts"],
  "x-required-scopes": ["attempts:read"] satisfies DlqScope[],
  summary: "List logged delivery attempts",
  description:
    "Every attempt the attempt log holds (successes and classified failures, kept " +
    "ATTEMPT_RETENTION_DAYS), newest first by `attemptedAt`, then id. Pass `nextCursor` back as " +
    "`cursor` for the next page; attempts logged meanwhile never shift a page. Keep the same " +
    "filters while paging. `since` and `until` bound the days read: give them on busy systems.",
  request: {
    query: z
      .object({
        ...attemptFilterFields,
        cursor: z.string().optional().openapi({ description: "Opaque; from a previous page" }),
        limit: z.coerce
          .number()
          .int()
          .min(1)
          .max(MAX_ATTEMPT_PAGE_SIZE)
          .default(DEFAULT_ATTEMPT_PAGE_SIZE)
          .openapi({ example: DEFAULT_ATTEMPT_PAGE_SIZE }),
      })
      .refine(orderedAttemptRange, attemptRangeIssue),
  },
  responses: {
    200: {
      description: "A page of attempts",
      content: {
        "application/json": {
          schema: z
            .object({ data: z.array(attemptLogEntrySchema), nextCursor: z.string().nullable() })
            .openapi("AttemptPage"),
        },
      },
    },
    400: problemRef.BadRequest,
    401: problemRef.Unauthorized,
    404: problemRef.TenantNotFound,
    503: problemRef.Unavailable,
  },
});

export function registerListAttempts(
  register: RegisterRoute,
  deps: { db: Kysely<Database>; cursors: PageCursors },
) {
  const cursors = attemptCursorCodec(deps.cursors);
  register(listAttemptsRoute, async (c) => {
    const { cursor, limit, ...filter } = c.req.valid("query");
    // registration answered a bound token naming another tenant; here it is forced to its own.
    const tenantId = grantOf(c).tenantId ?? filter.tenantId;
    const page = await unlessDatabaseDown(() =>
      listAttempts(deps.db, cursors, {
        filter: attemptFilter({ ...filter, tenantId }),
        cursor,
        limit,
      }),
    );
    switch (page.outcome) {
      case "page":
        return c.json({ data: page.attempts.map(publicAttempt), nextCursor: page.nextCursor }, 200);
      case "invalid_cursor":
        return invalidCursorProblem(c);
      case "unavailable":
        return serviceUnavailable(c, page.dependency);
    }
  });
}
