import { createRoute } from "@hono/zod-openapi";
import type { DlqScope } from "@hookline/kit";
import { unlessDatabaseDown } from "../db/outage";
import { bulkBodySchema, bulkResultSchema, letterFilter } from "../http/letter-schemas";
import { problemRef, serviceUnavailable } from "../http/problems";
import type { LetterSettler } from "../letters/settle";
import { type RegisterRoute, tenantScopedFilter } from "./registration";

export const resolveDeadLettersRoute = createRoute({
  method: "post",
  path: "/v1/dead-letters/resolve",
  tags: ["dead letters"],
  "x-required-scopes": ["deadletters:write"] satisfies DlqScope[],
  summary: "Resolve every open or replayed dead letter a filter selects",
  description: "Oldest first, at most `limit`, 100 per transaction.",
  request: {
    body: { required: true, content: { "application/json": { schema: bulkBodySchema } } },
  },
  responses: {
    200: {
      description: "What was resolved",
      content: { "application/json": { schema: bulkResultSchema } },
    },
    400: problemRef.BadRequest,
    401: problemRef.Unauthorized,
    413: problemRef.PayloadTooLarge,
    503: problemRef.Unavailable,
  },
});

export function registerResolveDeadLetters(
  register: RegisterRoute,
  deps: { settler: LetterSettler },
) {
  register(resolveDeadLettersRoute, async (c) => {
    const { filter, limit, note } = c.req.valid("json");
    const result = await unlessDatabaseDown(() =>
      deps.settler.resolveMatching(tenantScopedFilter(c, letterFilter(filter)), limit, {
        actor: c.var.actor,
        note,
      }),
    );
    switch (result.outcome) {
      case "done":
        return c.json({ matched: result.matched, done: result.done }, 200);
      case "unavailable":
        return serviceUnavailable(c, result.dependency);
    }
  });
}
