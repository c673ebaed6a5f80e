import { type DeadLetterReason, deadLetterReasons } from "@hookline/contracts";
import { type Kysely, sql } from "kysely";
import { type Database, type DeadLetterStatus, deadLetterStatuses } from "../db/schema";
import { type LetterFilter, matchesFilter } from "./filter";

export interface LetterStats {
  byStatus: Record<DeadLetterStatus, number>;
  byReason: Record<DeadLetterReason, number>;
  byEndpoint: Record<string, number>;
  byEventType: Record<string, number>;
  /** Only when asked for (`groupBy: ["tenant"]`): one more grouping most callers don't need. */
  byTenant?: Record<string, number>;
}

/** Groupings beyond the four every stats answer has. */
export const statGroupings = ["tenant"] as const;
export type StatGrouping = (typeof statGroupings)[number];

/** Endpoints, event types and tenants are open-ended: the largest groups only. */
export const MAX_STAT_GROUPS = 1_000;

const zeros = <K extends string>(keys: readonly K[]) =>
  Object.fromEntries(keys.map((key) => [key, 0])) as Record<K, number>;

/**
 * Counts by status, reason, endpoint and event type (and tenant, when `groupBy` has it), over
 * the letters the filter selects. Letters without an endpoint or event type (invalid messages)
 * appear in the first two only; every letter has a tenant.
 */
export async function letterStats(
  db: Kysely<Database>,
  filter: LetterFilter = {},
  groupBy: readonly StatGrouping[] = [],
): Promise<LetterStats> {
  const count = sql<number>`count(*)::int`.as("count");
  const base = db.selectFrom("dead_letters").where((eb) => matchesFilter(eb, filter));
  const [statuses, reasons, endpoints, eventTypes, tenants] = await Promise.all([
    base.select(["status as key", count]).groupBy("status").execute(),
    base.select(["reason as key", count]).groupBy("reason").execute(),
    base
      .select(["endpoint_id as key", count])
      .where("endpoint_id", "is not", null)
      .groupBy("endpoint_id")
      .orderBy("count", "desc")
      .limit(MAX_STAT_GROUPS)
      .execute(),
    base
      .select(["event_type as key", count])
      .where("event_type", "is not", null)
      .groupBy("event_type")
      .orderBy("count", "desc")
      .limit(MAX_STAT_GROUPS)
      .execute(),
    groupBy.includes("tenant")
      ? base
          .select(["tenant_id as key", count])
          .groupBy("tenant_id")
          .orderBy("count", "desc")
          .limit(MAX_STAT_GROUPS)
          .execute()
      : undefined,
  ]);
  const grouped = <K extends string>(
    into: Record<K, number>,
    rows: { key: K | null; count: number }[],
  ) => {
    for (const row of rows) if (row.key !== null) into[row.key] = row.count;
    return into;
  };
  const stats: LetterStats = {
    byStatus: grouped(zeros(deadLetterStatuses), statuses),
    byReason: grouped(zeros(deadLetterReasons), reasons),
    byEndpoint: grouped<string>({}, endpoints),
    byEventType: grouped<string>({}, eventTypes),
  };
  if (tenants !== undefined) stats.byTenant = grouped<string>({}, tenants);
  return stats;
}

/** The cheap count behind the `hookline_dead_letters{status}` gauge. */
export async function countByStatus(
  db: Kysely<Database>,
): Promise<Record<DeadLetterStatus, number>> {
  const rows = await db
    .selectFrom("dead_letters")
    .select(["status", sql<number>`count(*)::int`.as("count")])
    .groupBy("status")
    .execute();
  const counts = zeros(deadLetterStatuses);
  for (const row of rows) counts[row.status] = row.count;
  return counts;
}
