import type { Kysely } from "kysely";
import type { Database, DeadLetterRow, DeadLetterStatus } from "../db/schema";
import { recordAudit, STORE_ACTOR } from "../letters/audit";
import { newDeadLetterId } from "../letters/letter-id";
import { type IncomingLetter, mergeAttempts } from "./incoming";
import { newLetterRow } from "./new-letters";

export type StoreOutcome =
  /** A new row. */
  | { outcome: "stored"; id: string }
  /** A later death of a stored task (typically after a replay): the row is open again. */
  | { outcome: "died_again"; id: string; previousStatus: DeadLetterStatus }
  /** An earlier death arriving late: only its unseen attempts were added to the history. */
  | { outcome: "history_merged"; id: string }
  /** A redelivery of a letter already stored: nothing changed. */
  | { outcome: "duplicate"; id: string };

type StoredState = Pick<DeadLetterRow, "id" | "status" | "dead_at" | "reason" | "attempt_count">;

/**
 * A later death, not a copy of the stored one: it reached the stream after the stored death
 * (a redelivery carries the same JetStream timestamp) and it tells something new: attempts not
 * seen yet, another reason or attempt count, or it comes from replaying this very letter. A
 * second publish of the same death (same attempts, reason and count) changes nothing.
 */
function diedAgain(existing: StoredState, letter: IncomingLetter, newAttempts: number): boolean {
  if (letter.deadAt.getTime() <= existing.dead_at.getTime()) return false;
  if (existing.status === "replayed" && letter.replayOf === existing.id) return true;
  return (
    newAttempts > 0 ||
    letter.reason !== existing.reason ||
    letter.attemptCount !== existing.attempt_count
  );
}

export interface StoreOptions {
  /** The endpoint's URL from the endpoint cache, when it knows the endpoint. */
  endpointUrl: string | null;
  now: Date;
}

/**
 * Upserts a letter by task id in one transaction. A redelivered message changes nothing, so
 * JetStream's at-least-once delivery never duplicates a row. A later death of the same task
 * reopens the row, appends the attempts it has not seen (by `n` and `at`) and takes the newer
 * reason, time, body, headers and last result; `replay_count` stays as it is. An earlier death
 * processed late only adds its unseen attempts.
 */
export function storeLetter(
  db: Kysely<Database>,
  letter: IncomingLetter,
  options: StoreOptions,
): Promise<StoreOutcome> {
  const { now } = options;
  return db.transaction().execute(async (trx) => {
    // Twice at most: an insert that loses a race to a concurrent one merges into its row.
    for (let round = 0; round < 2; round++) {
      const existing = await trx
        .selectFrom("dead_letters")
        .select(["id", "status", "dead_at", "attempts", "replay_count", "reason", "attempt_count"])
        .where("task_id", "=", letter.taskId)
        .forUpdate()
        .executeTakeFirst();

      if (existing === undefined) {
        const inserted = await trx
          .insertInto("dead_letters")
          .values(
            newLetterRow(
              newDeadLetterId(letter.deadAt.getTime()),
              letter,
              options.endpointUrl,
              now,
            ),
          )
          .onConflict((conflict) => conflict.column("task_id").doNothing())
          .returning("id")
          .executeTakeFirst();
        if (inserted === undefined) continue;
        await recordAudit(trx, [
          {
            deadLetterId: inserted.id,
            action: "stored",
            actor: STORE_ACTOR,
            at: now,
            details: {
              reason: letter.reason,
              ...(letter.invalid ? { error: letter.invalid } : {}),
            },
          },
        ]);
        return { outcome: "stored", id: inserted.id };
      }

      const attempts = mergeAttempts(existing.attempts, letter.attempts);
      const newAttempts = attempts.length - existing.attempts.length;
      if (!diedAgain(existing, letter, newAttempts)) {
        if (newAttempts === 0) return { outcome: "duplicate", id: existing.id };
        await trx
          .updateTable("dead_letters")
          .set({ attempts: JSON.stringify(attempts), updated_at: now })
          .where("id", "=", existing.id)
          .execute();
        return { outcome: "history_merged", id: existing.id };
      }

      await trx
        .updateTable("dead_letters")
        .set((eb) => ({
          status: "open",
          reason: letter.reason,
          attempt_count: letter.attemptCount,
          last_status: letter.lastStatus,
          last_error: letter.lastError,
          dead_at: letter.deadAt,
          body: letter.body,
          headers: JSON.stringify(letter.headers),
          attempts: JSON.stringify(attempts),
          event_id: eb.fn.coalesce(eb.val(letter.eventId), eb.ref("event_id")),
          event_type: eb.fn.coalesce(eb.val(letter.eventType), eb.ref("event_type")),
          endpoint_id: eb.fn.coalesce(eb.val(letter.endpointId), eb.ref("endpoint_id")),
          // A task's tenant never changes; an invalid letter's may be only the default guessed.
          tenant_id: letter.invalid === undefined ? eb.val(letter.tenantId) : eb.ref("tenant_id"),
          endpoint_url: eb.fn.coalesce(eb.val(options.endpointUrl), eb.ref("endpoint_url")),
          resolved_at: null,
          resolved_by: null,
          updated_at: now,
        }))
        .where("id", "=", existing.id)
        .execute();
      await recordAudit(trx, [
        {
          deadLetterId: existing.id,
          action: "died_again",
          actor: STORE_ACTOR,
          at: now,
          details: {
            previousStatus: existing.status,
            reason: letter.reason,
            newAttempts,
            replayCount: existing.replay_count,
          },
        },
      ]);
      return { outcome: "died_again", id: existing.id, previousStatus: existing.status };
    }
    throw new Error(`dead letter ${letter.taskId}: insert conflicted but no row was found`);
  });
}
