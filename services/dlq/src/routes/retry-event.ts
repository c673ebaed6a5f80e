import { createRoute, z } from "@hono/zod-openapi";
import { endpointIdSchema } from "@hookline/contracts";
import { type DlqScope, grantOf, problemResponse } from "@hookline/kit";
import type { Context } from "hono";
import { taskStates } from "../attempts/task-state";
import { unlessDatabaseDown } from "../db/outage";
import { eventParamsSchema, eventTenantQuerySchema } from "../http/attempt-schemas";
import { ambiguousEvent, eventNotFound, problemRef, serviceUnavailable } from "../http/problems";
import { retryNowOutcomes } from "../retry-now/outcomes";
import type { DeadTask, EventRetrier, TaskRetryResult } from "../retry-now/retry-now";
import type { RegisterRoute } from "./registration";

const exampleEndpoint = "ep_01JD8Z6Q3V4W5X6Y7Z8A9B0C1E";

export const retryEventBodySchema = z
  .strictObject({
    endpointId: endpointIdSchema.optional().openapi({
      example: exampleEndpoint,
      description: "Only the event's task to this endpoint; every task of the event without it",
    }),
  })
  .openapi("RetryEvent");

const retriedTaskSchema = z
  .object({
    taskId: z.string().openapi({ example: `evt_1:${exampleEndpoint}` }),
    endpointId: z.string().nullable().openapi({ example: exampleEndpoint }),
    outcome: z.enum(retryNowOutcomes).openapi({
      example: "sent",
      description:
        "`sent`: published to dispatch.retry now and its copy in the retry tier deleted. " +
        "`already_released`: its tier had released it (or did meanwhile): nothing more sent. " +
        "`not_waiting`: not waiting for a retry (`state` says where it is). `backlog_full`: the " +
        "endpoint's backlog quota is full, nothing sent, the retry keeps waiting. " +
        "`invalid_copy`: the waiting copy is not a readable task, left to its tier. " +
        "`not_found_in_scan`: the endpoint has too many retries waiting to look further. " +
        "`unavailable` and `copy_kept` come only in a 503.",
    }),
    state: z.enum(taskStates).optional().openapi({ example: "delivered" }),
    retrySeq: z.number().int().optional().openapi({
      example: 1842,
      description: "The waiting copy's sequence in the RETRY stream",
    }),
  })
  .openapi("RetriedTask");

const retriedEventSchema = z
  .object({
    tenantId: z.string().openapi({ example: "default" }),
    eventId: z.string().openapi({ example: "evt_1" }),
    tasks: z.array(retriedTaskSchema),
  })
  .openapi("RetriedEvent");

export const retryEventRoute = createRoute({
  method: "post",
  path: "/v1/events/{eventId}/retry",
  tags: ["attempts"],
  "x-required-scopes": ["deadletters:write"] satisfies DlqScope[],
  summary: "Retry now: send the event's waiting retries at once",
  description:
    "Each task of the event (only `endpointId`'s when given) that the attempt log shows " +
    "waiting for a retry is published to `dispatch.retry.<endpointId>` now, with the " +
    "Nats-Msg-Id its retry tier's release would use, and its copy in the tier is then deleted: " +
    "it is sent once, whether its retry was seconds or hours away, and even if it comes due " +
    "during the call. Delivered tasks are reported and left alone. A dead-lettered task is a " +
    "409 (`task_dead_lettered`) naming each letter to replay with " +
    "`POST /v1/dead-letters/{id}/replay`; nothing is done then. Tenants as `GET " +
    "/v1/events/{eventId}`. Safe to call again.",
  request: {
    params: eventParamsSchema,
    query: eventTenantQuerySchema,
    body: { required: false, content: { "application/json": { schema: retryEventBodySchema } } },
  },
  responses: {
    200: {
      description: "What was done with each task",
      content: { "application/json": { schema: retriedEventSchema } },
    },
    400: problemRef.EventBadRequest,
    401: problemRef.Unauthorized,
    404: problemRef.EventNotFound,
    409: problemRef.Conflict,
    413: problemRef.PayloadTooLarge,
    503: problemRef.Unavailable,
  },
});

type RetriedTask = z.infer<typeof retriedTaskSchema>;

function publicTask(task: TaskRetryResult): RetriedTask {
  const { taskId, endpointId, outcome } = task;
  return {
    taskId,
    endpointId,
    outcome,
    ...("state" in task ? { state: task.state } : {}),
    ...("retrySeq" in task ? { retrySeq: task.retrySeq } : {}),
  };
}

function taskNotFound(c: Context, endpointId: string) {
  return problemResponse(c, {
    status: 404,
    code: "task_not_found",
    title: "Task not found",
    detail: `endpointId: the event has no task to ${endpointId}`,
    errors: [{ path: "endpointId", message: "the event has no task to this endpoint" }],
  });
}

function deadLettered(c: Context, letters: DeadTask[]) {
  const replays = letters.map((letter) => ({
    ...letter,
    replay: letter.deadLetterId === null ? null : `/v1/dead-letters/${letter.deadLetterId}/replay`,
  }));
  const named = letters
    .map((letter) => letter.deadLetterId ?? `${letter.taskId} (its letter is being stored)`)
    .join(", ");
  return problemResponse(c, {
    status: 409,
    code: "task_dead_lettered",
    title: "Dead-lettered: replay instead",
    detail:
      `${letters.length} task(s) of the event are dead-lettered: replay with POST ` +
      `/v1/dead-letters/{id}/replay (${named}), or name another endpointId`,
    extensions: { deadLetters: replays },
  });
}

/** Some task could not be settled: NATS failed, or a sent task's copy is still waiting. */
function incomplete(c: Context, tasks: TaskRetryResult[]) {
  const kept = tasks.flatMap((task) => (task.outcome === "copy_kept" ? [task] : []));
  const keptDetail = kept
    .map((task) => `${task.taskId} was sent but its copy (RETRY sequence ${task.retrySeq}) stays`)
    .join("; ");
  return problemResponse(
    c,
    {
      status: 503,
      code: "unavailable",
      title: "Service unavailable",
      detail:
        "NATS is unavailable: tasks marked `unavailable` were not sent" +
        (kept.length > 0 ? `; ${keptDetail} and is sent again when due unless deleted` : "") +
        "; call again",
      extensions: { tasks: tasks.map(publicTask) },
    },
    { "retry-after": "1" },
  );
}

export function registerRetryEvent(register: RegisterRoute, deps: { retrier: EventRetrier }) {
  register(retryEventRoute, async (c) => {
    const { eventId } = c.req.valid("param");
    const { endpointId } = c.req.valid("json");
    // Another tenant in the query is already a 404 for a bound token (registration.ts).
    const tenantId = grantOf(c).tenantId ?? c.req.valid("query").tenantId;
    const result = await unlessDatabaseDown(() =>
      deps.retrier.retryNow({ eventId, tenantId, endpointId }),
    );
    switch (result.outcome) {
      case "done": {
        const failed = result.tasks.some(
          (task) => task.outcome === "unavailable" || task.outcome === "copy_kept",
        );
        if (failed) return incomplete(c, result.tasks);
        const { tenantId } = result;
        return c.json({ tenantId, eventId, tasks: result.tasks.map(publicTask) }, 200);
      }
      case "not_found":
        return eventNotFound(c, eventId);
      case "ambiguous":
        return ambiguousEvent(c, result.tenantCount);
      case "task_not_found":
        return taskNotFound(c, result.endpointId);
      case "dead_lettered":
        return deadLettered(c, result.letters);
      case "unavailable":
        return serviceUnavailable(c, result.dependency);
    }
  });
}
