import type { Expression, ExpressionBuilder, SqlBool } from "kysely";
import type { Database } from "../db/schema";

/** What the attempt list selects by. `since` is inclusive, `until` exclusive (attempted_at). */
export interface AttemptFilter {
  tenantId?: string | undefined;
  eventId?: string | undefined;
  endpointId?: string | undefined;
  result?: string | undefined;
  status?: number | undefined;
  since?: Date | undefined;
  until?: Date | undefined;
}

type AttemptsBuilder = ExpressionBuilder<Database, "attempts">;

/**
 * The filter as one `where` condition on `attempts`. The time bounds are plain comparisons on
 * the partition key, so Postgres skips the day partitions outside them.
 */
export function matchesAttemptFilter(
  eb: AttemptsBuilder,
  filter: AttemptFilter,
): Expression<SqlBool> {
  const conditions: Expression<SqlBool>[] = [];
  if (filter.tenantId !== undefined) conditions.push(eb("tenant_id", "=", filter.tenantId));
  if (filter.eventId !== undefined) conditions.push(eb("event_id", "=", filter.eventId));
  if (filter.endpointId !== undefined) conditions.push(eb("endpoint_id", "=", filter.endpointId));
  if (filter.result !== undefined) conditions.push(eb("result", "=", filter.result));
  if (filter.status !== undefined) conditions.push(eb("status", "=", filter.status));
  if (filter.since !== undefined) conditions.push(eb("attempted_at", ">=", filter.since));
  if (filter.until !== undefined) conditions.push(eb("attempted_at", "<", filter.until));
  return eb.and(conditions);
}
