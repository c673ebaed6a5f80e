import { type Kysely, sql } from "kysely";
import type { Database, NewDeadLetterRow } from "../db/schema";
import { STORE_ACTOR } from "../letters/audit";
import { newDeadLetterId } from "../letters/letter-id";
import type { IncomingLetter } from "./incoming";

export interface NewLetter {
  letter: IncomingLetter;
  /** The endpoint's URL from the endpoint cache, when it knows the endpoint. */
  endpointUrl: string | null;
}

/**
 * Inserts letters whose task has no row yet, with their `stored` audit entries, in one
 * statement: the rows and their audit commit together (a statement is atomic) without the
 * round trips of a transaction, and a burst of letters costs one. Resolves with the letter id
 * of each task it inserted; a task that already has a row (a later death, a redelivery) is
 * absent, for `storeLetter` to merge.
 */
/** A letter's row as first stored: open, with everything the letter carries. */
export function newLetterRow(
  id: string,
  letter: IncomingLetter,
  endpointUrl: string | null,
  now: Date,
): NewDeadLetterRow {
  return {
    id,
    task_id: letter.taskId,
    event_id: letter.eventId,
    event_type: letter.eventType,
    endpoint_id: letter.endpointId,
    tenant_id: letter.tenantId,
    endpoint_url: endpointUrl,
    reason: letter.reason,
    status: "open",
    attempt_count: letter.attemptCount,
    last_status: letter.lastStatus,
    last_error: letter.lastError,
    created_at: letter.createdAt,
    dead_at: letter.deadAt,
    body: letter.body,
    headers: JSON.stringify(letter.headers),
    attempts: JSON.stringify(letter.attempts),
    updated_at: now,
  };
}

export async function insertNewLetters(
  db: Kysely<Database>,
  letters: readonly NewLetter[],
  now: Date,
): Promise<Map<string, string>> {
  const idOfTask = new Map<string, string>();
  const taskOfId = new Map<string, string>();
  const rows = letters.map(({ letter, endpointUrl }) => {
    const id = newDeadLetterId(letter.deadAt.getTime());
    taskOfId.set(id, letter.taskId);
    return newLetterRow(id, letter, endpointUrl, now);
  });
  if (rows.length === 0) return idOfTask;
  const audited = await db
    .with("stored", (q) =>
      q
        .insertInto("dead_letters")
        .values(rows)
        .onConflict((conflict) => conflict.column("task_id").doNothing())
        .returning(["id", "reason"]),
    )
    .insertInto("dead_letter_audit")
    .columns(["dead_letter_id", "action", "actor", "at", "details"])
    .expression((eb) =>
      eb
        .selectFrom("stored")
        .select([
          "stored.id",
          sql<string>`'stored'`.as("action"),
          sql<string>`${STORE_ACTOR}::text`.as("actor"),
          sql<Date>`${now}::timestamptz`.as("at"),
          sql<string>`jsonb_build_object('reason', stored.reason)`.as("details"),
        ]),
    )
    .returning("dead_letter_id")
    .execute();
  for (const { dead_letter_id: id } of audited) {
    const taskId = taskOfId.get(id);
    if (taskId !== undefined) idOfTask.set(taskId, id);
  }
  return idOfTask;
}
