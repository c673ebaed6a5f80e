import type { Kysely } from "kysely";
import { earliestBodyRowAt } from "../attempt-log/attempt-writer";
import type { Database, DeadLetterStatus } from "../db/schema";
import { type TaskState, taskState } from "./task-state";

/** An event's tasks come in one answer, up to this many (by task id). */
export const MAX_EVENT_TASKS = 1_000;
/** How many tenants an ambiguous event id is reported with, at most. */
const MAX_TENANTS_COUNTED = 100;

export interface EventTask {
  taskId: string;
  endpointId: string | null;
  state: TaskState;
  /** Attempt rows logged for the task (passes that made no request included). */
  attempts: number;
  lastAttemptAt: Date | null;
  lastResult: string | null;
  lastStatus: number | null;
  /** When the retry will be sent: only while `retrying`. */
  nextAttemptAt: Date | null;
  deadLetterId: string | null;
  deadLetterStatus: DeadLetterStatus | null;
  /** Why it died: the letter's reason, else the latest attempt's. */
  reason: string | null;
  replayedAt: Date | null;
}

export interface EventView {
  tenantId: string;
  eventId: string;
  eventType: string | null;
  createdAt: Date;
  /** The webhook body as stored, from the attempt log or else a dead letter; null if neither. */
  body: Buffer | null;
  tasks: EventTask[];
  /** More than MAX_EVENT_TASKS tasks: only the first by task id are here. */
  tasksTruncated: boolean;
}

export type EventLookup =
  | { outcome: "found"; event: EventView }
  | { outcome: "not_found" }
  /** No tenant was named and the id is known in several: the caller must name one. */
  | { outcome: "ambiguous"; tenantCount: number };

/** The tenants that know an event id (attempts or dead letters), at most MAX_TENANTS_COUNTED. */
async function tenantsOfEvent(db: Kysely<Database>, eventId: string): Promise<string[]> {
  const rows = await db
    .selectFrom("attempts")
    .select("tenant_id")
    .where("event_id", "=", eventId)
    .union(db.selectFrom("dead_letters").select("tenant_id").where("event_id", "=", eventId))
    .limit(MAX_TENANTS_COUNTED)
    .execute();
  return rows.map((row) => row.tenant_id);
}

/** Per task: its latest attempt (by attempted_at, then id) and how many it has. */
function latestAttempts(db: Kysely<Database>, tenantId: string, eventId: string) {
  return db
    .selectFrom("attempts")
    .distinctOn("task_id")
    .select((eb) => [
      "task_id",
      "endpoint_id",
      "attempted_at",
      "result",
      "status",
      "decision",
      "next_attempt_at",
      "reason",
      "event_type",
      "event_created_at",
      eb.fn
        .countAll<string>()
        .over((over) => over.partitionBy("task_id"))
        .as("attempt_rows"),
    ])
    .where("tenant_id", "=", tenantId)
    .where("event_id", "=", eventId)
    .orderBy("task_id")
    .orderBy("attempted_at", "desc")
    .orderBy("attempt_id", "desc")
    .limit(MAX_EVENT_TASKS + 1)
    .execute();
}

/** The event's dead letters, each with its latest replay. */
function eventLetters(db: Kysely<Database>, tenantId: string, eventId: string) {
  return db
    .selectFrom("dead_letters")
    .select((eb) => [
      "id",
      "task_id",
      "endpoint_id",
      "status",
      "reason",
      "dead_at",
      "created_at",
      "event_type",
      eb
        .selectFrom("dead_letter_audit")
        .select((audit) => audit.fn.max("at").as("at"))
        .whereRef("dead_letter_audit.dead_letter_id", "=", "dead_letters.id")
        .where("action", "=", "replayed")
        .as("replayed_at"),
    ])
    .where("tenant_id", "=", tenantId)
    .where("event_id", "=", eventId)
    .orderBy("task_id")
    .limit(MAX_EVENT_TASKS + 1)
    .execute();
}

type AttemptSummary = Awaited<ReturnType<typeof latestAttempts>>[number];
type LetterSummary = Awaited<ReturnType<typeof eventLetters>>[number];

