import { createRoute } from "@hono/zod-openapi";
import type { DlqScope } from "@hookline/kit";
import { unlessDatabaseDown } from "../db/outage";
import {
  deadLetterSchema,
  letterIdParamsSchema,
  publicLetter,
  replayBodySchema,
} from "../http/letter-schemas";
import {
  invalidStatus,
  letterNotFound,
  notReplayable,
  problemRef,
  serviceUnavailable,
} from "../http/problems";
import type { LetterReplayer } from "../letters/replay";
import type { RegisterRoute } from "./registration";

export const replayDeadLetterRoute = createRoute({
  method: "post",
  path: "/v1/dead-letters/{id}/replay",
  tags: ["dead letters"],
  "x-required-scopes": ["deadletters:write"] satisfies DlqScope[],
  summary: "Replay a dead letter",
  description:
    "Publishes the stored body to `dispatch.retry.<endpointId>` as a fresh task (attempts " +
    "reset, a new deadline, the history kept) and marks the letter `replayed`. Only open " +
    "letters can be replayed; one that dies again comes back open. Answers once JetStream has " +
    "stored the task.",
  request: {
    params: letterIdParamsSchema,
    body: { required: false, content: { "application/json": { schema: replayBodySchema } } },
  },
  responses: {
    202: {
      description: "Replayed: delivery follows",
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

export function registerReplayDeadLetter(
  register: RegisterRoute,
  deps: { replayer: LetterReplayer },
) {
  register(replayDeadLetterRoute, async (c) => {
    const { id } = c.req.valid("param");
    const { note } = c.req.valid("json");
    const result = await unlessDatabaseDown(() =>
      deps.replayer.replay(id, { actor: c.var.actor, note }),
    );
    switch (result.outcome) {
      case "replayed":
        return c.json(publicLetter(result.letter), 202);
      case "not_found":
        return letterNotFound(c, id);
      case "conflict":
        return invalidStatus(c, "replay", result.status);
      case "not_replayable":
        return notReplayable(c, result.detail);
      case "unavailable":
        return serviceUnavailable(c, result.dependency);
    }
  });
}
