import {
  attemptRecordSchema,
  DEFAULT_TENANT_ID,
  type DeadLetterReason,
  decodeDeadLetter,
  endpointIdSchema,
  eventIdSchema,
  eventTypeSchema,
  Header,
  HISTORY_LIMIT,
  type HooklineNames,
  tenantIdSchema,
} from "@hookline/contracts";
import type { MsgHdrs } from "@nats-io/transport-node";
import { z } from "zod";
import type { StoredAttempt } from "../db/schema";

/** What the store needs of a message from the dead-letter stream. */
export interface DeadLetterMessage {
  subject: string;
  /** Stream sequence: names an invalid letter that carries no task id. */
  seq: number;
  headers: MsgHdrs | undefined;
  data: Uint8Array;
  /** When JetStream stored the message: the moment the task died. */
  time: Date;
}

/** A dead letter ready to store: decoded, or kept raw with `invalid_message`. */
export interface IncomingLetter {
  taskId: string;
  eventId: string | null;
  eventType: string | null;
  endpointId: string | null;
  /** `Hookline-Tenant-Id`, or DEFAULT_TENANT_ID when absent (or, on an invalid letter, invalid). */
  tenantId: string;
  reason: DeadLetterReason;
  attemptCount: number;
  attempts: StoredAttempt[];
  lastStatus: number | null;
  lastError: string | null;
  createdAt: Date;
  deadAt: Date;
  body: Buffer;
  headers: Record<string, string>;
  /** `Hookline-Replay-Of`: the letter this task was replayed from, if it was. */
  replayOf: string | null;
  /** Set when the message did not decode (or arrived on `deadletter.invalid`): why. */
  invalid?: string | undefined;
}

const MAX_TASK_ID_CHARS = 200;
const MAX_ERROR_CHARS = 500;

/** Postgres text and jsonb refuse NUL; a raw message may carry one anywhere. */
function storable(text: string): string {
  return text.replaceAll("\u0000", "\uFFFD");
}

/** Headers as name → value; repeated names are joined as HTTP joins them. */
function headerRecord(h: MsgHdrs | undefined): Record<string, string> {
  const record: Record<string, string> = {};
  for (const [name, values] of h ?? []) record[storable(name)] = storable(values.join(", "));
  return record;
}

function header(h: MsgHdrs | undefined, name: string): string | undefined {
  const value = h?.get(name);
  return value === undefined || value === "" ? undefined : value;
}

function valid(schema: z.ZodType<string>, value: string | undefined): string | null {
  return value !== undefined && schema.safeParse(value).success ? value : null;
}

const lenientHistory = z.array(attemptRecordSchema).max(HISTORY_LIMIT);

/** Whatever attempt history an undecodable message still carries, or none. */
function salvageHistory(text: string | undefined): StoredAttempt[] {
  if (text === undefined) return [];
  try {
    const parsed = lenientHistory.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : [];
  } catch {
    return [];
  }
}

function sortedAttempts(attempts: readonly StoredAttempt[]): StoredAttempt[] {
  return attempts
    .map((attempt) =>
      attempt.error === undefined ? attempt : { ...attempt, error: storable(attempt.error) },
    )
    .sort((a, b) => a.at - b.at || a.n - b.n);
}

function lastOf(attempts: readonly StoredAttempt[]) {
  const last = attempts.at(-1);
  return { lastStatus: last?.status ?? null, lastError: last?.error ?? null };
}

/**
 * Reads a dead letter. Messages on `deadletter.invalid`, and any that don't decode, are kept
 * raw: reason `invalid_message`, their bytes and headers as they came, and whatever ids their
 * headers validly carry. They are named by their `Hookline-Task-Id` when they have a usable one,
 * else `invalid:<stream seq>` (stable across redeliveries of the same message).
 */
export function readIncoming(msg: DeadLetterMessage, names: HooklineNames): IncomingLetter {
  // A copy: the store writes it after awaiting, and the client owns the message's buffer.
  const body = Buffer.from(msg.data);
  const headers = headerRecord(msg.headers);
  const deadAt = msg.time;
  const decoded =
    msg.subject === names.subjects.deadletterInvalid
      ? { ok: false as const, error: header(msg.headers, Header.error) ?? "invalid message" }
      : decodeDeadLetter(msg.headers);

  if (decoded.ok) {
    const meta = decoded.value;
    const attempts = sortedAttempts(meta.history);
    return {
      taskId: storable(meta.taskId),
      eventId: meta.eventId,
      eventType: meta.eventType,
      endpointId: meta.endpointId,
      tenantId: meta.tenantId ?? DEFAULT_TENANT_ID,
      reason: meta.reason,
      attemptCount: meta.attempt,
      attempts,
      ...lastOf(attempts),
      createdAt: new Date(meta.createdAt),
      deadAt,
      body,
      headers,
      replayOf: meta.replayOf ?? null,
    };
  }

  const h = msg.headers;
  const taskIdHeader = header(h, Header.taskId);
  const taskId =
    taskIdHeader !== undefined && taskIdHeader.length <= MAX_TASK_ID_CHARS
      ? storable(taskIdHeader)
      : `invalid:${msg.seq}`;
  const createdAtHeader = header(h, Header.createdAt);
  const attemptHeader = header(h, Header.attempt);
  const attempts = sortedAttempts(salvageHistory(header(h, Header.history)));
  return {
    taskId,
    eventId: valid(eventIdSchema, header(h, Header.eventId)),
    eventType: valid(eventTypeSchema, header(h, Header.eventType)),
    endpointId: valid(endpointIdSchema, header(h, Header.endpointId)),
    tenantId: valid(tenantIdSchema, header(h, Header.tenantId)) ?? DEFAULT_TENANT_ID,
    reason: "invalid_message",
    attemptCount:
      attemptHeader !== undefined && /^\d{1,9}$/.test(attemptHeader) ? Number(attemptHeader) : 0,
    attempts,
    lastStatus: lastOf(attempts).lastStatus,
    lastError: storable(decoded.error).slice(0, MAX_ERROR_CHARS),
    createdAt:
      createdAtHeader !== undefined && /^\d{1,15}$/.test(createdAtHeader)
        ? new Date(Number(createdAtHeader))
        : deadAt,
    deadAt,
    body,
    headers,
    replayOf: null,
    invalid: decoded.error,
  };
}

/** Attempts from both lists, each once (same `n` and `at`), oldest first. */
export function mergeAttempts(
  stored: readonly StoredAttempt[],
  incoming: readonly StoredAttempt[],
): StoredAttempt[] {
  const seen = new Set(stored.map((attempt) => `${attempt.n}@${attempt.at}`));
  const added = incoming.filter((attempt) => !seen.has(`${attempt.n}@${attempt.at}`));
  if (added.length === 0) return [...stored];
  return [...stored, ...added].sort((a, b) => a.at - b.at || a.n - b.n);
}
