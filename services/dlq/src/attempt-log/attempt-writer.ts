import { type Kysely, sql } from "kysely";
import type { DatabaseLink } from "../db/connection";
import type { Database, NewAttemptRow } from "../db/schema";
import { numberArray, textArray } from "./array-literals";
import { BinaryCopyWriter } from "./copy-binary";
import { DAY_MS } from "./partitions";

/** What the log writes with: Kysely, and COPY on a pooled connection. */
export type AttemptLogDatabase = Pick<DatabaseLink, "db" | "copyIn">;

/** How a batch went in: by COPY, or (it held something already stored) by INSERT. */
export type AttemptsWritten = "copied" | "inserted";

/**
 * Writes a batch of attempt rows, each event's body on the row that brought it (`row.body`).
 * First by binary COPY, the cheapest way into Postgres (no statement to plan, no arrays to
 * unpack, rows inserted in bulk). COPY cannot skip a row that is already there: when the batch
 * holds one (a record delivered again after a crash between writing and acking), the COPY fails
 * as a whole and the batch is written again with `insertAttempts`, which leaves what is stored
 * as it is.
 */
export async function writeAttempts(
  database: AttemptLogDatabase,
  rows: readonly NewAttemptRow[],
): Promise<AttemptsWritten> {
  if (rows.length === 0) return "copied";
  try {
    await database.copyIn([{ statement: COPY_ATTEMPTS, data: attemptsCopyData(rows) }]);
    return "copied";
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
  }
  await insertAttempts(database.db, rows);
  return "inserted";
}

const ATTEMPT_COLUMNS =
  "attempted_at, attempt_id, tenant_id, event_id, event_type, endpoint_id, task_id, attempt, " +
  "result, status, error, response_body, duration_ms, replay_of, decision, next_attempt_at, " +
  "reason, event_created_at, body";
const COPY_ATTEMPTS = `copy attempts (${ATTEMPT_COLUMNS}) from stdin (format binary)`;

/** The rows in COPY_ATTEMPTS's column order. */
function attemptsCopyData(rows: readonly NewAttemptRow[]): Buffer {
  let bytes = 0;
  for (const row of rows) bytes += 512 + (row.body?.byteLength ?? 0);
  const copy = new BinaryCopyWriter(bytes);
  for (const row of rows) {
    copy.tuple(19);
    copy.timestamp(row.attempted_at.getTime());
    copy.text(row.attempt_id);
    copy.text(row.tenant_id);
    copy.text(row.event_id);
    copy.text(row.event_type);
    copy.text(row.endpoint_id);
    copy.text(row.task_id);
    copy.int4(row.attempt);
    copy.text(row.result);
    copy.int4(row.status);
    copy.text(row.error);
    copy.text(row.response_body);
    copy.int4(row.duration_ms);
    copy.text(row.replay_of);
    copy.text(row.decision);
    copy.timestamp(row.next_attempt_at?.getTime());
    copy.text(row.reason);
    copy.timestamp(row.event_created_at.getTime());
    copy.bytes(row.body);
  }
  return copy.finish();
}

function isUniqueViolation(error: unknown): boolean {
  return error instanceof Error && (error as { code?: unknown }).code === UNIQUE_VIOLATION;
}
const UNIQUE_VIOLATION = "23505";

/**
 * Writes a batch of attempt rows in ONE statement whatever its size: each column travels as one
 * array parameter (unnest), so there is one round trip, one plan, and no parameter limit
 * (65,535) to split batches at. A row already stored (a record delivered again) is left as it
 * is. Times travel as epoch milliseconds, made timestamps by float8 division (exact to the
 * microsecond at these magnitudes): pg's Date formatting, numeric division or printing
 * fractions cost more than a row's text. The bodies travel as ONE bytea parameter, which pg
 * sends in binary, cut apart by offsets (null offsets give null): as a bytea[] literal each
 * body would be hex text for Postgres to parse, which cost more than the rest of the row.
 */
