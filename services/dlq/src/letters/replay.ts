import { type AttemptRecord, encodeTask, type HooklineNames } from "@hookline/contracts";
import type { Logger } from "@hookline/kit";
import type { JetStreamClient } from "@nats-io/jetstream";
import type { Kysely, Transaction } from "kysely";
import type { Database, DeadLetterRow, DeadLetterStatus } from "../db/schema";
import type { DlqMetrics } from "../metrics";
import { recordAudit } from "./audit";
import { countMatching, isReplayable, type LetterFilter, matchesFilter } from "./filter";
import { isDeadLetterId } from "./letter-id";
import { BULK_BATCH_SIZE, type BulkOutcome } from "./settle";

export type NatsUnavailable = { outcome: "unavailable"; dependency: "nats"; done: number };

export type ReplayOutcome =
  | { outcome: "replayed"; letter: DeadLetterRow }
  | { outcome: "not_found" }
  /** Only open letters are replayed; a replayed one comes back open if it dies again. */
  | { outcome: "conflict"; status: DeadLetterStatus }
  | { outcome: "not_replayable"; detail: string }
  | NatsUnavailable;

export interface LetterReplayer {
  replay(id: string, by: { actor: string; note?: string | undefined }): Promise<ReplayOutcome>;
  /** Replays open letters matching the filter, oldest first, in batches. */
  replayMatching(
    filter: LetterFilter,
    limit: number,
    by: { actor: string; note?: string | undefined },
  ): Promise<BulkOutcome | NatsUnavailable>;
}

export interface LetterReplayerOptions {
  db: Kysely<Database>;
  js: JetStreamClient;
  names: HooklineNames;
  metrics: DlqMetrics;
  logger: Logger;
  /** A replayed task may be retried this long (`Hookline-Deadline` = now + this). */
  taskDeadlineMs: number;
  publishTimeoutMs?: number;
  now?: () => number;
}

const DEFAULT_PUBLISH_TIMEOUT_MS = 5_000;

type ReplayableRow = DeadLetterRow & { endpoint_id: string; event_id: string; event_type: string };

function replayableRow(row: DeadLetterRow): ReplayableRow | undefined {
  if (row.reason === "invalid_message") return undefined;
  if (row.endpoint_id === null || row.event_id === null || row.event_type === null) {
    return undefined;
  }
  return row as ReplayableRow;
}

/**
 * Replays publish the stored body to `dispatch.retry.<ep>` as a fresh task (attempt 0, no
 * deferrals, a new deadline) that keeps its history and names its letter in
 * `Hookline-Replay-Of`. The row stays locked from the check until it is marked, so a concurrent
 * resolve or replay waits and then sees `replayed`. The PubAck comes before the mark: if marking
 * fails, a retried replay publishes the same `<taskId>#replay<n>` id, which JetStream drops as a
 * duplicate within its window.
 */
