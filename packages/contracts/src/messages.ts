import { type MsgHdrs, headers as natsHeaders } from "@nats-io/transport-node";
import { z } from "zod";
import {
  type AttemptResult,
  attemptResultSchema,
  type DeadLetterReason,
  deadLetterReasonSchema,
} from "./enums";
import { Header } from "./headers";
import { endpointIdSchema, eventIdSchema, eventTypeSchema, tenantIdSchema } from "./ids";

/** One attempt, as kept in `Hookline-History`. */
export const attemptRecordSchema = z.object({
  n: z.number().int().min(0),
  at: z.number().int().min(0),
  result: attemptResultSchema,
  status: z.number().int().min(100).max(599).optional(),
  error: z.string().max(200).optional(),
  ms: z.number().min(0),
});
export type AttemptRecord = z.infer<typeof attemptRecordSchema>;

/** Outcomes carry at most this much of the endpoint's answer (Hookline-Response-Body). */
export const RESPONSE_BODY_LIMIT = 1024;

/** History keeps the last attempts only, so headers stay small however often a task retries. */
export const HISTORY_LIMIT = 10;

const count = z
  .string()
  .regex(/^\d{1,9}$/, "a non-negative integer")
  .transform(Number);
const epochMs = z
  .string()
  .regex(/^\d{1,15}$/, "epoch milliseconds")
  .transform(Number);
const historyJson = z
  .string()
  .transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({ code: "custom", message: "not JSON" });
      return z.NEVER;
    }
  })
  .pipe(z.array(attemptRecordSchema).max(HISTORY_LIMIT));

const taskFields = {
  taskId: z.string().min(3).max(200),
  eventId: eventIdSchema,
  eventType: eventTypeSchema,
  endpointId: endpointIdSchema,
  tenantId: tenantIdSchema.optional(),
  attempt: count,
  deferrals: count,
  createdAt: epochMs,
  deadline: epochMs,
  notBefore: epochMs.optional(),
  history: historyJson.optional(),
  replayOf: z.string().min(1).max(100).optional(),
};

const taskSchema = z.object(taskFields);
const outcomeSchema = z.object({
  ...taskFields,
  history: historyJson,
  result: attemptResultSchema,
  status: z
    .string()
    .regex(/^[1-5]\d\d$/, "an HTTP status")
    .transform(Number)
    .optional(),
  error: z.string().max(200).optional(),
  durationMs: epochMs,
  retryAfterMs: epochMs.optional(),
  responseBody: z.string().max(RESPONSE_BODY_LIMIT).optional(),
});
const loggedAttemptSchema = z.object({
  ...outcomeSchema.shape,
  // absent on delivery's successes
  decision: z.enum(["retry", "deadletter", "ignore"]).optional(),
  // notBefore (from the task fields): when the retry will be sent
  reason: deadLetterReasonSchema.optional(),
});
const deadLetterSchema = z.object({
  ...taskFields,
  // A task can die before any attempt (poison on its first delivery): encodeTask writes no
  // header for an empty history, so an absent one reads as [].
  history: historyJson.default([]),
  reason: deadLetterReasonSchema,
});

/** Metadata of a task on `dispatch.*` and `retry.*`. */
export interface TaskMeta {
  taskId: string;
  eventId: string;
  eventType: string;
  endpointId: string;
  /** The endpoint's tenant; absent on tasks from before tenants (DEFAULT_TENANT_ID). */
  tenantId?: string | undefined;
  /** Attempts made so far: 0 on a fresh task. */
  attempt: number;
  /** Times the task was put off without a real attempt. */
  deferrals: number;
  createdAt: number;
  deadline: number;
  notBefore?: number | undefined;
  history?: AttemptRecord[] | undefined;
  replayOf?: string | undefined;
}

/** Metadata of `outcome.*`: the task plus what this attempt did. */
export interface OutcomeMeta extends TaskMeta {
  history: AttemptRecord[];
  result: AttemptResult;
  status?: number | undefined;
  error?: string | undefined;
  durationMs: number;
  retryAfterMs?: number | undefined;
  /** The start of the endpoint's answer (≤ RESPONSE_BODY_LIMIT characters, one line). */
  responseBody?: string | undefined;
}

export type ClassifierDecision = "retry" | "deadletter" | "ignore";

/**
 * Metadata of `outcome.classified.*`: a failed attempt's outcome with what the classifier did.
 * `notBefore` is when a retry will be sent; `reason` why a dead letter died.
 */
export interface ClassifiedOutcomeMeta extends OutcomeMeta {
  decision: ClassifierDecision;
  reason?: DeadLetterReason | undefined;
}

