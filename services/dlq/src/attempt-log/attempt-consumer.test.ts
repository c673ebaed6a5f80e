import {
  consumerConfigs,
  defaultProvisionOptions,
  encodeOutcome,
  Header,
} from "@hookline/contracts";
import { pollUntil } from "@hookline/testkit";
import { AckPolicy } from "@nats-io/jetstream";
import { sql } from "kysely";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { attemptRowColumns, type NewAttemptRow } from "../db/schema";
import { type DlqHarness, startDlqHarness } from "../testing/dlq-harness";
import { type AttemptLog, startAttemptLog } from "./attempt-log";
import { writeAttempts } from "./attempt-writer";
import { dayOf, partitionName } from "./partitions";
import {
  attemptRow,
  DAY_MS,
  deliveredMeta,
  endpointOf,
  publishRecord,
  publishRecordBatch,
  recordMsgId,
  retriedMeta,
} from "./test-records";

let h: DlqHarness;
let log: AttemptLog | undefined;
beforeAll(async () => {
  h = await startDlqHarness({ prefix: "dlq_attempt_log" });
});
afterAll(async () => {
  await log?.stop();
  await h?.close();
});
beforeEach(async () => {
  await h.jsm.streams.purge(h.names.streams.attempts);
  await sql`truncate attempts`.execute(h.database.db);
});
afterEach(async () => {
  await log?.stop();
  log = undefined;
});

const start = async (
  options: { bodies?: boolean; onWritten?: (rows: readonly NewAttemptRow[]) => void } = {},
) => {
  log = await startAttemptLog({
    js: h.js,
    database: h.database,
    databaseUrl: h.pg.url,
    names: h.names,
    metrics: h.dlqMetrics,
    serviceMetrics: h.metrics,
    logger: h.logger,
    retentionDays: 30,
    bodies: options.bodies ?? true,
    batchSize: 50,
    onWritten: options.onWritten,
  });
  return log;
};

const attempts = () =>
  h.database.db.selectFrom("attempts").select(attemptRowColumns).orderBy("attempted_at").execute();
/** The bodies kept: each on the row that brought it. */
const bodies = () =>
  h.database.db
    .selectFrom("attempts")
    .select(["tenant_id", "event_id", "event_created_at as created_at", "event_type", "body"])
    .where("body", "is not", null)
    .$narrowType<{ body: Buffer }>()
    .orderBy("event_id")
    .execute();
/** Rows, or the bodies among them. */
const count = async (what: "attempts" | "bodies") =>
  Number(
    (
      await sql<{ n: string }>`select count(${sql.raw(what === "bodies" ? "body" : "*")}) as n
        from attempts`.execute(h.database.db)
    ).rows[0]?.n,
  );

/** Waits until the log has taken every record: none pending, none unacked. */
const settled = () =>
  pollUntil(
    async () => {
      const info = await h.jsm.consumers.info(
        h.names.streams.attempts,
        h.names.consumers.dlqAttempts,
      );
      return info.num_pending === 0 && info.num_ack_pending === 0;
    },
    { timeoutMs: 10_000, what: "the attempt log to ack every record" },
  );

const metric = async (pattern: RegExp): Promise<number> => {
  const text = await (await h.app.request("/metrics")).text();
  const match = pattern.exec(text);
  return match ? Number(match[1]) : 0;
};
const logged = () => metric(/^hookline_dlq_attempts_logged_total\{[^}]*\} (\d+)$/m);
const skipped = (reason: string) =>
  metric(
    new RegExp(`^hookline_dlq_attempts_skipped_total\\{reason="${reason}"[^}]*\\} (\\d+)$`, "m"),
  );