export async function insertAttempts(
  db: Kysely<Database>,
  rows: readonly NewAttemptRow[],
): Promise<void> {
  if (rows.length === 0) return;
  const column = <T>(value: (row: NewAttemptRow) => T): T[] => rows.map(value);
  const ms = (date: Date) => date.getTime();
  const { blob, starts, lengths } = concatenated(rows.map((row) => row.body));
  await sql`
    insert into attempts (
      attempted_at, attempt_id, tenant_id, event_id, event_type, endpoint_id, task_id, attempt,
      result, status, error, response_body, duration_ms, replay_of, decision, next_attempt_at,
      reason, event_created_at, body
    )
    select
      to_timestamp(r.attempted_at::float8 / 1000), r.attempt_id, r.tenant_id, r.event_id, r.event_type,
      r.endpoint_id, r.task_id, r.attempt, r.result, r.status, r.error, r.response_body,
      r.duration_ms, r.replay_of, r.decision, to_timestamp(r.next_attempt_at::float8 / 1000), r.reason,
      to_timestamp(r.event_created_at::float8 / 1000),
      substring(${blob}::bytea from r.body_start for r.body_length)
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
      ${numberArray(column((row) => ms(row.event_created_at)))}::int8[],
      ${numberArray(starts)}::int4[],
      ${numberArray(lengths)}::int4[]
    ) as r(
      attempted_at, attempt_id, tenant_id, event_id, event_type, endpoint_id, task_id, attempt,
      result, status, error, response_body, duration_ms, replay_of, decision, next_attempt_at,
      reason, event_created_at, body_start, body_length
    )
    on conflict do nothing
  `.execute(db);
}

/**
 * The bodies one after the other, with each one's 1-based start (SQL substring's) and length;
 * null for a row without one.
 */
function concatenated(bodies: readonly (Uint8Array | null | undefined)[]) {
  const starts: (number | null)[] = [];
  const lengths: (number | null)[] = [];
  const present: Uint8Array[] = [];
  let start = 1;
  for (const body of bodies) {
    if (body == null) {
      starts.push(null);
      lengths.push(null);
      continue;
    }
    present.push(body);
    starts.push(start);
    lengths.push(body.byteLength);
    start += body.byteLength;
  }
  return { blob: Buffer.concat(present), starts, lengths };
}

/** What identifies an event's body: the event (tenant, id) and when ingest accepted it. */
export const bodyKey = (row: NewAttemptRow): string =>
  keyOfBody(row.tenant_id, row.event_id, row.event_created_at.getTime());
const keyOfBody = (tenantId: string, eventId: string, createdAt: number) =>
  `${tenantId}\n${eventId}\n${createdAt}`;

/**
 * The earliest attempted_at of the row that brought an event's body: it is no older than the
 * event, less a day's margin for clocks (ingest's and delivery's). Searches skip partitions
 * before it.
 */
export const earliestBodyRowAt = (eventCreatedMs: number): number => eventCreatedMs - DAY_MS;

/**
 * The bodyKeys of these rows' events whose body is stored already: on an attempt row, or in
 * event_bodies (bodies written before migration 0005). Each event is looked up by its index
 * entry (attempts by event, event_bodies by key); attempt rows from earliestBodyRowAt of the
 * oldest event on are searched.
 */
export async function storedBodyKeys(
  db: Kysely<Database>,
  rows: readonly NewAttemptRow[],
): Promise<Set<string>> {
  if (rows.length === 0) return new Set();
  let oldest = Number.POSITIVE_INFINITY;
  for (const row of rows) oldest = Math.min(oldest, row.event_created_at.getTime());
  const tenants = textArray(rows.map((row) => row.tenant_id));
  const events = textArray(rows.map((row) => row.event_id));
  const { rows: found } = await sql<{ tenant_id: string; event_id: string; created_ms: string }>`
    with k as (
      select distinct tenant_id, event_id from unnest(${tenants}::text[], ${events}::text[])
        as k(tenant_id, event_id)
    )
    select a.tenant_id, a.event_id,
      (extract(epoch from a.event_created_at) * 1000)::int8::text as created_ms
    from k join attempts a using (event_id, tenant_id)
    where a.attempted_at >= to_timestamp(${earliestBodyRowAt(oldest)}::float8 / 1000) and a.body is not null
    union
    select b.tenant_id, b.event_id, (extract(epoch from b.created_at) * 1000)::int8::text
    from k join event_bodies b using (tenant_id, event_id)
  `.execute(db);
  return new Set(
    found.map((row) => keyOfBody(row.tenant_id, row.event_id, Number(row.created_ms))),
  );
}
