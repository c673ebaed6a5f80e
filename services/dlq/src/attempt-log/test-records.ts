import {
  type ClassifiedOutcomeMeta,
  encodeClassifiedOutcome,
  encodeOutcome,
  encodeRecordBatch,
  type HooklineNames,
  type OutcomeMeta,
  taskIdFor,
} from "@hookline/contracts";
import { createLogger } from "@hookline/kit";
import { type PostgresHandle, startPostgres } from "@hookline/testkit";
import type { JetStreamClient } from "@nats-io/jetstream";
import { MsgHdrsImpl, type NatsConnection } from "@nats-io/transport-node";
import { connectDatabase, type DatabaseLink } from "../db/connection";
import { migrateToLatest } from "../db/migrate";
import { type AttemptRow, attemptRowColumns, type NewAttemptRow } from "../db/schema";

export const DAY_MS = 86_400_000;

/** A valid endpoint id ending in `n`. */
export const endpointOf = (n: number): string =>
  `ep_01JD8Z6Q3V4W5X6Y7Z8A9B${String(n).padStart(4, "0")}`;

/** A success outcome as delivery publishes it, attempted at `at`. */
export function deliveredMeta(options: {
  eventId: string;
  at: number;
  endpoint?: number;
  tenantId?: string;
  attempt?: number;
  createdAt?: number;
}): OutcomeMeta {
  const endpointId = endpointOf(options.endpoint ?? 1);
  const createdAt = options.createdAt ?? options.at - 100;
  const attempt = options.attempt ?? 1;
  return {
    taskId: taskIdFor(options.eventId, endpointId),
    eventId: options.eventId,
    eventType: "order.created",
    endpointId,
    tenantId: options.tenantId ?? "acme",
    attempt,
    deferrals: 0,
    createdAt,
    deadline: createdAt + 3 * DAY_MS,
    history: [{ n: attempt, at: options.at, result: "delivered", status: 200, ms: 23 }],
    result: "delivered",
    status: 200,
    durationMs: 23,
    responseBody: '{"received":true}',
  };
}

/** A failed attempt the classifier decided to retry at `at + 30 s`. */
export function retriedMeta(options: {
  eventId: string;
  at: number;
  endpoint?: number;
  attempt?: number;
}): ClassifiedOutcomeMeta {
  const base = deliveredMeta(options);
  return {
    ...base,
    history: [{ n: base.attempt, at: options.at, result: "http_error", status: 503, ms: 8 }],
    result: "http_error",
    status: 503,
    error: "HTTP 503",
    durationMs: 8,
    responseBody: "upstream unavailable",
    decision: "retry",
    notBefore: options.at + 30_000,
  };
}

/** The outcome's msg id, `<taskId>#<pass>@<dispatchSeq>`: here pass and seq are the attempt. */
export const recordMsgId = (meta: OutcomeMeta): string =>
  `${meta.taskId}#${meta.attempt}@${meta.attempt}`;

/** Publishes a record to ATTEMPTS as delivery (success) or the classifier (decision) does. */
export async function publishRecord(
  js: JetStreamClient,
  names: HooklineNames,
  meta: OutcomeMeta | ClassifiedOutcomeMeta,
  options: { data?: Uint8Array; msgId?: string } = {},
): Promise<void> {
  const msgId = options.msgId ?? recordMsgId(meta);
  const classified = "decision" in meta && meta.decision !== undefined;
  await js.publish(
    classified
      ? names.subjects.outcomeClassified(meta.endpointId)
      : names.subjects.outcomeDelivered(meta.endpointId),
    options.data ?? new Uint8Array(),
    {
      headers: classified
        ? encodeClassifiedOutcome(meta as ClassifiedOutcomeMeta, msgId)
        : encodeOutcome(meta, msgId),
    },
  );
}

/** Core-publishes records without waiting for PubAcks, as delivery does; flushes at the end. */
export async function publishRecordsFast(
  nc: NatsConnection,
  names: HooklineNames,
  records: { meta: OutcomeMeta; data?: Uint8Array }[],
): Promise<void> {
  for (const { meta, data } of records) {
    nc.publish(names.subjects.outcomeDelivered(meta.endpointId), data ?? new Uint8Array(), {
      headers: encodeOutcome(meta, recordMsgId(meta)),
    });
  }
  await nc.flush();
}

/** A row as the reader makes it, for the writer's tests. */
export function attemptRow(overrides: Partial<NewAttemptRow> = {}): NewAttemptRow {
  const at = overrides.attempted_at ?? new Date("2025-06-15T10:00:00.123Z");
  const eventId = overrides.event_id ?? "evt_1";
  const endpointId = overrides.endpoint_id ?? endpointOf(1);
  const taskId = taskIdFor(eventId, endpointId);
  return {
    attempted_at: at,
    attempt_id: `${taskId}#1@1`,
    tenant_id: "acme",
    event_id: eventId,
    event_type: "order.created",
    endpoint_id: endpointId,
    task_id: taskId,
    attempt: 1,
    result: "delivered",
    status: 200,
    error: null,
    response_body: "ok",
    duration_ms: 17,
    replay_of: null,
    decision: null,
    next_attempt_at: null,
    reason: null,
    event_created_at: new Date(at.getTime() - 250),
    ...overrides,
  };
}

/** An event's body as the log keeps it: on the attempt row that brought it. */
export interface StoredBody {
  tenant_id: string;
  event_id: string;
  created_at: Date;
  event_type: string;
  body: Buffer;
}

export interface LogDatabase {
  pg: PostgresHandle;
  database: DatabaseLink;
  attempts(): Promise<AttemptRow[]>;
  bodies(): Promise<StoredBody[]>;
  close(): Promise<void>;
}

/** A migrated dlq database without NATS, for the writer and partition tests. */
export async function startLogDatabase(postgres?: PostgresHandle): Promise<LogDatabase> {
  const pg = postgres ?? (await startPostgres());
  const logger = createLogger({ service: "dlq", level: "silent", pretty: false });
  const database = connectDatabase({ url: pg.url, poolSize: 5, logger });
  const migrated = await migrateToLatest(database.db);
  if (migrated.outcome === "failed") throw migrated.error;
  return {
    pg,
    database,
    attempts: () =>
      database.db
        .selectFrom("attempts")
        .select(attemptRowColumns)
        .orderBy("attempted_at")
        .orderBy("attempt_id")
        .execute(),
    bodies: () =>
      database.db
        .selectFrom("attempts")
        .select(["tenant_id", "event_id", "event_created_at as created_at", "event_type", "body"])
        .where("body", "is not", null)
        .$narrowType<{ body: Buffer }>()
        .orderBy("event_id")
        .orderBy("attempted_at")
        .execute(),
    async close() {
      await database.destroy();
      await pg.stop();
    },
  };
}

/** Publishes success records as ONE record batch, as delivery does for a write turn. */
export async function publishRecordBatch(
  js: JetStreamClient,
  names: HooklineNames,
  records: { meta: OutcomeMeta; data?: Uint8Array; headers?: Uint8Array }[],
): Promise<void> {
  const first = records[0];
  if (first === undefined) throw new Error("a record batch holds at least one record");
  const batch = encodeRecordBatch(
    records.map(({ meta, data, headers }) => ({
      headers: headers ?? (encodeOutcome(meta, recordMsgId(meta)) as MsgHdrsImpl).encode(),
      data: data ?? new Uint8Array(),
    })),
  );
  await js.publish(names.subjects.outcomeDelivered(first.meta.endpointId), batch.data, {
    headers: MsgHdrsImpl.decode(batch.headers),
  });
}
