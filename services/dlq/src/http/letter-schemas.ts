import { isUtf8 } from "node:buffer";
import { z } from "@hono/zod-openapi";
import {
  deadLetterReasons,
  endpointIdSchema,
  eventTypeSchema,
  tenantIdSchema,
} from "@hookline/contracts";
import { type AuditRow, auditActions, type DeadLetterRow, deadLetterStatuses } from "../db/schema";
import type { LetterFilter } from "../letters/filter";
import type { LetterSummary } from "../letters/listing";

const exampleId = "dl_01JD8Z6Q3V4W5X6Y7Z8A9B0C1D";
const exampleEndpoint = "ep_01JD8Z6Q3V4W5X6Y7Z8A9B0C1E";
const exampleTime = "2025-01-01T12:00:00.000Z";

export const deadLetterStatusSchema = z.enum(deadLetterStatuses).openapi({ example: "open" });
export const deadLetterReasonSchema = z.enum(deadLetterReasons).openapi({ example: "exhausted" });

export const deadLetterSchema = z
  .object({
    id: z.string().openapi({ example: exampleId }),
    taskId: z.string().openapi({ example: `evt_1:${exampleEndpoint}` }),
    eventId: z.string().nullable().openapi({ example: "evt_1" }),
    eventType: z.string().nullable().openapi({ example: "order.created" }),
    endpointId: z.string().nullable().openapi({ example: exampleEndpoint }),
    tenantId: z.string().openapi({
      example: "acme",
      description: "The endpoint's tenant; default for letters from before tenants",
    }),
    endpointUrl: z.string().nullable().openapi({ example: "https://example.com/webhooks" }),
    reason: deadLetterReasonSchema,
    status: deadLetterStatusSchema,
    attemptCount: z.number().int().openapi({ example: 8 }),
    lastStatus: z.number().int().nullable().openapi({ example: 503 }),
    lastError: z.string().nullable().openapi({ example: null }),
    createdAt: z.string().openapi({ example: exampleTime, description: "When ingest accepted it" }),
    deadAt: z.string().openapi({ example: exampleTime, description: "When it last died" }),
    replayCount: z.number().int().openapi({ example: 0 }),
    resolvedAt: z.string().nullable().openapi({ example: null }),
    resolvedBy: z.string().nullable().openapi({ example: null }),
    note: z.string().nullable().openapi({ example: null }),
  })
  .openapi("DeadLetter", {
    description:
      "eventId, eventType and endpointId are null only for an invalid message whose headers " +
      "did not carry them.",
  });
export type PublicDeadLetter = z.infer<typeof deadLetterSchema>;

export const attemptSchema = z
  .object({
    n: z.number().int().openapi({ example: 1 }),
    at: z.string().openapi({ example: exampleTime }),
    result: z.string().openapi({ example: "http_error" }),
    status: z.number().int().nullable().openapi({ example: 503 }),
    error: z.string().nullable().openapi({ example: null }),
    durationMs: z.number().openapi({ example: 120 }),
  })
  .openapi("Attempt");

export const deadLetterDetailSchema = deadLetterSchema
  .extend({
    body: z.string().openapi({ example: '{"type":"order.created","timestamp":"…","data":{}}' }),
    bodyEncoding: z.enum(["utf8", "base64"]).openapi({
      example: "utf8",
      description: "utf8 when the body is valid UTF-8, else base64",
    }),
    headers: z.record(z.string(), z.string()).openapi({
      example: { "Hookline-Reason": "exhausted" },
      description: "As the letter arrived",
    }),
    attempts: z.array(attemptSchema).openapi({ description: "Every attempt seen, oldest first" }),
  })
  .openapi("DeadLetterDetail");
export type DeadLetterDetail = z.infer<typeof deadLetterDetailSchema>;

export const auditEntrySchema = z
  .object({
    id: z.string().openapi({ example: "42" }),
    action: z.enum(auditActions).openapi({ example: "replayed" }),
    actor: z
      .string()
      .openapi({ example: "ops", description: "The API token's name, or dlq-store" }),
    note: z.string().nullable().openapi({ example: "endpoint fixed" }),
    at: z.string().openapi({ example: exampleTime }),
    details: z.record(z.string(), z.unknown()).openapi({ example: { replay: 1 } }),
  })
  .openapi("AuditEntry");
export type PublicAuditEntry = z.infer<typeof auditEntrySchema>;