/** What the attempt log reads: a success as delivery published it, or a classified outcome. */
export interface LoggedAttemptMeta extends OutcomeMeta {
  decision?: ClassifierDecision | undefined;
  reason?: DeadLetterReason | undefined;
}

/** Metadata of `deadletter.*`. */
export interface DeadLetterMeta extends TaskMeta {
  history: AttemptRecord[];
  reason: DeadLetterReason;
}

export type Decoded<T> = { ok: true; value: T } | { ok: false; error: string };

const headerByField: Record<string, string> = {
  taskId: Header.taskId,
  eventId: Header.eventId,
  eventType: Header.eventType,
  endpointId: Header.endpointId,
  tenantId: Header.tenantId,
  attempt: Header.attempt,
  deferrals: Header.deferrals,
  createdAt: Header.createdAt,
  deadline: Header.deadline,
  notBefore: Header.notBefore,
  history: Header.history,
  replayOf: Header.replayOf,
  result: Header.result,
  status: Header.status,
  error: Header.error,
  durationMs: Header.durationMs,
  retryAfterMs: Header.retryAfterMs,
  reason: Header.reason,
  responseBody: Header.responseBody,
  decision: Header.decision,
};

function readHeaders(
  h: MsgHdrs | undefined,
  fields: Record<string, unknown>,
): Record<string, string | undefined> {
  const raw: Record<string, string | undefined> = {};
  for (const field of Object.keys(fields)) {
    const value = h?.get(headerByField[field] ?? field);
    raw[field] = value === undefined || value === "" ? undefined : value;
  }
  return raw;
}

function decodeWith<T>(schema: z.ZodType<T>, h: MsgHdrs | undefined): Decoded<T> {
  if (!h) return { ok: false, error: "the message has no headers" };
  const shape = (schema as unknown as z.ZodObject).shape;
  const parsed = schema.safeParse(readHeaders(h, shape));
  if (parsed.success) return { ok: true, value: parsed.data };
  const problems = parsed.error.issues.map((issue) => {
    const field = String(issue.path[0] ?? "");
    const name = headerByField[field] ?? field;
    const shown = h.get(name);
    const message = shown === "" ? "missing" : issue.message;
    return `${name}: ${message}`;
  });
  return { ok: false, error: problems.join("; ") };
}

export function decodeTask(h: MsgHdrs | undefined): Decoded<TaskMeta> {
  return decodeWith(taskSchema, h);
}
export function decodeOutcome(h: MsgHdrs | undefined): Decoded<OutcomeMeta> {
  return decodeWith(outcomeSchema, h);
}
/** Both kinds of the attempt log's records: `outcome.delivered.*` and `outcome.classified.*`. */
export function decodeLoggedAttempt(h: MsgHdrs | undefined): Decoded<LoggedAttemptMeta> {
  return decodeWith(loggedAttemptSchema, h);
}
export function decodeDeadLetter(h: MsgHdrs | undefined): Decoded<DeadLetterMeta> {
  return decodeWith(deadLetterSchema, h);
}

/** Header values may not hold line breaks; error texts come from remote servers. */
export function headerSafe(text: string, max = 200): string {
  return text.replace(/[\r\n]+/g, " ").slice(0, max);
}

function writeTask(h: MsgHdrs, meta: TaskMeta): void {
  h.set(Header.taskId, meta.taskId);
  h.set(Header.eventId, meta.eventId);
  h.set(Header.eventType, meta.eventType);
  h.set(Header.endpointId, meta.endpointId);
  if (meta.tenantId !== undefined) h.set(Header.tenantId, meta.tenantId);
  h.set(Header.attempt, String(meta.attempt));
  h.set(Header.deferrals, String(meta.deferrals));
  h.set(Header.createdAt, String(meta.createdAt));
  h.set(Header.deadline, String(meta.deadline));
  if (meta.notBefore !== undefined) h.set(Header.notBefore, String(meta.notBefore));
  if (meta.history !== undefined && meta.history.length > 0) {
    h.set(Header.history, JSON.stringify(meta.history.slice(-HISTORY_LIMIT)));
  }
  if (meta.replayOf !== undefined) h.set(Header.replayOf, meta.replayOf);
}

/** Headers for a task. `msgId` is the JetStream dedupe id; see DESIGN.md for its forms. */
export function encodeTask(meta: TaskMeta, msgId: string): MsgHdrs {
  const h = natsHeaders();
  h.set(Header.msgId, msgId);
  writeTask(h, meta);
  return h;
}

