import { hooklineNames } from "@hookline/contracts";
import {
  type NatsServerHandle,
  type PostgresHandle,
  pollUntil,
  runService,
  startNatsServer,
  startPostgres,
} from "@hookline/testkit";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deliveredMeta, publishRecord } from "./test-records";

// main.ts's wiring: ATTEMPT_LOG=false leaves ATTEMPTS alone; on, records become rows, and
// SIGTERM stops the consumer cleanly.

const prefix = "dlq_attempt_main";
const names = hooklineNames(prefix);

let nats: NatsServerHandle;
let pg: PostgresHandle;
let nc: NatsConnection;
beforeAll(async () => {
  [nats, pg] = await Promise.all([startNatsServer(), startPostgres()]);
  nc = await connect({ servers: nats.url });
});
afterAll(async () => {
  await nc?.close();
  await Promise.all([nats?.stop(), pg?.stop()]);
});

const dlq = (env: Record<string, string> = {}) =>
  runService("dlq", {
    NATS_URL: nats.url,
    PORT: "0",
    DATABASE_URL: pg.url,
    DLQ_API_TOKENS: "ops:attempt-log-main-token",
    HOOKLINE_PREFIX: prefix,
    ...env,
  });

async function query<T>(text: string): Promise<T[]> {
  const client = new Client({ connectionString: pg.url });
  await client.connect();
  try {
    return (await client.query(text)).rows as T[];
  } finally {
    await client.end();
  }
}

const PARTITIONS = "select relname from pg_class where relname ~ '^attempts_p[0-9]{8}$'";

const consumerPending = async () => {
  const info = await (await jetstreamManager(nc)).consumers.info(
    names.streams.attempts,
    names.consumers.dlqAttempts,
  );
  return info.num_pending + info.num_ack_pending;
};

describe("dlq main with the attempt log", () => {
  it("consumes ATTEMPTS only with ATTEMPT_LOG on", { timeout: 90_000 }, async () => {
    const off = dlq({ ATTEMPT_LOG: "false" });
    try {
      await off.ready(30_000);
      const meta = deliveredMeta({ eventId: "evt_main_log", at: Date.now() });
      await publishRecord(jetstream(nc), names, meta, { data: Buffer.from("the body") });
      // Long enough for a consumer to have taken it, were there one.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(await consumerPending()).toBe(1);
      expect(await query(PARTITIONS)).toEqual([]);
      // OPS_EVENTS (all by default) asks for failure rates, which have no source without it.
      expect(off.output()).toContain("endpoint.failure_rate events are off");
    } finally {
      await off.terminate();
    }
    expect(await off.exitCode).toBe(0);

    const on = dlq({ ATTEMPT_LOG_BATCH: "10" });
    try {
      await on.ready(30_000);
      await pollUntil(async () => (await consumerPending()) === 0, {
        timeoutMs: 15_000,
        what: "the record to be consumed",
        detail: on.output,
      });
      const rows = await query<{ event_id: string; body: string }>(
        "select event_id, convert_from(body, 'UTF8') as body from attempts",
      );
      expect(rows).toEqual([{ event_id: "evt_main_log", body: "the body" }]);
      const partitions = await query(PARTITIONS);
      expect(partitions).toHaveLength(5);
    } finally {
      await on.terminate();
    }
    expect(await on.exitCode).toBe(0);
    expect(on.output()).not.toContain('"level":50');
  });
});
