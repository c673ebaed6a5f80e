import { createRoute } from "@hono/zod-openapi";
import type { DlqScope } from "@hookline/kit";
import type { Kysely } from "kysely";
import { unlessDatabaseDown } from "../db/outage";
import type { Database } from "../db/schema";
import { deadLetterDetailSchema, letterDetail, letterIdParamsSchema } from "../http/letter-schemas";
import { letterNotFound, problemRef, serviceUnavailable } from "../http/problems";
import { getLetter } from "../letters/listing";
import type { RegisterRoute } from "./registration";

export const getDeadLetterRoute = createRoute({
  method: "get",
  path: "/v1/dead-letters/{id}",
  tags: ["dead letters"],
  "x-required-scopes": ["deadletters:read"] satisfies DlqScope[],
  summary: "Get a dead letter with its body, headers and every attempt",
  request: { params: letterIdParamsSchema },
  responses: {
    200: {
      description: "The dead letter",
      content: { "application/json": { schema: deadLetterDetailSchema } },
    },
    401: problemRef.Unauthorized,
    404: problemRef.NotFound,
    503: problemRef.Unavailable,
  },
});

export function registerGetDeadLetter(register: RegisterRoute, deps: { db: Kysely<Database> }) {
  register(getDeadLetterRoute, async (c) => {
    const { id } = c.req.valid("param");
    const found = await unlessDatabaseDown(() => getLetter(deps.db, id));
    switch (found.outcome) {
      case "found":
        return c.json(letterDetail(found.letter), 200);
      case "not_found":
        return letterNotFound(c, id);
      case "unavailable":
        return serviceUnavailable(c, found.dependency);
    }
  });
}
