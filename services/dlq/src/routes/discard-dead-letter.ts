import { createRoute } from "@hono/zod-openapi";
import type { DlqScope } from "@hookline/kit";
import { unlessDatabaseDown } from "../db/outage";
import { deadLetterSchema, letterIdParamsSchema, settleBodySchema } from "../http/letter-schemas";
import { problemRef } from "../http/problems";
import { settleResponse } from "../http/settle-response";
import type { LetterSettler } from "../letters/settle";
import type { RegisterRoute } from "./registration";

export const discardDeadLetterRoute = createRoute({
  method: "post",
  path: "/v1/dead-letters/{id}/discard",
  tags: ["dead letters"],
  "x-required-scopes": ["deadletters:write"] satisfies DlqScope[],
  summary: "Discard a dead letter",
  description:
    "The letter is not wanted. Open and replayed letters can be discarded; discarded " +
    "letters are purged after the retention period.",
  request: {
    params: letterIdParamsSchema,
    body: { required: true, content: { "application/json": { schema: settleBodySchema } } },
  },
  responses: {
    200: {
      description: "Discarded",
      content: { "application/json": { schema: deadLetterSchema } },
    },
    400: problemRef.BadRequest,
    401: problemRef.Unauthorized,
    404: problemRef.NotFound,
    409: problemRef.Conflict,
    413: problemRef.PayloadTooLarge,
    503: problemRef.Unavailable,
  },
});

export function registerDiscardDeadLetter(
  register: RegisterRoute,
  deps: { settler: LetterSettler },
) {
  register(discardDeadLetterRoute, async (c) => {
    const { id } = c.req.valid("param");
    const { note } = c.req.valid("json");
    const result = await unlessDatabaseDown(() =>
      deps.settler.settle(id, "discard", { actor: c.var.actor, note }),
    );
    return settleResponse(c, id, "discard", result);
  });
}
