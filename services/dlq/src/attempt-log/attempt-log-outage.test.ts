import { pollUntil, startEmbeddedPostgres } from "@hookline/testkit";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DlqHarness, startDlqHarness } from "../testing/dlq-harness";
import { type AttemptLog, startAttemptLog } from "./attempt-log";
import { deliveredMeta, publishRecord } from "./test-records";

let h: DlqHarness;
let log: AttemptLog | undefined;
beforeAll(async () => {
  // Embedded even when TEST_DATABASE_URL is set: only a server of our own can be paused.
  h = await startDlqHarness({
    prefix: "dlq_attempt_outage",
    postgres: await startEmbeddedPostgres(),
  });
});
afterAll(async () => {
  await log?.stop();
  await h?.close();
});

const start = async () => {
  log = await startAttemptLog({
    js: h.js,
    database: h.database,
    databaseUrl: h.pg.url,
    names: h.names,
    metrics: h.dlqMetrics,
    serviceMetrics: h.metrics,
    logger: h.logger,
    retentionDays: 30,
    bodies: true,
    batchSize: 40,
    retryDelayMs: 50,
    lockRetryMs: 200,
  });
};
const rowCount = async () =>
  Number(
    (await sql<{ n: string }>`select count(*) as n from attempts`.execute(h.database.db)).rows[0]
      ?.n,
  );
const consumerState = async () => {
  const info = await h.jsm.consumers.info(h.names.streams.attempts, h.names.consumers.dlqAttempts);
  return {
    pending: info.num_pending,
    unacked: info.num_ack_pending,
    ackedUpTo: info.ack_floor.stream_seq,
  };
};
const publish = async (from: number, count: number) => {
  const now = Date.now();
  for (let i = from; i < from + count; i++) {
    const meta = deliveredMeta({ eventId: `evt_outage_${i}`, at: now - 1_000 + i });
    await publishRecord(h.js, h.names, meta, { data: Buffer.from(`body ${i}`) });
  }
};

const writing = async () => (await h.dlqMetrics.attemptLogWriter.get()).values[0]?.value ?? 0;

describe("the attempt log when Postgres is down", () => {
  it("stands by with every record left in JetStream, and writes each one once it is back", {
    timeout: 60_000,
  }, async () => {
    await start();
    await publish(0, 10);
    await pollUntil(async () => (await rowCount()) === 10, {
      timeoutMs: 10_000,
      what: "the first rows",
    });
    expect(await writing()).toBe(1);

    // Records arrive, and Postgres goes while the writer holds some of them.
    await publish(10, 100);
    await h.pg.pause();
    // The writer lock's connection ended with it: what the writer held went back to JetStream.
    await pollUntil(async () => (await writing()) === 0, {
      timeoutMs: 10_000,
      what: "the writer to stand by",
    });
    const standingBy = await consumerState();
    await publish(110, 20);
    // Long enough for a pull to have taken them, were one running.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const later = await consumerState();
    expect(later.ackedUpTo).toBe(standingBy.ackedUpTo);
    expect(later.pending + later.unacked).toBe(130 - standingBy.ackedUpTo);

    // Stopping while standing by, and starting again while Postgres is still away.
    await log?.stop();
    log = undefined;
    await start();
    await new Promise((resolve) => setTimeout(resolve, 500));
    await h.pg.resume();
    // Well within ack_wait (60 s): records held when the lock went came back at once.
    await pollUntil(
      async () => {
        const { pending, unacked } = await consumerState();
        return pending === 0 && unacked === 0;
      },
      { timeoutMs: 30_000, intervalMs: 200, what: "the held records to be written" },
    );
    expect(await writing()).toBe(1);
    expect(await rowCount()).toBe(130);
    const { rows } = await sql<{ n: string }>`
      select count(body) as n from attempts where event_id like 'evt_outage_%'
    `.execute(h.database.db);
    expect(rows[0]?.n).toBe("130");
  });
});
