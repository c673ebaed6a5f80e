import { type Kysely, sql } from "kysely";
import type { Database } from "../db/schema";

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
