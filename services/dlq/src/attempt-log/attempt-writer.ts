import { type Kysely, sql } from "kysely";
import type { Database, NewAttemptRow } from "../db/schema";
import { numberArray, textArray } from "./array-literals";

/** An event's body as `event_bodies` keeps it (created_at is the event's). */
export interface EventBody {
  tenantId: string;
  eventId: string;
  createdAt: Date;
  eventType: string;
  body: Uint8Array;
}

/**
 * Writes a batch of attempt rows and event bodies in ONE statement whatever its size: each
 * column travels as one array parameter (unnest), so there is one round trip, one plan, and no
 * parameter limit (65,535) to split batches at. A row or body already stored (a record delivered
 * again) is left as it is. Times travel as epoch milliseconds, made timestamps by float8
 * division (exact to the microsecond at these magnitudes): pg's Date formatting, numeric
 * division or printing fractions cost more than a row's text.
 */
export async function writeAttempts(
  db: Kysely<Database>,
  rows: readonly NewAttemptRow[],
  bodies: readonly EventBody[],
): Promise<void> {
  if (rows.length === 0 && bodies.length === 0) return;
  const column = <T>(value: (row: NewAttemptRow) => T): T[] => rows.map(value);
  const ms = (date: Date) => date.getTime();
  const insertAttempts = sql`
    insert into attempts (
      attempted_at, attempt_id, tenant_id, event_id, event_type, endpoint_id, task_id, attempt,
      result, status, error, response_body, duration_ms, replay_of, decision, next_attempt_at,
      reason, event_created_at
    )
    select
      to_timestamp(r.attempted_at::float8 / 1000), r.attempt_id, r.tenant_id, r.event_id, r.event_type,
      r.endpoint_id, r.task_id, r.attempt, r.result, r.status, r.error, r.response_body,
      r.duration_ms, r.replay_of, r.decision, to_timestamp(r.next_attempt_at::float8 / 1000), r.reason,
      to_timestamp(r.event_created_at::float8 / 1000)
    from unnest(
      ${numberArray(column((row) => ms(row.attempted_at)))}::int8[],
      ${textArray(column((row) => row.attempt_id))}::text[],
      ${textArray(column((row) => row.tenant_id))}::text[],
      ${textArray(column((row) => row.event_id))}::text[],
      ${textArray(column((row) => row.event_type))}::text[],
      ${textArray(column((row) => row.endpoint_id))}::text[],
      ${textArray(column((row) => row.task_id))}::text[],
      ${numberArray(column((row) => row.attempt))}::int4[],
      ${textArray(column((row) => row.result))}::text[],
      ${numberArray(column((row) => row.status))}::int4[],
      ${textArray(column((row) => row.error))}::text[],
      ${textArray(column((row) => row.response_body))}::text[],
      ${numberArray(column((row) => row.duration_ms))}::int4[],
      ${textArray(column((row) => row.replay_of))}::text[],
      ${textArray(column((row) => row.decision))}::text[],
      ${numberArray(column((row) => (row.next_attempt_at == null ? null : ms(row.next_attempt_at))))}::int8[],
      ${textArray(column((row) => row.reason))}::text[],
      ${numberArray(column((row) => ms(row.event_created_at)))}::int8[]
    ) as r(
      attempted_at, attempt_id, tenant_id, event_id, event_type, endpoint_id, task_id, attempt,
      result, status, error, response_body, duration_ms, replay_of, decision, next_attempt_at,
      reason, event_created_at
    )
    on conflict do nothing
  `;
  const unique = uniqueBodies(bodies);
  if (unique.length === 0) {
    await insertAttempts.execute(db);
    return;
  }
  // The bodies travel as ONE bytea parameter, which pg sends in binary, cut apart by offsets:
  // as a bytea[] literal each body would be hex text for Postgres to parse, which cost more
  // than the rest of the row. A data-modifying WITH runs to completion whether or not the
  // outer statement reads it.
  const { blob, starts, lengths } = concatenated(unique.map((body) => body.body));
  await sql`
    with logged as (${insertAttempts})
    insert into event_bodies (tenant_id, event_id, created_at, event_type, body)
    select b.tenant_id, b.event_id, to_timestamp(b.created_at::float8 / 1000), b.event_type,
      substring(${blob}::bytea from b.start for b.length)
    from unnest(
      ${textArray(unique.map((body) => body.tenantId))}::text[],
      ${textArray(unique.map((body) => body.eventId))}::text[],
      ${numberArray(unique.map((body) => ms(body.createdAt)))}::int8[],
      ${textArray(unique.map((body) => body.eventType))}::text[],
      ${numberArray(starts)}::int4[],
      ${numberArray(lengths)}::int4[]
    ) as b(tenant_id, event_id, created_at, event_type, start, length)
    on conflict do nothing
  `.execute(db);
}

/** The bodies one after the other, with each one's 1-based start (SQL substring's) and length. */
function concatenated(bodies: readonly Uint8Array[]) {
  const starts: number[] = [];
  const lengths: number[] = [];
  let start = 1;
  for (const body of bodies) {
    starts.push(start);
    lengths.push(body.byteLength);
    start += body.byteLength;
  }
  return { blob: Buffer.concat(bodies), starts, lengths };
}

/** Each event's body once: every task of an event carries the same one. */
function uniqueBodies(bodies: readonly EventBody[]): readonly EventBody[] {
  if (bodies.length < 2) return bodies;
  const seen = new Set<string>();
  const unique: EventBody[] = [];
  for (const body of bodies) {
    const key = `${body.tenantId}\n${body.eventId}\n${body.createdAt.getTime()}`;
    if (seen.has(key)) continue;
    seen.add(key);
    unique.push(body);
  }
  return unique;
}
