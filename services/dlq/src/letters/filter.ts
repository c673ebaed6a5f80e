import type { DeadLetterReason } from "@hookline/contracts";
import type { Expression, ExpressionBuilder, Kysely, SqlBool } from "kysely";
import type { Database, DeadLetterStatus } from "../db/schema";

/** What lists, stats and bulk actions select by. `from` is inclusive, `to` exclusive. */
export interface LetterFilter {
  status?: DeadLetterStatus | undefined;
  reason?: DeadLetterReason | undefined;
  endpointId?: string | undefined;
  eventType?: string | undefined;
  tenantId?: string | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
}

type LettersBuilder = ExpressionBuilder<Database, "dead_letters">;

/** The filter as one `where` condition on `dead_letters` (true when the filter is empty). */
export function matchesFilter(eb: LettersBuilder, filter: LetterFilter): Expression<SqlBool> {
  const conditions: Expression<SqlBool>[] = [];
  if (filter.status !== undefined) conditions.push(eb("status", "=", filter.status));
  if (filter.reason !== undefined) conditions.push(eb("reason", "=", filter.reason));
  if (filter.endpointId !== undefined) conditions.push(eb("endpoint_id", "=", filter.endpointId));
  if (filter.eventType !== undefined) conditions.push(eb("event_type", "=", filter.eventType));
  if (filter.tenantId !== undefined) conditions.push(eb("tenant_id", "=", filter.tenantId));
  if (filter.from !== undefined) conditions.push(eb("dead_at", ">=", filter.from));
  if (filter.to !== undefined) conditions.push(eb("dead_at", "<", filter.to));
  return eb.and(conditions);
}

/** Letters an operator may still resolve or discard: a replayed one may not have been delivered. */
export function isSettleable(eb: LettersBuilder): Expression<SqlBool> {
  return eb("status", "in", ["open", "replayed"]);
}

/** Open letters that know their task; invalid messages have nothing to replay. */
export function isReplayable(eb: LettersBuilder): Expression<SqlBool> {
  return eb.and([
    eb("status", "=", "open"),
    eb("reason", "!=", "invalid_message"),
    eb("endpoint_id", "is not", null),
    eb("event_id", "is not", null),
    eb("event_type", "is not", null),
  ]);
}

/** How many letters match, counting no further than `limit` (cheap on a large table). */
export async function countMatching(
  db: Kysely<Database>,
  filter: LetterFilter,
  eligible: (eb: LettersBuilder) => Expression<SqlBool>,
  limit: number,
): Promise<number> {
  const row = await db
    .selectFrom((qb) =>
      qb
        .selectFrom("dead_letters")
        .select("id")
        .where((eb) => matchesFilter(eb, filter))
        .where(eligible)
        .limit(limit)
        .as("matching"),
    )
    .select((eb) => eb.fn.countAll().as("count"))
    .executeTakeFirstOrThrow();
  return Number(row.count);
}
