import { isUtf8 } from "node:buffer";
import { z } from "@hono/zod-openapi";
import {
  attemptResults,
  endpointIdSchema,
  eventIdSchema,
  tenantIdSchema,
} from "@hookline/contracts";
import { type EventView, MAX_EVENT_TASKS } from "../attempts/event-view";
import type { AttemptFilter } from "../attempts/filter";
import { taskStates } from "../attempts/task-state";
import { type AttemptRow, deadLetterStatuses } from "../db/schema";

const exampleEndpoint = "ep_01JD8Z6Q3V4W5X6Y7Z8A9B0C1E";
const exampleTask = `evt_1:${exampleEndpoint}`;
const exampleTime = "2025-01-01T12:00:00.000Z";
const iso = (date: Date | null) => date?.toISOString() ?? null;

export const attemptLogEntrySchema = z
  .object({
    id: z.string().openapi({
      example: `${exampleTask}#1@42`,
      description: "The attempt record's message id: `<taskId>#<pass>@<dispatchSeq>`",
    }),
    tenantId: z.string().openapi({ example: "acme" }),
    eventId: z.string().openapi({ example: "evt_1" }),
    eventType: z.string().openapi({ example: "order.created" }),
    endpointId: z.string().openapi({ example: exampleEndpoint }),
    taskId: z.string().openapi({ example: exampleTask }),
    attempt: z.number().int().openapi({
      example: 1,
      description: "1 for the first attempt of a task, or of a replay of it",
    }),
    result: z.string().openapi({ example: "http_error" }),
    status: z.number().int().nullable().openapi({ example: 503, description: "HTTP status" }),
    error: z.string().nullable().openapi({ example: null }),
    responseBody: z.string().nullable().openapi({
      example: '{"error":"maintenance"}',
      description: "The start of the endpoint's answer (at most 1,024 characters, one line)",
    }),
    durationMs: z.number().int().openapi({ example: 120 }),
    attemptedAt: z.string().openapi({ example: exampleTime, description: "When it started" }),
    eventCreatedAt: z
      .string()
      .openapi({ example: exampleTime, description: "When ingest accepted the event" }),
    loggedAt: z.string().openapi({ example: exampleTime, description: "When the dlq stored it" }),
    replay: z.boolean().openapi({ example: false, description: "Made by replaying a dead letter" }),
    replayOf: z.string().nullable().openapi({
      example: null,
      description: "The dead letter replayed, when `replay`",
    }),
    decision: z.enum(["retry", "deadletter", "ignore"]).nullable().openapi({
      example: "retry",
      description: "The classifier's decision on a failed attempt; null on successes",
    }),
    nextAttemptAt: z.string().nullable().openapi({
      example: exampleTime,
      description: "When the retry will be sent (decision `retry`)",
    }),
    reason: z.string().nullable().openapi({
      example: null,
      description: "Why the task was dead-lettered (decision `deadletter`)",
    }),
  })
  .openapi("AttemptLogEntry");
export type PublicAttempt = z.infer<typeof attemptLogEntrySchema>;

const decisions = new Set(["retry", "deadletter", "ignore"] as const);
type Decision = PublicAttempt["decision"];
const decisionOf = (value: string | null): Decision =>
  decisions.has(value as NonNullable<Decision>) ? (value as Decision) : null;

export function publicAttempt(row: AttemptRow): PublicAttempt {
  return {
    id: row.attempt_id,
    tenantId: row.tenant_id,
    eventId: row.event_id,
    eventType: row.event_type,
    endpointId: row.endpoint_id,
    taskId: row.task_id,
    attempt: row.attempt,
    result: row.result,
    status: row.status,
    error: row.error,
    responseBody: row.response_body,
    durationMs: row.duration_ms,
    attemptedAt: row.attempted_at.toISOString(),
    eventCreatedAt: row.event_created_at.toISOString(),
    loggedAt: row.logged_at.toISOString(),
    replay: row.replay_of !== null,
    replayOf: row.replay_of,
    decision: decisionOf(row.decision),
    nextAttemptAt: iso(row.next_attempt_at),
    reason: row.reason,
  };
}

const tenantQuery = tenantIdSchema.optional().meta({
  example: "acme",
  description:
    "Only this tenant. A tenant-bound token always sees only its own; naming another is a 404 " +
    "(`tenant_not_found`).",
});

const timeBound = (description: string) =>
  z.iso.datetime({ offset: true }).optional().openapi({ example: exampleTime, description });

/** The attempt list's filters, as query fields. */
export const attemptFilterFields = {
  tenantId: tenantQuery,
  eventId: eventIdSchema.optional().meta({ example: "evt_1" }),
  endpointId: endpointIdSchema.optional().meta({ example: exampleEndpoint }),
  result: z.enum(attemptResults).optional().openapi({ example: "http_error" }),
  status: z.coerce
    .number()
    .int()
    .min(100)
    .max(599)
    .optional()
    .openapi({ example: 503, description: "The HTTP status the endpoint answered" }),
  since: timeBound("attemptedAt at or after this instant"),
  until: timeBound("attemptedAt before this instant"),
};

type AttemptFilterInput = {
  [K in keyof typeof attemptFilterFields]?: z.infer<(typeof attemptFilterFields)[K]>;
};

