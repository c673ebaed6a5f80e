import type { Kysely } from "kysely";
import type { Database, DeadLetterRow, DeadLetterStatus } from "../db/schema";
import type { DlqMetrics } from "../metrics";
import { recordAudit } from "./audit";
import { countMatching, isSettleable, type LetterFilter, matchesFilter } from "./filter";
import { isDeadLetterId } from "./letter-id";

export type Settlement = "resolve" | "discard";
const settledStatus = { resolve: "resolved", discard: "discarded" } as const;

export type SettleOutcome =
  | { outcome: "settled"; letter: DeadLetterRow }
  | { outcome: "not_found" }
  | { outcome: "conflict"; status: DeadLetterStatus };

export type BulkOutcome = { outcome: "done"; matched: number; done: number };

export const BULK_BATCH_SIZE = 100;

export interface LetterSettler {
  settle(id: string, how: Settlement, by: { actor: string; note: string }): Promise<SettleOutcome>;
  /** Resolves open and replayed letters matching the filter, in batches. */
  resolveMatching(
    filter: LetterFilter,
    limit: number,
    by: { actor: string; note?: string | undefined },
  ): Promise<BulkOutcome>;
}

export function createLetterSettler(options: {
  db: Kysely<Database>;
  metrics: DlqMetrics;
  now?: () => number;
}): LetterSettler {
  const { db, metrics } = options;
  const now = () => new Date((options.now ?? Date.now)());

  return {
    async settle(id, how, by) {
      if (!isDeadLetterId(id)) return { outcome: "not_found" };
      const status = settledStatus[how];
      const at = now();
      const outcome = await db.transaction().execute(async (trx): Promise<SettleOutcome> => {
        const letter = await trx
          .updateTable("dead_letters")
          .set({ status, resolved_at: at, resolved_by: by.actor, note: by.note, updated_at: at })
          .where("id", "=", id)
          .where(isSettleable)
          .returningAll()
          .executeTakeFirst();
        if (letter === undefined) {
          const current = await trx
            .selectFrom("dead_letters")
            .select("status")
            .where("id", "=", id)
            .executeTakeFirst();
          return current === undefined
            ? { outcome: "not_found" }
            : { outcome: "conflict", status: current.status };
        }
        await recordAudit(trx, [
          { deadLetterId: id, action: status, actor: by.actor, note: by.note, at },
        ]);
        return { outcome: "settled", letter };
      });
      if (outcome.outcome === "settled") metrics.actions.inc({ action: status });
      return outcome;
    },

    async resolveMatching(filter, limit, by) {
      const matched = await countMatching(db, filter, isSettleable, limit);
      let done = 0;
      while (done < matched) {
        const at = now();
        const batch = Math.min(BULK_BATCH_SIZE, matched - done);
        const resolved = await db.transaction().execute(async (trx) => {
          const rows = await trx
            .updateTable("dead_letters")
            .set((eb) => ({
              status: "resolved",
              resolved_at: at,
              resolved_by: by.actor,
              note: by.note === undefined ? eb.ref("note") : eb.val(by.note),
              updated_at: at,
            }))
            .where("id", "in", (eb) =>
              eb
                .selectFrom("dead_letters")
                .select("id")
                .where((inner) => matchesFilter(inner, filter))
                .where(isSettleable)
                .orderBy("dead_at")
                .orderBy("id")
                .limit(batch)
                .forUpdate()
                .skipLocked(),
            )
            .returning("id")
            .execute();
          await recordAudit(
            trx,
            rows.map((row) => ({
              deadLetterId: row.id,
              action: "resolved" as const,
              actor: by.actor,
              note: by.note,
              at,
              details: { bulk: true },
            })),
          );
          return rows.length;
        });
        // Nothing left that another request isn't already changing.
        if (resolved === 0) break;
        done += resolved;
        metrics.actions.inc({ action: "resolved" }, resolved);
      }
      return { outcome: "done", matched, done };
    },
  };
}