/** A NATS header value as MsgHdrs.set stores it: no line breaks, surrounding spaces trimmed.
 *  (Numbers are written as they are: String(n) has neither.) */
function headerValue(value: string): string {
  if (value.includes("\r") || value.includes("\n")) {
    throw new Error("header values cannot contain \\r or \\n");
  }
  return value.trim();
}

/**
 * The encoded header block of a task: byte for byte what `encodeTask(meta, msgId).encode()`
 * gives (messages.test.ts compares them), so every decoder reads it as before, for a fraction
 * of the CPU (no MsgHdrs map, no per-set key search). For publishers that hand NATS the bytes.
 */
export function taskHeaderBlock(meta: TaskMeta, msgId: string): Uint8Array {
  return Buffer.from(`${taskHeaderLines(meta, msgId)}\r\n\r\n`, "utf8");
}

/** `encodeDeadLetter(meta, msgId).encode()`, byte for byte, as taskHeaderBlock is encodeTask's. */
export function deadLetterHeaderBlock(meta: DeadLetterMeta, msgId: string): Uint8Array {
  const lines = `${taskHeaderLines(meta, msgId)}\r\n${Header.reason}: ${headerValue(meta.reason)}`;
  return Buffer.from(`${lines}\r\n\r\n`, "utf8");
}

function taskHeaderLines(meta: TaskMeta, msgId: string): string {
  let block =
    `NATS/1.0\r\n${Header.msgId}: ${headerValue(msgId)}` +
    `\r\n${Header.taskId}: ${headerValue(meta.taskId)}` +
    `\r\n${Header.eventId}: ${headerValue(meta.eventId)}` +
    `\r\n${Header.eventType}: ${headerValue(meta.eventType)}` +
    `\r\n${Header.endpointId}: ${headerValue(meta.endpointId)}` +
    (meta.tenantId === undefined ? "" : `\r\n${Header.tenantId}: ${headerValue(meta.tenantId)}`) +
    `\r\n${Header.attempt}: ${meta.attempt}` +
    `\r\n${Header.deferrals}: ${meta.deferrals}` +
    `\r\n${Header.createdAt}: ${meta.createdAt}` +
    `\r\n${Header.deadline}: ${meta.deadline}`;
  if (meta.notBefore !== undefined) {
    block += `\r\n${Header.notBefore}: ${meta.notBefore}`;
  }
  if (meta.history !== undefined && meta.history.length > 0) {
    block += `\r\n${Header.history}: ${headerValue(JSON.stringify(meta.history.slice(-HISTORY_LIMIT)))}`;
  }
  if (meta.replayOf !== undefined) block += `\r\n${Header.replayOf}: ${headerValue(meta.replayOf)}`;
  return block;
}

export function encodeOutcome(meta: OutcomeMeta, msgId: string): MsgHdrs {
  const h = encodeTask(meta, msgId);
  h.set(Header.result, meta.result);
  if (meta.status !== undefined) h.set(Header.status, String(meta.status));
  if (meta.error !== undefined) h.set(Header.error, headerSafe(meta.error));
  h.set(Header.durationMs, String(Math.round(meta.durationMs)));
  if (meta.retryAfterMs !== undefined) h.set(Header.retryAfterMs, String(meta.retryAfterMs));
  if (meta.responseBody !== undefined) h.set(Header.responseBody, meta.responseBody);
  return h;
}

/** An outcome with the classifier's decision after its other headers. */
export function encodeClassifiedOutcome(meta: ClassifiedOutcomeMeta, msgId: string): MsgHdrs {
  const h = encodeOutcome(meta, msgId);
  h.set(Header.decision, meta.decision);
  if (meta.reason !== undefined) h.set(Header.reason, meta.reason);
  return h;
}

export function encodeDeadLetter(meta: DeadLetterMeta, msgId: string): MsgHdrs {
  const h = encodeTask(meta, msgId);
  h.set(Header.reason, meta.reason);
  return h;
}

/** Appends an attempt and keeps the last HISTORY_LIMIT; error texts are trimmed to fit. */
export function appendAttempt(
  history: readonly AttemptRecord[] | undefined,
  attempt: AttemptRecord,
): AttemptRecord[] {
  const record =
    attempt.error === undefined ? attempt : { ...attempt, error: headerSafe(attempt.error) };
  return [...(history ?? []), record].slice(-HISTORY_LIMIT);
}

/** A task dead-lettered as it stands, with no new attempt: its history is kept. */
export function deadLetterOfTask(task: TaskMeta, reason: DeadLetterReason): DeadLetterMeta {
  const { notBefore: _due, ...rest } = task;
  return { ...rest, history: task.history ?? [], reason };
}