export function createLetterReplayer(options: LetterReplayerOptions): LetterReplayer {
  const { db, js, names, metrics, logger } = options;
  const clock = options.now ?? Date.now;
  const timeout = options.publishTimeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS;

  const publish = async (row: ReplayableRow, at: number) => {
    const replay = row.replay_count + 1;
    const headers = encodeTask(
      {
        taskId: row.task_id,
        eventId: row.event_id,
        eventType: row.event_type,
        endpointId: row.endpoint_id,
        tenantId: row.tenant_id,
        attempt: 0,
        deferrals: 0,
        createdAt: row.created_at.getTime(),
        deadline: at + options.taskDeadlineMs,
        history: row.attempts as AttemptRecord[],
        replayOf: row.id,
      },
      `${row.task_id}#replay${replay}`,
    );
    const ack = await js.publish(names.subjects.dispatchRetry(row.endpoint_id), row.body, {
      headers,
      timeout,
    });
    return { replay, seq: ack.seq, duplicate: ack.duplicate };
  };

  const markReplayed = async (
    trx: Transaction<Database>,
    published: { row: ReplayableRow; replay: number; seq: number }[],
    by: { actor: string; note?: string | undefined },
    at: Date,
    bulk: boolean,
  ) => {
    const updated = await trx
      .updateTable("dead_letters")
      .set((eb) => ({
        status: "replayed",
        replay_count: eb("replay_count", "+", 1),
        note: by.note === undefined ? eb.ref("note") : eb.val(by.note),
        updated_at: at,
      }))
      .where(
        "id",
        "in",
        published.map(({ row }) => row.id),
      )
      .returningAll()
      .execute();
    await recordAudit(
      trx,
      published.map(({ row, replay, seq }) => ({
        deadLetterId: row.id,
        action: "replayed" as const,
        actor: by.actor,
        note: by.note,
        at,
        details: {
          replay,
          subject: names.subjects.dispatchRetry(row.endpoint_id),
          streamSeq: seq,
          ...(bulk ? { bulk: true } : {}),
        },
      })),
    );
    return updated;
  };

  return {
    async replay(id, by) {
      if (!isDeadLetterId(id)) return { outcome: "not_found" };
      const outcome = await db.transaction().execute(async (trx): Promise<ReplayOutcome> => {
        const row = await trx
          .selectFrom("dead_letters")
          .selectAll()
          .where("id", "=", id)
          .forUpdate()
          .executeTakeFirst();
        if (row === undefined) return { outcome: "not_found" };
        if (row.status !== "open") return { outcome: "conflict", status: row.status };
        const replayable = replayableRow(row);
        if (replayable === undefined) {
          return {
            outcome: "not_replayable",
            detail:
              "this letter holds an invalid message (no task to rebuild: no endpoint, event id " +
              "or event type); resolve or discard it instead",
          };
        }
        const at = clock();
        let published: Awaited<ReturnType<typeof publish>>;
        try {
          published = await publish(replayable, at);
        } catch (error) {
          logger.warn({ err: error, deadLetterId: id }, "replay publish failed");
          return { outcome: "unavailable", dependency: "nats", done: 0 };
        }
        const [letter] = await markReplayed(
          trx,
          [{ row: replayable, ...published }],
          by,
          new Date(at),
          false,
        );
        if (letter === undefined) throw new Error(`dead letter ${id} vanished while locked`);
        return { outcome: "replayed", letter };
      });
      // Counted once committed.
      if (outcome.outcome === "replayed") metrics.actions.inc({ action: "replayed" });
      return outcome;
    },

    async replayMatching(filter, limit, by) {
      const matched = await countMatching(db, filter, isReplayable, limit);
      let done = 0;
      let seen = 0;
      // Oldest first; the position only moves forward, so a letter whose publish failed is
      // not picked again by this call.
      let after: { deadAt: Date; id: string } | undefined;
      while (seen < matched) {
        const batch = Math.min(BULK_BATCH_SIZE, matched - seen);
        const round = await db.transaction().execute(async (trx) => {
          let query = trx
            .selectFrom("dead_letters")
            .selectAll()
            .where((eb) => matchesFilter(eb, filter))
            .where(isReplayable);
          if (after !== undefined) {
            const position = after;
            query = query.where((eb) =>
              eb(eb.refTuple("dead_at", "id"), ">", eb.tuple(position.deadAt, position.id)),
            );
          }
          const rows = await query
            .orderBy("dead_at", "asc")
            .orderBy("id", "asc")
            .limit(batch)
            .forUpdate()
            .skipLocked()
            .execute();
          const at = clock();
          const replayable = rows.flatMap((row) => replayableRow(row) ?? []);
          // Every PubAck of the batch awaited together.
          const settled = await Promise.allSettled(replayable.map((row) => publish(row, at)));
          const published = replayable.flatMap((row, index) => {
            const result = settled[index];
            return result?.status === "fulfilled" ? [{ row, ...result.value }] : [];
          });
          const failure = settled.find((result) => result.status === "rejected");
          if (failure !== undefined) {
            logger.warn(
              { err: failure.reason, failed: replayable.length - published.length },
              "bulk replay publish failed",
            );
          }
          if (published.length > 0) await markReplayed(trx, published, by, new Date(at), true);
          const last = rows.at(-1);
          return {
            picked: rows.length,
            replayed: published.length,
            failed: failure !== undefined,
            last: last === undefined ? undefined : { deadAt: last.dead_at, id: last.id },
          };
        });
        done += round.replayed;
        metrics.actions.inc({ action: "replayed" }, round.replayed);
        if (round.failed) return { outcome: "unavailable", dependency: "nats", done };
        if (round.picked === 0 || round.last === undefined) break;
        seen += round.picked;
        after = round.last;
      }
      return { outcome: "done", matched, done };
    },
  };
}