export function publicLetter(row: LetterSummary): PublicDeadLetter {
  return {
    id: row.id,
    taskId: row.task_id,
    eventId: row.event_id,
    eventType: row.event_type,
    endpointId: row.endpoint_id,
    tenantId: row.tenant_id,
    endpointUrl: row.endpoint_url,
    reason: row.reason,
    status: row.status,
    attemptCount: row.attempt_count,
    lastStatus: row.last_status,
    lastError: row.last_error,
    createdAt: row.created_at.toISOString(),
    deadAt: row.dead_at.toISOString(),
    replayCount: row.replay_count,
    resolvedAt: row.resolved_at?.toISOString() ?? null,
    resolvedBy: row.resolved_by,
    note: row.note,
  };
}

export function letterDetail(row: DeadLetterRow): DeadLetterDetail {
  const utf8 = isUtf8(row.body);
  return {
    ...publicLetter(row),
    body: row.body.toString(utf8 ? "utf8" : "base64"),
    bodyEncoding: utf8 ? "utf8" : "base64",
    headers: row.headers,
    attempts: row.attempts.map((attempt) => ({
      n: attempt.n,
      at: new Date(attempt.at).toISOString(),
      result: attempt.result,
      status: attempt.status ?? null,
      error: attempt.error ?? null,
      durationMs: attempt.ms,
    })),
  };
}

export function publicAuditEntry(row: AuditRow): PublicAuditEntry {
  return {
    id: row.id,
    action: row.action,
    actor: row.actor,
    note: row.note,
    at: row.at.toISOString(),
    details: row.details,
  };
}

export const letterIdParamsSchema = z.object({
  id: z.string().openapi({ param: { name: "id", in: "path" }, example: exampleId }),
});

/** The filter fields, shared by the list query and the bulk bodies. */
export const filterFields = {
  status: deadLetterStatusSchema.optional(),
  reason: deadLetterReasonSchema.optional(),
  endpointId: endpointIdSchema.optional().meta({ example: exampleEndpoint }),
  eventType: eventTypeSchema.optional().meta({ example: "order.created" }),
  tenantId: tenantIdSchema.optional().meta({ example: "acme" }),
  from: z.iso
    .datetime({ offset: true })
    .optional()
    .openapi({ example: exampleTime, description: "deadAt at or after this instant" }),
  to: z.iso
    .datetime({ offset: true })
    .optional()
    .openapi({ example: exampleTime, description: "deadAt before this instant" }),
};

type FilterInput = {
  [K in keyof typeof filterFields]?: z.infer<(typeof filterFields)[K]>;
};

export const orderedRange = (filter: FilterInput) =>
  filter.from === undefined ||
  filter.to === undefined ||
  Date.parse(filter.from) <= Date.parse(filter.to);
export const rangeIssue = { message: "from must not be after to", path: ["from"] };

export function letterFilter(input: FilterInput): LetterFilter {
  return {
    status: input.status,
    reason: input.reason,
    endpointId: input.endpointId,
    eventType: input.eventType,
    tenantId: input.tenantId,
    from: input.from === undefined ? undefined : new Date(input.from),
    to: input.to === undefined ? undefined : new Date(input.to),
  };
}

export const filterBodySchema = z
  .strictObject(filterFields)
  .refine(orderedRange, rangeIssue)
  .openapi("DeadLetterFilter");

const noteSchema = z
  .string()
  .trim()
  .min(1)
  .max(2_000)
  // Postgres text cannot hold NUL.
  .refine((note) => !note.includes("\u0000"), { message: "must not contain NUL characters" })
  .openapi({ example: "endpoint fixed by the partner on 2025-01-02" });

export const replayBodySchema = z
  .strictObject({ note: noteSchema.optional() })
  .openapi("ReplayDeadLetter");

export const settleBodySchema = z.strictObject({ note: noteSchema }).openapi("SettleDeadLetter");

export const MAX_BULK_LIMIT = 10_000;
export const DEFAULT_BULK_LIMIT = 1_000;

export const bulkBodySchema = z
  .strictObject({
    filter: filterBodySchema,
    limit: z
      .number()
      .int()
      .min(1)
      .max(MAX_BULK_LIMIT)
      .default(DEFAULT_BULK_LIMIT)
      .openapi({ example: DEFAULT_BULK_LIMIT }),
    note: noteSchema.optional(),
  })
  .openapi("BulkDeadLetterAction");

export const bulkResultSchema = z
  .object({
    matched: z.number().int().openapi({
      example: 120,
      description: "Letters the filter selected that the action applies to, at most `limit`",
    }),
    done: z.number().int().openapi({
      example: 120,
      description: "Letters acted on; fewer than matched when others changed them meanwhile",
    }),
  })
  .openapi("BulkResult");
