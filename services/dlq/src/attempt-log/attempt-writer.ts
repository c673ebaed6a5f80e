import { type Kysely, sql } from "kysely";
import type { DatabaseLink } from "../db/connection";
import type { Database, NewAttemptRow } from "../db/schema";
import { numberArray, textArray } from "./array-literals";
import { BinaryCopyWriter } from "./copy-binary";

/** An event's body as `event_bodies` keeps it (created_at is the event's). */
export interface EventBody {
  tenantId: string;
  eventId: string;
  createdAt: Date;
  eventType: string;
  body: Uint8Array;
}

/** What the log writes with: Kysely, and COPY on a pooled connection. */
export type AttemptLogDatabase = Pick<DatabaseLink, "db" | "copyIn">;

/** How a batch went in: by COPY, or (it held something already stored) by INSERT. */
export type AttemptsWritten = "copied" | "inserted";

/**
 * Writes a batch of attempt rows and event bodies in one transaction. First by binary COPY,
 * the cheapest way into Postgres (no statement to plan, no arrays to unpack, rows inserted in
 * bulk). COPY cannot skip a row that is already there: when the batch holds one (a record
 * delivered again after a crash between writing and acking, or a body an earlier batch wrote
 * for another task of the event), the COPY fails as a whole and the batch is written again
 * with `insertAttempts`, which leaves what is stored as it is. The caller passes each event's
 * body once (the consumer keeps a key per body): a body twice in one batch is written right,
 * but only by that slower path.
 */
export async function writeAttempts(
  database: AttemptLogDatabase,
  rows: readonly NewAttemptRow[],
  bodies: readonly EventBody[],
): Promise<AttemptsWritten> {
  if (rows.length === 0 && bodies.length === 0) return "copied";
  const copies = [];
  if (rows.length > 0) copies.push({ statement: COPY_ATTEMPTS, data: attemptsCopyData(rows) });
  if (bodies.length > 0) copies.push({ statement: COPY_BODIES, data: bodiesCopyData(bodies) });
  try {
    await database.copyIn(copies);
    return "copied";
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
  }
  await insertAttempts(database.db, rows, bodies);
  return "inserted";
}

const ATTEMPT_COLUMNS =
  "attempted_at, attempt_id, tenant_id, event_id, event_type, endpoint_id, task_id, attempt, " +
  "result, status, error, response_body, duration_ms, replay_of, decision, next_attempt_at, " +
  "reason, event_created_at";
const COPY_ATTEMPTS = `copy attempts (${ATTEMPT_COLUMNS}) from stdin (format binary)`;
const COPY_BODIES =
  "copy event_bodies (tenant_id, event_id, created_at, event_type, body) " +
  "from stdin (format binary)";

/** The rows in COPY_ATTEMPTS's column order. */
function attemptsCopyData(rows: readonly NewAttemptRow[]): Buffer {
  const copy = new BinaryCopyWriter(rows.length * 512);
  for (const row of rows) {
    copy.tuple(18);
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
  }
  return copy.finish();
}

function bodiesCopyData(bodies: readonly EventBody[]): Buffer {
  let bytes = 0;
  for (const body of bodies) bytes += body.body.byteLength + 256;
  const copy = new BinaryCopyWriter(bytes);
  for (const body of bodies) {
    copy.tuple(5);
    copy.text(body.tenantId);
    copy.text(body.eventId);
    copy.timestamp(body.createdAt.getTime());
    copy.text(body.eventType);
    copy.bytes(body.body);
  }
  return copy.finish();
}

function isUniqueViolation(error: unknown): boolean {
  return error instanceof Error && (error as { code?: unknown }).code === UNIQUE_VIOLATION;
}
const UNIQUE_VIOLATION = "23505";

/**
 * Writes a batch of attempt rows and event bodies in ONE statement whatever its size: each
 * column travels as one array parameter (unnest), so there is one round trip, one plan, and no
 * parameter limit (65,535) to split batches at. A row or body already stored (a record delivered
 * again) is left as it is. Times travel as epoch milliseconds, made timestamps by float8
 * division (exact to the microsecond at these magnitudes): pg's Date formatting, numeric
 * division or printing fractions cost more than a row's text.
 */
export async function insertAttempts(
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

/** What identifies a stored body: event_bodies' primary key. */
export const bodyKey = (body: EventBody): string =>
  `${body.tenantId}\n${body.eventId}\n${body.createdAt.getTime()}`;

/** Each event's body once: every task of an event carries the same one. */
function uniqueBodies(bodies: readonly EventBody[]): readonly EventBody[] {
  if (bodies.length < 2) return bodies;
  const seen = new Set<string>();
  const unique: EventBody[] = [];
  for (const body of bodies) {
    const key = bodyKey(body);
    if (seen.has(key)) continue;
    seen.add(key);
    unique.push(body);
  }
  return unique;
}
