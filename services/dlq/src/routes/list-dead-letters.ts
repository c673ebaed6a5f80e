import { createRoute, z } from "@hono/zod-openapi";
import { type DlqScope, invalidCursorProblem } from "@hookline/kit";
import type { Kysely } from "kysely";
import { unlessDatabaseDown } from "../db/outage";
import type { Database } from "../db/schema";
import {
  deadLetterSchema,
  filterFields,
  letterFilter,
  orderedRange,
  publicLetter,
  rangeIssue,
} from "../http/letter-schemas";
import type { PageCursors } from "../http/page-cursors";
import { problemRef, serviceUnavailable } from "../http/problems";
import { letterCursorCodec } from "../letters/cursor";
import { DEFAULT_PAGE_SIZE, listLetters, MAX_PAGE_SIZE } from "../letters/listing";
import { type RegisterRoute, tenantScopedFilter } from "./registration";

export const listDeadLettersRoute = createRoute({
  method: "get",
  path: "/v1/dead-letters",
  tags: ["dead letters"],
  "x-required-scopes": ["deadletters:read"] satisfies DlqScope[],
  summary: "List dead letters",
  description:
    "Newest first (by `deadAt`, then id). Pass `nextCursor` back as `cursor` for the next page; " +
    "letters stored meanwhile never shift a page. Keep the same filters while paging.",
  request: {
    query: z
      .object({
        ...filterFields,
        cursor: z.string().optional().openapi({ description: "Opaque; from a previous page" }),
        limit: z.coerce
          .number()
          .int()
          .min(1)
          .max(MAX_PAGE_SIZE)
          .default(DEFAULT_PAGE_SIZE)
          .openapi({ example: DEFAULT_PAGE_SIZE }),
      })
      .refine(orderedRange, rangeIssue),
  },
  responses: {
    200: {
      description: "A page of dead letters",
      content: {
        "application/json": {
          schema: z
            .object({ data: z.array(deadLetterSchema), nextCursor: z.string().nullable() })
            .openapi("DeadLetterPage"),
        },
      },
    },
    400: problemRef.BadRequest,
    401: problemRef.Unauthorized,
    503: problemRef.Unavailable,
  },
});

export function registerListDeadLetters(
  register: RegisterRoute,
  deps: { db: Kysely<Database>; cursors: PageCursors },
) {
  const cursors = letterCursorCodec(deps.cursors);
  register(listDeadLettersRoute, async (c) => {
    const { cursor, limit, ...filter } = c.req.valid("query");
    const page = await unlessDatabaseDown(() =>
      listLetters(deps.db, cursors, {
        filter: tenantScopedFilter(c, letterFilter(filter)),
        cursor,
        limit,
      }),
    );
    switch (page.outcome) {
      case "page":
        return c.json({ data: page.letters.map(publicLetter), nextCursor: page.nextCursor }, 200);
      case "invalid_cursor":
        return invalidCursorProblem(c);
      case "unavailable":
        return serviceUnavailable(c, page.dependency);
    }
  });
}
