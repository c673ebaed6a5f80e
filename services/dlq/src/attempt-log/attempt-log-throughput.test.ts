import { pollUntil } from "@hookline/testkit";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DlqHarness, startDlqHarness } from "../testing/dlq-harness";
import { startAttemptLog } from "./attempt-log";
import { deliveredMeta, publishRecordBatch } from "./test-records";

// Not a benchmark with a bound: it reports what one consumer does on this machine (rows/s, and
// this process's CPU per row: receiving, reading, the COPY data), for comparing changes. The
// records come as delivery sends them under load: record batches of one endpoint (~40 each).

const RECORDS = 20_000;
const PER_MESSAGE = 40;

let h: DlqHarness;
beforeAll(async () => {
  h = await startDlqHarness({ prefix: "dlq_attempt_rate" });
});
afterAll(async () => {
  await h?.close();
});

const logged = async () => (await h.dlqMetrics.attemptsLogged.get()).values[0]?.value ?? 0;

describe("the attempt log's throughput", () => {
  it(`writes ${RECORDS} records, each with its event's body, and reports its rate`, {
    timeout: 120_000,
  }, async () => {
    const now = Date.now();
    const body = Buffer.from(
      JSON.stringify({ type: "order.created", data: { id: 1, note: "x".repeat(200) } }),
    );
    const records = Array.from({ length: RECORDS }, (_, i) => ({
      meta: deliveredMeta({
        eventId: `evt_rate_${i}`,
        at: now - RECORDS + i,
        // Events created after the writer began, as under a steady load: it is sure no other
        // writer stored their bodies, and asks Postgres nothing (stored-bodies.ts).
        createdAt: now + 60_000,
        endpoint: Math.floor(i / PER_MESSAGE) % 50,
      }),
      data: body,
    }));
    const messages = RECORDS / PER_MESSAGE;
    for (let i = 0; i < RECORDS; i += PER_MESSAGE) {
      await publishRecordBatch(h.js, h.names, records.slice(i, i + PER_MESSAGE));
    }
    await pollUntil(
      async () => (await h.jsm.streams.info(h.names.streams.attempts)).state.messages === messages,
      { timeoutMs: 30_000, what: "every record in ATTEMPTS" },
    );

    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    const log = await startAttemptLog({
      js: h.js,
      database: h.database,
      databaseUrl: h.pg.url,
      names: h.names,
      metrics: h.dlqMetrics,
      serviceMetrics: h.metrics,
      logger: h.logger,
      retentionDays: 30,
      bodies: true,
      batchSize: 1_000,
    });
    try {
      await pollUntil(async () => (await logged()) >= RECORDS, {
        timeoutMs: 60_000,
        intervalMs: 20,
        what: "every record to be written",
      });
      const seconds = (performance.now() - started) / 1_000;
      const cpu = process.cpuUsage(cpuBefore);
      const cpuMs = (cpu.user + cpu.system) / 1_000;
      const writes = (await h.dlqMetrics.attemptLogWrite.get()).values;
      const sum = writes.find((value) => value.metricName?.endsWith("_sum"))?.value ?? 0;
      const count = writes.find((value) => value.metricName?.endsWith("_count"))?.value ?? 0;
      process.stdout.write(
        `attempt log: ${RECORDS} rows in ${seconds.toFixed(2)} s = ${Math.round(RECORDS / seconds)} rows/s; ` +
          `dlq CPU ${(cpuMs / RECORDS).toFixed(3)} ms/row (${Math.round(cpuMs)} ms); ` +
          `${count} writes, ${((sum / Math.max(1, count)) * 1_000).toFixed(1)} ms each\n`,
      );
    } finally {
      await log.stop();
    }
    const { rows } = await sql<{ attempts: string; bodies: string }>`
      select count(*) as attempts, count(body) as bodies from attempts
    `.execute(h.database.db);
    expect(rows[0]).toEqual({ attempts: String(RECORDS), bodies: String(RECORDS) });
  });
});
