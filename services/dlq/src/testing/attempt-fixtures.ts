import { taskIdFor } from "@hookline/contracts";
import type { ApiToken } from "@hookline/kit";
import { createLogger } from "@hookline/kit";
import { startPostgres } from "@hookline/testkit";
import { type Kysely, sql } from "kysely";
import type { DlqApp } from "../app";
import { connectDatabase } from "../db/connection";
import { migrateToLatest } from "../db/migrate";
import type { Database, NewAttemptRow } from "../db/schema";
import { type DlqHarness, dlqAppOver, startDlqHarness } from "./dlq-harness";
import { endpointId } from "./letters";

/**
 * Catch-all partitions: the day partitions are the attempt log's to create, and fixture rows
 * may fall on any day.
 */
export async function createDefaultPartitions(db: Kysely<Database>): Promise<void> {
  await sql`create table if not exists attempts_default partition of attempts default`.execute(db);
  await sql`
    create table if not exists event_bodies_default partition of event_bodies default
  `.execute(db);
}

/** A migrated database with default partitions, without NATS: for the domain functions' tests. */
export async function startAttemptLogDatabase(): Promise<{
  db: Kysely<Database>;
  close(): Promise<void>;
}> {
  const pg = await startPostgres();
  const logger = createLogger({ service: "dlq", level: "silent", pretty: false });
  const database = connectDatabase({ url: pg.url, poolSize: 5, logger });
  const migrated = await migrateToLatest(database.db);
  if (migrated.outcome === "failed") throw migrated.error;
  await createDefaultPartitions(database.db);
  return {
    db: database.db,
    async close() {
      await database.destroy();
      await pg.stop();
    },
  };
}

export async function truncateAttemptLog(db: Kysely<Database>): Promise<void> {
  await sql`truncate attempts, event_bodies`.execute(db);
}

export const EVENT_CREATED_AT = new Date("2025-03-01T12:00:00.000Z");

/** `seconds` after EVENT_CREATED_AT: when the fixtures' attempts happen. */
export const secondsAfterEvent = (seconds: number): Date =>
  new Date(EVENT_CREATED_AT.getTime() + seconds * 1_000);

/**
 * One attempt row as the attempt log writes it: a failed first attempt of `evt_1` to endpoint 1
 * in the default tenant, retried, unless overridden. The attempt id follows the task id, the
 * attempt number and the time unless given.
 */
export function attemptRow(overrides: Partial<NewAttemptRow> = {}): NewAttemptRow {
  const eventId = overrides.event_id ?? "evt_1";
  const endpoint = overrides.endpoint_id ?? endpointId(1);
  const taskId = overrides.task_id ?? taskIdFor(eventId, endpoint);
  const attempt = overrides.attempt ?? 1;
  const attemptedAt = overrides.attempted_at ?? new Date(EVENT_CREATED_AT.getTime() + 1_000);
  return {
    attempted_at: attemptedAt,
    attempt_id: `${taskId}#${attempt}@${attemptedAt.getTime()}`,
    tenant_id: "default",
    event_id: eventId,
    event_type: "order.created",
    endpoint_id: endpoint,
    task_id: taskId,
    attempt,
    result: "http_error",
    status: 503,
    error: null,
    response_body: "maintenance",
    duration_ms: 25,
    replay_of: null,
    decision: "retry",
    next_attempt_at: new Date(attemptedAt.getTime() + 5_000),
    reason: null,
    event_created_at: EVENT_CREATED_AT,
    ...overrides,
  };
}

/** A delivered attempt: no decision, no next attempt. */
export function deliveredRow(overrides: Partial<NewAttemptRow> = {}): NewAttemptRow {
  return attemptRow({
    result: "delivered",
    status: 200,
    response_body: "ok",
    decision: null,
    next_attempt_at: null,
    ...overrides,
  });
}

let sequence = 0;

/**
 * A delivered first attempt of an event of its own (the stats tests count rows: none share an
 * event or an attempt id), at the given time, unless overridden.
 */
export function statsRow(
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

export async function insertAttempts(
  db: Kysely<Database>,
  rows: readonly NewAttemptRow[],
): Promise<void> {
  for (let offset = 0; offset < rows.length; offset += 1_000) {
    await db
      .insertInto("attempts")
      .values(rows.slice(offset, offset + 1_000))
      .execute();
  }
}

/** A body where the attempt log kept them before migration 0005 (event_bodies). */
export async function insertEventBody(
  db: Kysely<Database>,
  body: { tenantId?: string; eventId: string; createdAt?: Date; bytes: Buffer },
): Promise<void> {
  await db
    .insertInto("event_bodies")
    .values({
      tenant_id: body.tenantId ?? "default",
      event_id: body.eventId,
      created_at: body.createdAt ?? EVENT_CREATED_AT,
      event_type: "order.created",
      body: body.bytes,
    })
    .execute();
}

/** GETs a path with a bearer token; the answer's status and parsed body. */
export async function getJson<T = Record<string, unknown>>(
  app: DlqApp,
  path: string,
  token: string,
): Promise<{ status: number; body: T; contentType: string | null }> {
  const response = await app.request(path, { headers: { authorization: `Bearer ${token}` } });
  return {
    status: response.status,
    body: (await response.json()) as T,
    contentType: response.headers.get("content-type"),
  };
}

/** An operator's token, and a support token that reads one tenant's attempts only. */
export const OPS_TOKEN = "token-ops-all";
export const ACME_TOKEN = "token-acme-reader";
export const ATTEMPT_READER_TOKENS: ApiToken[] = [
  { name: "ops", token: OPS_TOKEN },
  { name: "acme-reader", token: ACME_TOKEN, scopes: ["attempts:read"], tenantId: "acme" },
];

/**
 * A dlq harness with default partitions (what its tests insert lands there) and an app that
 * takes ATTEMPT_READER_TOKENS; `prepare` runs before the app is built.
 */
export async function startAttemptReadHarness(
  prefix: string,
  prepare?: (h: DlqHarness) => Promise<void>,
): Promise<{ h: DlqHarness; app: DlqApp }> {
  const h = await startDlqHarness({ prefix });
  await createDefaultPartitions(h.database.db);
  await prepare?.(h);
  return { h, app: dlqAppOver(h, { tokens: ATTEMPT_READER_TOKENS }) };
}
