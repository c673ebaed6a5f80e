import { type Kysely, sql } from "kysely";
import type { Database } from "../db/schema";
import type { EndpointAttempts } from "./ops-events";

/** Open dead letters outside the system tenant (an operator endpoint's own are left out). */
export async function countOpenLetters(db: Kysely<Database>, systemTenantId: string) {
  const row = await db
    .selectFrom("dead_letters")
    .select(sql<number>`count(*)::int`.as("open"))
    .where("status", "=", "open")
    .where("tenant_id", "<>", systemTenantId)
    .executeTakeFirst();
  return row?.open ?? 0;
}

/**
 * Each endpoint's attempts and failed attempts since `since`, of endpoints with at least
 * `minAttempts` (so that 1 failure of 2 is not 50 %). The time bound prunes the day partitions
 * and walks the primary key; system-tenant endpoints are left out.
 */
export async function readEndpointAttempts(
  db: Kysely<Database>,
  options: { since: Date; minAttempts: number; systemTenantId: string },
): Promise<EndpointAttempts[]> {
  const rows = await db
    .selectFrom("attempts")
    .select([
      "endpoint_id",
      sql<string>`min(tenant_id)`.as("tenant_id"),
      sql<number>`count(*)::int`.as("attempts"),
      sql<number>`(count(*) filter (where result <> 'delivered'))::int`.as("failed"),
    ])
    .where("attempted_at", ">=", options.since)
    .where("tenant_id", "<>", options.systemTenantId)
    .groupBy("endpoint_id")
    .having(sql`count(*)`, ">=", options.minAttempts)
    .execute();
  return rows.map((row) => ({
    endpointId: row.endpoint_id,
    tenantId: row.tenant_id,
    attempts: row.attempts,
    failed: row.failed,
  }));
}
