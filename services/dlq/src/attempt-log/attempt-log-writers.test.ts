import { createServiceMetrics } from "@hookline/kit";
import { pollUntil } from "@hookline/testkit";
import { sql } from "kysely";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createDlqMetrics } from "../metrics";
import { type DlqHarness, startDlqHarness } from "../testing/dlq-harness";
import { type AttemptLog, startAttemptLog } from "./attempt-log";
import { deliveredMeta, publishRecordsFast, recordMsgId } from "./test-records";

// Two dlq instances on one database and one ATTEMPTS stream: one writes (the writer lock), the
// other stands by and takes over, and every record becomes exactly one row.

let h: DlqHarness;
const running: AttemptLog[] = [];
beforeAll(async () => {
  h = await startDlqHarness({ prefix: "dlq_attempt_writers" });
});
afterAll(async () => {
  await h?.close();
});
beforeEach(async () => {
  await h.jsm.streams.purge(h.names.streams.attempts);
  await sql`truncate attempts`.execute(h.database.db);
  metas.length = 0;
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((log) => log.stop()));
});

/** A dlq instance's attempt log, with metrics of its own. */
async function instance(options: { lockRetryMs: number }) {
  const serviceMetrics = createServiceMetrics("dlq");
  const metrics = createDlqMetrics(serviceMetrics, async () => undefined);
  const log = await startAttemptLog({
    js: h.js,
    database: h.database,
    databaseUrl: h.pg.url,
    names: h.names,
    metrics,
    serviceMetrics,
    logger: h.logger,
    retentionDays: 30,
    bodies: true,
    batchSize: 25,
    lingerMs: 20,
    lockRetryMs: options.lockRetryMs,
    lockCheckIntervalMs: 200,
  });
  running.push(log);
  return {
    log,
    writing: async () => (await metrics.attemptLogWriter.get()).values[0]?.value ?? 0,
    logged: async () => (await metrics.attemptsLogged.get()).values[0]?.value ?? 0,
  };
}

/** Never reset: ATTEMPTS drops a msg id it saw within its duplicate window, purged or not. */
let published = 0;
/** This test's records. */
const metas: ReturnType<typeof deliveredMeta>[] = [];
/** Publishes `count` more records, a few at a time, as delivery would while the log runs. */
async function publish(count: number) {
  const now = Date.now();
  for (let i = 0; i < count; i += 10) {
    const chunk = Array.from({ length: Math.min(10, count - i) }, () => {
      const n = published++;
      const meta = deliveredMeta({ eventId: `evt_writers_${n}`, at: now - 60_000 + n });
      metas.push(meta);
      return { meta, data: Buffer.from(`body ${n}`) };
    });
    await publishRecordsFast(h.link.nc, h.names, chunk);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const rowIds = async () =>
  (await sql<{ attempt_id: string }>`select attempt_id from attempts`.execute(h.database.db)).rows
    .map((row) => row.attempt_id)
    .sort();

/** Every record published so far is exactly one row, and the durable has acked them all. */
async function everyRecordOnce() {
  await pollUntil(
    async () => {
      const info = await h.jsm.consumers.info(
        h.names.streams.attempts,
        h.names.consumers.dlqAttempts,
      );
      return info.num_pending === 0 && info.num_ack_pending === 0;
    },
    { timeoutMs: 20_000, what: "every record to be written and acked" },
  );
  const expected = metas.map(recordMsgId).sort();
  expect(await rowIds()).toEqual(expected);
  const { rows } = await sql<{ n: string }>`select count(body) as n from attempts`.execute(
    h.database.db,
  );
  expect(Number(rows[0]?.n)).toBe(expected.length);
}

describe("two attempt log writers", () => {
  it("only one writes; the other takes over when it stops, and every record is one row", {
    timeout: 60_000,
  }, async () => {
    const first = await instance({ lockRetryMs: 100 });
    await pollUntil(async () => (await first.writing()) === 1, {
      timeoutMs: 10_000,
      what: "the first to write",
    });
    const second = await instance({ lockRetryMs: 100 });

    await publish(100);
    await pollUntil(async () => (await first.logged()) >= 100, {
      timeoutMs: 10_000,
      what: "the first writer to write the first records",
    });
    expect(await second.writing()).toBe(0);
    expect(await second.logged()).toBe(0);

    // The first stops while records keep coming: the second takes the lock once it is free.
    const more = publish(300);
    await pollUntil(async () => (await first.logged()) >= 150, {
      timeoutMs: 10_000,
      what: "the first writer to be busy",
    });
    await first.log.stop();
    await pollUntil(async () => (await second.writing()) === 1, {
      timeoutMs: 10_000,
      what: "the second to take over",
    });
    await more;
    // Records published once the first has stopped can only be the second's to write (the
    // first may have taken all of `more` in its bursts before it stopped).
    await publish(50);
    await everyRecordOnce();
    expect(await second.logged()).toBeGreaterThan(0);
  });

  it("a writer whose lock connection dies gives back what it holds and stands by", {
    timeout: 60_000,
  }, async () => {
    // The first waits longer before trying again, so the second is the one to take over.
    const first = await instance({ lockRetryMs: 3_000 });
    await pollUntil(async () => (await first.writing()) === 1, {
      timeoutMs: 10_000,
      what: "the first to write",
    });
    const second = await instance({ lockRetryMs: 100 });

    const records = publish(400);
    await pollUntil(async () => (await first.logged()) >= 100, {
      timeoutMs: 10_000,
      what: "the first writer to be busy",
    });
    // The lock's session ends (as in a Postgres restart, or a lost connection).
    await sql`
      select pg_terminate_backend(pid) from pg_locks
      where locktype = 'advisory' and granted and pid <> pg_backend_pid()
    `.execute(h.database.db);
    await pollUntil(async () => (await first.writing()) === 0, {
      timeoutMs: 10_000,
      what: "the first to stand by",
    });
    await pollUntil(async () => (await second.writing()) === 1, {
      timeoutMs: 10_000,
      what: "the second to take over",
    });
    await records;
    await everyRecordOnce();
    expect(await second.logged()).toBeGreaterThan(0);
    expect(await first.writing()).toBe(0);
  });
});
