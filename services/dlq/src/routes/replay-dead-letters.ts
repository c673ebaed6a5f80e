import { createRoute } from "@hono/zod-openapi";
import type { DlqScope } from "@hookline/kit";
import { unlessDatabaseDown } from "../db/outage";
import { bulkBodySchema, bulkResultSchema, letterFilter } from "../http/letter-schemas";
import { problemRef, serviceUnavailable } from "../http/problems";
import type { LetterReplayer } from "../letters/replay";
import { type RegisterRoute, tenantScopedFilter } from "./registration";

export const replayDeadLettersRoute = createRoute({
  method: "post",
  path: "/v1/dead-letters/replay",
  tags: ["dead letters"],
  "x-required-scopes": ["deadletters:write"] satisfies DlqScope[],
  summary: "Replay every open dead letter a filter selects",
  description:
    "Oldest first, at most `limit`, in batches of 100 whose PubAcks are awaited together. " +
    "Only open letters with a task to rebuild are replayed, whatever `filter.status` says. " +
    "Safe to repeat: replayed letters are no longer open.",
  request: {
    body: { required: true, content: { "application/json": { schema: bulkBodySchema } } },
  },
  responses: {
    200: {
      description: "What was replayed",
      content: { "application/json": { schema: bulkResultSchema } },
    },
    400: problemRef.BadRequest,
    401: problemRef.Unauthorized,
    413: problemRef.PayloadTooLarge,
    503: problemRef.Unavailable,
  },
});

export function registerReplayDeadLetters(
  register: RegisterRoute,
  deps: { replayer: LetterReplayer },
) {
  register(replayDeadLettersRoute, async (c) => {
    const { filter, limit, note } = c.req.valid("json");
    const result = await unlessDatabaseDown(() =>
      deps.replayer.replayMatching(tenantScopedFilter(c, letterFilter(filter)), limit, {
        actor: c.var.actor,
        note,
      }),
    );
    switch (result.outcome) {
      case "done":
        return c.json({ matched: result.matched, done: result.done }, 200);
      case "unavailable":
        return serviceUnavailable(
          c,
          result.dependency,
          result.dependency === "nats"
            ? `NATS is unavailable; ${result.done} letters were replayed before it failed`
            : undefined,
        );
    }
  });
}