describe("the attempt log consumer", () => {
  it("writes each record of a record batch (delivery's write turn) as its own row", async () => {
    await start();
    const now = Date.now();
    const metas = Array.from({ length: 120 }, (_, i) =>
      deliveredMeta({ eventId: `evt_batch_${i}`, at: now - 1_000 + i, endpoint: 1 + (i % 3) }),
    );
    // Three batches and a record alone; 120 records is more than a write (batchSize 50) holds.
    await publishRecordBatch(
      h.js,
      h.names,
      metas.slice(0, 60).map((meta) => ({ meta, data: Buffer.from(`{"n":"${meta.eventId}"}`) })),
    );
    await publishRecordBatch(
      h.js,
      h.names,
      metas.slice(60, 100).map((meta) => ({ meta })),
    );
    await publishRecord(h.js, h.names, metas[100] as (typeof metas)[number]);
    await publishRecordBatch(
      h.js,
      h.names,
      metas.slice(101).map((meta) => ({ meta })),
    );
    await settled();

    const rows = await attempts();
    expect(rows.map((row) => row.attempt_id).sort()).toEqual(metas.map(recordMsgId).sort());
    const stored = await bodies();
    expect(stored.map((row) => row.event_id).sort()).toEqual(
      metas
        .slice(0, 60)
        .map((meta) => meta.eventId)
        .sort(),
    );
    expect(stored.find((row) => row.event_id === "evt_batch_7")?.body.toString()).toBe(
      '{"n":"evt_batch_7"}',
    );
    expect(await logged()).toBeGreaterThanOrEqual(120);
  });

  it("stores a body once when the event's tasks come in different batches, by COPY", async () => {
    await start();
    const rewrites = () => metric(/^hookline_dlq_attempt_log_rewrites_total(?:\{[^}]*\})? (\d+)$/m);
    const rewritesBefore = await rewrites();
    const now = Date.now();
    const body = Buffer.from('{"fan":"out"}');
    const first = deliveredMeta({ eventId: "evt_fan", at: now - 2_000, createdAt: now - 3_000 });
    await publishRecord(h.js, h.names, first, { data: body });
    await settled();
    // The slower endpoint answers later: its record, with the same body, is another batch.
    const later = deliveredMeta({
      eventId: "evt_fan",
      at: now - 1_000,
      createdAt: now - 3_000,
      endpoint: 2,
    });
    await publishRecord(h.js, h.names, later, { data: body });
    await settled();

    expect((await attempts()).map((row) => row.endpoint_id)).toEqual([
      endpointOf(1),
      endpointOf(2),
    ]);
    expect((await bodies()).map((row) => [row.event_id, String(row.body)])).toEqual([
      ["evt_fan", '{"fan":"out"}'],
    ]);
    expect((await rewrites()) - rewritesBefore).toBe(0);

    // A record whose row is stored already (written by a writer that stopped before acking) is
    // refused by COPY; its batch goes in by INSERT, and the row stays one.
    const again = deliveredMeta({ eventId: "evt_again", at: now - 500 });
    await writeAttempts(h.database, [
      attemptRow({
        attempted_at: new Date(now - 500),
        attempt_id: recordMsgId(again),
        event_id: "evt_again",
      }),
    ]);
    await publishRecord(h.js, h.names, again);
    await settled();
    expect(await count("attempts")).toBe(3);
    expect((await rewrites()) - rewritesBefore).toBe(1);
  });

  it("stores a body once across writers: a later task of the event brings none", async () => {
    await start();
    const now = Date.now();
    const body = Buffer.from('{"across":"writers"}');
    const first = deliveredMeta({ eventId: "evt_across", at: now - 2_000, createdAt: now - 3_000 });
    await publishRecord(h.js, h.names, first, { data: body });
    await settled();
    // A new writer knows nothing of what the last one stored: it asks Postgres.
    await log?.stop();
    await start();
    const later = deliveredMeta({
      eventId: "evt_across",
      at: now - 1_000,
      createdAt: now - 3_000,
      endpoint: 2,
    });
    // Another event's only task, created just as long ago: its body is stored.
    const other = deliveredMeta({ eventId: "evt_other", at: now - 1_000, createdAt: now - 3_000 });
    await publishRecord(h.js, h.names, later, { data: body });
    await publishRecord(h.js, h.names, other, { data: Buffer.from("other") });
    await settled();

    expect(await count("attempts")).toBe(3);
    expect((await bodies()).map((row) => [row.event_id, String(row.body)])).toEqual([
      ["evt_across", '{"across":"writers"}'],
      ["evt_other", "other"],
    ]);
  });

  it("writes a batch's readable records and counts the one it cannot read", async () => {
    await start();
    const skippedBefore = await skipped("invalid");
    const now = Date.now();
    const good = [0, 1].map((i) => deliveredMeta({ eventId: `evt_mixed_${i}`, at: now - 100 }));
    const bad = deliveredMeta({ eventId: "evt_mixed_bad", at: now - 100 });
    await publishRecordBatch(h.js, h.names, [
      { meta: good[0] as (typeof good)[number] },
      { meta: bad, headers: Buffer.from("NATS/1.0\r\nHookline-Task-Id: x\r\n\r\n") },
      { meta: good[1] as (typeof good)[number] },
    ]);
    await settled();

    expect((await attempts()).map((row) => row.event_id).sort()).toEqual([
      "evt_mixed_0",
      "evt_mixed_1",
    ]);
    expect((await skipped("invalid")) - skippedBefore).toBe(1);
  });

  it("turns records into rows with every column, and stores each event's body once", async () => {
    await start();
    const now = Date.now();
    const body = Buffer.from('{"type":"order.created","data":{"id":"evt_a"}}');
    const toOne = deliveredMeta({ eventId: "evt_a", at: now - 2_000, createdAt: now - 3_000 });
    const toTwo = deliveredMeta({
      eventId: "evt_a",
      at: now - 1_900,
      createdAt: now - 3_000,
      endpoint: 2,
    });
    const failed = retriedMeta({ eventId: "evt_b", at: now - 1_000 });
    const second = deliveredMeta({
      eventId: "evt_b",
      at: now - 500,
      attempt: 2,
      createdAt: failed.createdAt,
    });
    await publishRecord(h.js, h.names, toOne, { data: body });
    await publishRecord(h.js, h.names, toTwo, { data: body });
    await publishRecord(h.js, h.names, failed, { data: Buffer.from("body of b") });
    // A later attempt's record carries no body (and one that did would not be stored).
    await publishRecord(h.js, h.names, second, { data: Buffer.from("not stored") });

    await pollUntil(async () => (await count("attempts")) === 4, {
      timeoutMs: 10_000,
      what: "four attempt rows",
    });
    await settled();
    const rows = await attempts();
    expect(rows.map((row) => row.attempt_id)).toEqual([
      recordMsgId(toOne),
      recordMsgId(toTwo),
      recordMsgId(failed),
      recordMsgId(second),
    ]);
    expect(rows[2]).toEqual({
      attempted_at: new Date(now - 1_000),
      attempt_id: recordMsgId(failed),
      tenant_id: "acme",
      event_id: "evt_b",
      event_type: "order.created",
      endpoint_id: endpointOf(1),
      task_id: failed.taskId,
      attempt: 1,
      result: "http_error",
      status: 503,
      error: "HTTP 503",
      response_body: "upstream unavailable",
      duration_ms: 8,
      replay_of: null,
      decision: "retry",
      next_attempt_at: new Date(now - 1_000 + 30_000),
      reason: null,
      event_created_at: new Date(failed.createdAt),
      logged_at: expect.any(Date),
    });
    expect(rows[3]).toMatchObject({
      attempt: 2,
      result: "delivered",
      status: 200,
      error: null,
      response_body: '{"received":true}',
      decision: null,
      next_attempt_at: null,
    });
    expect((await bodies()).map((row) => ({ ...row, body: String(row.body) }))).toEqual([
      {
        tenant_id: "acme",
        event_id: "evt_a",
        created_at: new Date(now - 3_000),
        event_type: "order.created",
        body: body.toString(),
      },
      {
        tenant_id: "acme",
        event_id: "evt_b",
        created_at: new Date(failed.createdAt),
        event_type: "order.created",
        body: "body of b",
      },
    ]);
  });

  it("keeps one row per record when the consumer delivers everything again", async () => {
    await start();
    const now = Date.now();
    const metas = Array.from({ length: 30 }, (_, i) =>
      deliveredMeta({ eventId: `evt_again_${i}`, at: now - 1_000 + i }),
    );
    for (const meta of metas) await publishRecord(h.js, h.names, meta, { data: Buffer.from("x") });
    await pollUntil(async () => (await count("attempts")) === 30, {
      timeoutMs: 10_000,
      what: "the records' rows",
    });
    await settled();
    await log?.stop();
    log = undefined;

    // The durable made again from the start: every record of the stream comes once more.
    const stream = h.names.streams.attempts;
    await h.jsm.consumers.delete(stream, h.names.consumers.dlqAttempts);
    const config = consumerConfigs({ ...defaultProvisionOptions, names: h.names }).find(
      (entry) => entry.config.durable_name === h.names.consumers.dlqAttempts,
    );
    if (config === undefined) throw new Error("no dlq-attempts config");
    await h.jsm.consumers.add(stream, config.config);
    const before = await logged();
    const inStream = (await h.jsm.streams.info(stream)).state.messages;
    await start();
    await pollUntil(async () => (await logged()) >= before + inStream, {
      timeoutMs: 10_000,
      what: "every record to be written again",
    });
    await settled();
    expect(await count("attempts")).toBe(30);
    expect(await count("bodies")).toBe(30);
  });

  it("acks a record it cannot read, counts it, and writes no row", async () => {
    await start();
    const invalidBefore = await skipped("invalid");
    const meta = deliveredMeta({ eventId: "evt_bad", at: Date.now() });
    const headers = encodeOutcome(meta, recordMsgId(meta));
    headers.delete(Header.eventId);
    await h.js.publish(h.names.subjects.outcomeDelivered(meta.endpointId), new Uint8Array(), {
      headers,
    });
    const good = deliveredMeta({ eventId: "evt_good", at: Date.now() });
    await publishRecord(h.js, h.names, good);
    await settled();
    expect(await skipped("invalid")).toBe(invalidBefore + 1);
    expect((await attempts()).map((row) => row.event_id)).toEqual(["evt_good"]);
  });

  it("stores late records in a partition made for their day, and none past retention", async () => {
    const running = await start();
    const now = Date.now();
    const expiredBefore = await skipped("expired");
    const late = deliveredMeta({ eventId: "evt_late", at: now - 10 * DAY_MS });
    const expired = deliveredMeta({ eventId: "evt_expired", at: now - 40 * DAY_MS });
    expect(running.partitions.has(dayOf(late.history[0]?.at ?? 0))).toBe(false);
    await publishRecord(h.js, h.names, late, { data: Buffer.from("late body") });
    await publishRecord(h.js, h.names, expired, { data: Buffer.from("expired body") });
    await settled();
    expect((await attempts()).map((row) => row.event_id)).toEqual(["evt_late"]);
    expect((await bodies()).map((row) => row.event_id)).toEqual(["evt_late"]);
    expect(await skipped("expired")).toBe(expiredBefore + 1);
    const day = dayOf(now - 10 * DAY_MS);
    expect(running.partitions.has(day)).toBe(true);
    const { rows } = await sql<{ name: string | null }>`
      select to_regclass(${partitionName("attempts", day)})::text as name
    `.execute(h.database.db);
    expect(rows[0]?.name).toBe(partitionName("attempts", day));
  });

  it("acks no record past one it has not written, and catches up once that one comes", {
    timeout: 30_000,
  }, async () => {
    const stream = h.names.streams.attempts;
    const durable = h.names.consumers.dlqAttempts;
    const floor = (await h.jsm.consumers.info(stream, durable)).ack_floor.stream_seq;
    const now = Date.now();
    const metas = Array.from({ length: 10 }, (_, i) =>
      deliveredMeta({ eventId: `evt_held_${i}`, at: now - 1_000 + i }),
    );
    for (const meta of metas) await publishRecord(h.js, h.names, meta, { data: Buffer.from("b") });
    // The first three are held by another puller (a writer that lost its lock), unacked.
    const held = [];
    const fetched = await (await h.js.consumers.get(stream, durable)).fetch({
      max_messages: 3,
      expires: 1_000,
    });
    for await (const msg of fetched) held.push(msg);
    expect(held.map((msg) => msg.seq)).toEqual([floor + 1, floor + 2, floor + 3]);

    const loggedBefore = await logged();
    await start();
    // The ack a written batch sends goes out in the same turn as the count.
    await pollUntil(async () => (await logged()) >= loggedBefore + 7, {
      timeoutMs: 10_000,
      what: "the seven other records to be written",
    });
    expect(await count("attempts")).toBe(7);
    const stalled = await h.jsm.consumers.info(stream, durable);
    expect(stalled.ack_floor.stream_seq).toBe(floor);
    expect(stalled.num_ack_pending).toBe(10);

    for (const msg of held) msg.nak();
    await settled();
    expect((await h.jsm.consumers.info(stream, durable)).ack_floor.stream_seq).toBe(floor + 10);
    expect((await attempts()).map((row) => row.event_id).sort()).toEqual(
      metas.map((meta) => meta.eventId).sort(),
    );
  });

  it("holds records while writes fail, gives them back on stop, and writes each once it can", {
    timeout: 30_000,
  }, async () => {
    const stream = h.names.streams.attempts;
    const durable = h.names.consumers.dlqAttempts;
    const failures = async () =>
      (await h.dlqMetrics.attemptLogWriteFailures.get()).values[0]?.value ?? 0;
    // The failure-rate window's feed: rows handed over only once written.
    const handed: string[] = [];
    const onWritten = (rows: readonly NewAttemptRow[]) => {
      for (const row of rows) handed.push(row.event_id);
    };
    await start({ onWritten });
    const now = Date.now();
    const metas = Array.from({ length: 15 }, (_, i) =>
      deliveredMeta({ eventId: `evt_failing_${i}`, at: now - 1_000 + i }),
    );
    for (const meta of metas.slice(0, 5)) await publishRecord(h.js, h.names, meta);
    await settled();
    const floor = (await h.jsm.consumers.info(stream, durable)).ack_floor.stream_seq;

    // Not an outage (the writer keeps its lock): the table is not there for a while.
    await sql`alter table attempts rename to attempts_away`.execute(h.database.db);
    try {
      const failuresBefore = await failures();
      for (const meta of metas.slice(5)) await publishRecord(h.js, h.names, meta);
      await pollUntil(async () => (await failures()) >= failuresBefore + 2, {
        timeoutMs: 10_000,
        what: "writes to fail and be tried again",
      });
      const held = await h.jsm.consumers.info(stream, durable);
      expect(held.ack_floor.stream_seq).toBe(floor);
      expect(held.num_ack_pending).toBe(10);
      expect(handed).toEqual(metas.slice(0, 5).map((meta) => meta.eventId));
      await log?.stop();
      log = undefined;
    } finally {
      await sql`alter table attempts_away rename to attempts`.execute(h.database.db);
    }
    // Given back at the stop: they come again at once, not after ack_wait (60 s).
    await start({ onWritten });
    await settled();
    expect((await attempts()).map((row) => row.event_id).sort()).toEqual(
      metas.map((meta) => meta.eventId).sort(),
    );
    expect(handed.sort()).toEqual(metas.map((meta) => meta.eventId).sort());
  });

  it("acks each record on a durable an earlier build made with explicit acks", async () => {
    const stream = h.names.streams.attempts;
    const config = consumerConfigs({ ...defaultProvisionOptions, names: h.names }).find(
      (entry) => entry.config.durable_name === h.names.consumers.dlqAttempts,
    );
    if (config === undefined) throw new Error("no dlq-attempts config");
    await h.jsm.consumers.delete(stream, h.names.consumers.dlqAttempts);
    await h.jsm.consumers.add(stream, { ...config.config, ack_policy: AckPolicy.Explicit });
    try {
      await start();
      const now = Date.now();
      for (let i = 0; i < 5; i++) {
        const meta = deliveredMeta({ eventId: `evt_explicit_${i}`, at: now - 1_000 + i });
        await publishRecord(h.js, h.names, meta);
      }
      await settled();
      expect(await count("attempts")).toBe(5);
    } finally {
      await log?.stop();
      log = undefined;
      await h.jsm.consumers.delete(stream, h.names.consumers.dlqAttempts);
      await h.jsm.consumers.add(stream, config.config);
    }
  });

  it("stores no body with ATTEMPT_LOG_BODIES=false", async () => {
    await start({ bodies: false });
    const meta = deliveredMeta({ eventId: "evt_no_body", at: Date.now() });
    await publishRecord(h.js, h.names, meta, { data: Buffer.from("a body") });
    await settled();
    expect((await attempts()).map((row) => row.event_id)).toEqual(["evt_no_body"]);
    expect(await bodies()).toEqual([]);
  });
});
