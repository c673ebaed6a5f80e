import { type Kysely, sql } from "kysely";
import type { Database, NewAttemptRow } from "../db/schema";

/**
 * For tests: partitions that take any day. The day partitions are the attempt log's to create
 * (attempt-log/partitions.ts); fixture rows need somewhere to go without it.
 */
export async function createDefaultPartitions(db: Kysely<Database>): Promise<void> {
  await sql`create table if not exists attempts_default partition of attempts default`.execute(db);
  await sql`
    create table if not exists event_bodies_default partition of event_bodies default
  `.execute(db);
}

let sequence = 0;

/** An attempt row as the attempt log stores it; a delivered first attempt unless overridden. */
export function attemptRow(
  overrides: Partial<NewAttemptRow> & Pick<NewAttemptRow, "attempted_at">,
): NewAttemptRow {
  sequence++;
  const endpointId = overrides.endpoint_id ?? "ep_01JD8Z6Q3V4W5X6Y7Z8A9B0001";
  const eventId = overrides.event_id ?? `evt_stats_${sequence}`;
  return {
    attempt_id: `${eventId}:${endpointId}#1@${sequence}`,
    tenant_id: "default",
    event_id: eventId,
    event_type: "order.created",
    endpoint_id: endpointId,
    task_id: `${eventId}:${endpointId}`,
    attempt: 1,
    result: "delivered",
    status: 200,
    error: null,
    response_body: null,
    duration_ms: 100,
    replay_of: null,
    decision: null,
    next_attempt_at: null,
    reason: null,
    event_created_at: new Date(overrides.attempted_at.getTime() - 1_000),
    ...overrides,
  };
}

export async function insertAttempts(db: Kysely<Database>, rows: NewAttemptRow[]): Promise<void> {
  if (rows.length > 0) await db.insertInto("attempts").values(rows).execute();
}