export const orderedAttemptRange = (filter: AttemptFilterInput) =>
  filter.since === undefined ||
  filter.until === undefined ||
  Date.parse(filter.since) <= Date.parse(filter.until);
export const attemptRangeIssue = { message: "since must not be after until", path: ["since"] };

export function attemptFilter(input: AttemptFilterInput): AttemptFilter {
  return {
    tenantId: input.tenantId,
    eventId: input.eventId,
    endpointId: input.endpointId,
    result: input.result,
    status: input.status,
    since: input.since === undefined ? undefined : new Date(input.since),
    until: input.until === undefined ? undefined : new Date(input.until),
  };
}

export const eventParamsSchema = z.object({
  eventId: eventIdSchema.meta({ param: { name: "eventId", in: "path" }, example: "evt_1" }),
});

export const eventTenantQuerySchema = z.object({ tenantId: tenantQuery });

export const eventTaskSchema = z
  .object({
    taskId: z.string().openapi({ example: exampleTask }),
    endpointId: z.string().nullable().openapi({ example: exampleEndpoint }),
    state: z.enum(taskStates).openapi({
      example: "retrying",
      description:
        "From the latest of: the task's latest attempt, its dead letter's death, that letter's " +
        "latest replay. `replayed`: the letter was replayed after both. `dead_lettered`: it died " +
        "at or after the latest attempt (or without any), or the latest attempt's decision was " +
        "`deadletter`. Otherwise the latest attempt: `delivered`, `retrying` (decision `retry`), " +
        "or `failed` (a failure the classifier neither retried nor dead-lettered).",
    }),
    attempts: z.number().int().openapi({ example: 2, description: "Attempts logged" }),
    lastAttemptAt: z.string().nullable().openapi({ example: exampleTime }),
    lastResult: z.string().nullable().openapi({ example: "http_error" }),
    lastStatus: z.number().int().nullable().openapi({ example: 503 }),
    nextAttemptAt: z.string().nullable().openapi({
      example: exampleTime,
      description: "When the retry will be sent; only when `retrying`",
    }),
    deadLetterId: z.string().nullable().openapi({
      example: null,
      description: "The task's dead letter, whatever the state (it may have been replayed)",
    }),
    deadLetterStatus: z.enum(deadLetterStatuses).nullable().openapi({ example: null }),
    reason: z.string().nullable().openapi({
      example: null,
      description: "Why it died: the letter's reason, else the latest attempt's",
    }),
    replayedAt: z.string().nullable().openapi({
      example: null,
      description: "The letter's latest replay",
    }),
  })
  .openapi("EventTask");

export const eventViewSchema = z
  .object({
    tenantId: z.string().openapi({ example: "acme" }),
    eventId: z.string().openapi({ example: "evt_1" }),
    eventType: z.string().nullable().openapi({ example: "order.created" }),
    createdAt: z.string().openapi({ example: exampleTime, description: "When ingest accepted it" }),
    body: z.unknown().openapi({
      example: { type: "order.created", timestamp: exampleTime, data: {} },
      description:
        "The webhook body: parsed when it is JSON (`bodyEncoding` json), else as text (utf8) " +
        "or base64; null when none is stored (ATTEMPT_LOG_BODIES=false, or gone with its " +
        "partition) and no dead letter of the event holds it.",
    }),
    bodyEncoding: z.enum(["json", "utf8", "base64"]).nullable().openapi({ example: "json" }),
    tasks: z.array(eventTaskSchema).openapi({ description: "By task id" }),
    tasksTruncated: z.boolean().openapi({
      example: false,
      description: `More than ${MAX_EVENT_TASKS} tasks: only the first ${MAX_EVENT_TASKS} by task id are here`,
    }),
  })
  .openapi("Event");
export type PublicEventView = z.infer<typeof eventViewSchema>;

function bodyOf(body: Buffer | null): Pick<PublicEventView, "body" | "bodyEncoding"> {
  if (body === null) return { body: null, bodyEncoding: null };
  if (!isUtf8(body)) return { body: body.toString("base64"), bodyEncoding: "base64" };
  const text = body.toString("utf8");
  try {
    return { body: JSON.parse(text) as unknown, bodyEncoding: "json" };
  } catch {
    return { body: text, bodyEncoding: "utf8" };
  }
}

export function publicEventView(view: EventView): PublicEventView {
  return {
    tenantId: view.tenantId,
    eventId: view.eventId,
    eventType: view.eventType,
    createdAt: view.createdAt.toISOString(),
    ...bodyOf(view.body),
    tasks: view.tasks.map((task) => ({
      taskId: task.taskId,
      endpointId: task.endpointId,
      state: task.state,
      attempts: task.attempts,
      lastAttemptAt: iso(task.lastAttemptAt),
      lastResult: task.lastResult,
      lastStatus: task.lastStatus,
      nextAttemptAt: iso(task.nextAttemptAt),
      deadLetterId: task.deadLetterId,
      deadLetterStatus: task.deadLetterStatus,
      reason: task.reason,
      replayedAt: iso(task.replayedAt),
    })),
    tasksTruncated: view.tasksTruncated,
  };
}