function eventTask(
  taskId: string,
  latest: AttemptSummary | undefined,
  letter: LetterSummary | undefined,
): EventTask {
  const replayedAt = letter?.replayed_at ?? null;
  const state = taskState(
    latest && {
      attemptedAt: latest.attempted_at,
      result: latest.result,
      decision: latest.decision,
    },
    letter && { deadAt: letter.dead_at, replayedAt },
  );
  return {
    taskId,
    endpointId: latest?.endpoint_id ?? letter?.endpoint_id ?? null,
    state,
    attempts: latest === undefined ? 0 : Number(latest.attempt_rows),
    lastAttemptAt: latest?.attempted_at ?? null,
    lastResult: latest?.result ?? null,
    lastStatus: latest?.status ?? null,
    nextAttemptAt: state === "retrying" ? (latest?.next_attempt_at ?? null) : null,
    deadLetterId: letter?.id ?? null,
    deadLetterStatus: letter?.status ?? null,
    reason: letter?.reason ?? latest?.reason ?? null,
    replayedAt,
  };
}

/**
 * The stored body: the attempt log's copy (by its full key: on the row that brought it, or in
 * event_bodies where the log kept bodies before 0005), else the first letter's.
 */
async function eventBody(
  db: Kysely<Database>,
  key: { tenantId: string; eventId: string; createdAt: Date },
  letterId: string | undefined,
): Promise<Buffer | null> {
  const inline = await db
    .selectFrom("attempts")
    .select("body")
    .where("event_id", "=", key.eventId)
    .where("tenant_id", "=", key.tenantId)
    .where("event_created_at", "=", key.createdAt)
    .where("attempted_at", ">=", new Date(earliestBodyRowAt(key.createdAt.getTime())))
    .where("body", "is not", null)
    .orderBy("attempted_at")
    .limit(1)
    .executeTakeFirst();
  if (inline?.body != null) return inline.body;
  const logged = await db
    .selectFrom("event_bodies")
    .select("body")
    .where("tenant_id", "=", key.tenantId)
    .where("event_id", "=", key.eventId)
    .where("created_at", "=", key.createdAt)
    .executeTakeFirst();
  if (logged !== undefined) return logged.body;
  if (letterId === undefined) return null;
  const letter = await db
    .selectFrom("dead_letters")
    .select("body")
    .where("id", "=", letterId)
    .executeTakeFirst();
  return letter?.body ?? null;
}

/**
 * What is known of one event: its tasks' states from the attempt log and the dead letters, and
 * its body. Without a tenant, the event id is looked up across tenants and must name one.
 */
export async function viewEvent(
  db: Kysely<Database>,
  request: { eventId: string; tenantId?: string | undefined },
): Promise<EventLookup> {
  const { eventId } = request;
  let tenantId = request.tenantId;
  if (tenantId === undefined) {
    const tenants = await tenantsOfEvent(db, eventId);
    if (tenants.length > 1) return { outcome: "ambiguous", tenantCount: tenants.length };
    tenantId = tenants[0];
    if (tenantId === undefined) return { outcome: "not_found" };
  }
  const [attempts, letters] = await Promise.all([
    latestAttempts(db, tenantId, eventId),
    eventLetters(db, tenantId, eventId),
  ]);
  const firstAttempt = attempts[0];
  const firstLetter = letters[0];
  const createdAt = firstAttempt?.event_created_at ?? firstLetter?.created_at;
  if (createdAt === undefined) return { outcome: "not_found" };

  const byTask = new Map<string, { latest?: AttemptSummary; letter?: LetterSummary }>();
  for (const latest of attempts) byTask.set(latest.task_id, { latest });
  for (const letter of letters)
    byTask.set(letter.task_id, { ...byTask.get(letter.task_id), letter });
  const taskIds = [...byTask.keys()].sort();
  const tasks = taskIds
    .slice(0, MAX_EVENT_TASKS)
    .map((taskId) => eventTask(taskId, byTask.get(taskId)?.latest, byTask.get(taskId)?.letter));

  return {
    outcome: "found",
    event: {
      tenantId,
      eventId,
      eventType: firstAttempt?.event_type ?? firstLetter?.event_type ?? null,
      createdAt,
      body: await eventBody(db, { tenantId, eventId, createdAt }, firstLetter?.id),
      tasks,
      tasksTruncated:
        taskIds.length > MAX_EVENT_TASKS ||
        attempts.length > MAX_EVENT_TASKS ||
        letters.length > MAX_EVENT_TASKS,
    },
  };
}
