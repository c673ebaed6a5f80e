import { createLogger } from "@hookline/kit";
import { type PostgresHandle, startPostgres } from "@hookline/testkit";
import { sql } from "kysely";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { connectDatabase, type DatabaseLink } from "../db/connection";
import { migrateToLatest } from "../db/migrate";
import { storeLetter } from "../store/store-letter";
import { createDefaultPartitions, insertAttempts, statsRow } from "../testing/attempt-fixtures";
import { incomingLetter } from "../testing/letters";
import { deliveryStats } from "./delivery-stats";

let pg: PostgresHandle;
let database: DatabaseLink;

beforeAll(async () => {
  pg = await startPostgres();
  database = connectDatabase({
    url: pg.url,
    poolSize: 4,
    logger: createLogger({ service: "dlq", level: "silent", pretty: false }),
  });
  const migrated = await migrateToLatest(database.db);
  if (migrated.outcome === "failed") throw migrated.error;
  await createDefaultPartitions(database.db);
});
afterAll(async () => {
  await database?.destroy();
  await pg?.stop();
});
beforeEach(async () => {
  await sql`truncate attempts, dead_letters, dead_letter_audit`.execute(database.db);
});

const now = new Date("2025-03-10T12:00:00.000Z");
const ago = (ms: number) => new Date(now.getTime() - ms);
const HOUR = 3_600_000;

describe("deliveryStats", () => {
  it("counts rows from the window's start (inclusive) to its end (exclusive)", async () => {
    await insertAttempts(database.db, [
      statsRow({ attempted_at: ago(HOUR) }),
      statsRow({ attempted_at: ago(HOUR + 1) }),
      statsRow({ attempted_at: ago(1) }),
      statsRow({ attempted_at: now }),
      statsRow({ attempted_at: ago(-1) }),
      statsRow({ attempted_at: ago(7 * 24 * HOUR) }),
      statsRow({ attempted_at: ago(7 * 24 * HOUR + 1) }),
    ]);
    const counted = async (window: "1h" | "24h" | "7d") =>
      (await deliveryStats(database.db, { window, now })).attempts;
    expect(await counted("1h")).toBe(2);
    expect(await counted("24h")).toBe(3);
    expect(await counted("7d")).toBe(4);
    const stats = await deliveryStats(database.db, { window: "1h", now });
    expect(stats.from).toEqual(ago(HOUR));
    expect(stats.to).toEqual(now);
    expect(stats.window).toBe("1h");
  });

  it("takes the dead letters whose dead_at is in the window, with the same filters", async () => {
    const store = (deadAt: Date, tenantId = "acme") =>
      storeLetter(database.db, incomingLetter({ deadAt, tenantId }), {
        endpointUrl: null,
        now: deadAt,
      });
    await store(ago(HOUR));
    await store(ago(10));
    await store(ago(10), "other");
    await store(now);
    await store(ago(HOUR + 1));
    expect((await deliveryStats(database.db, { window: "1h", now })).deadLettered).toBe(3);
    const acme = await deliveryStats(database.db, { window: "1h", now, tenantId: "acme" });
    expect(acme.deadLettered).toBe(2);
  });

  it("gives delivered rows' observed durations as percentiles (percentile_disc)", async () => {
    const rows = Array.from({ length: 100 }, (_, i) =>
      statsRow({ attempted_at: ago(1_000 + i), duration_ms: 100 - i }),
    );
    // Failures are left out of the latency figures, however slow.
    rows.push(
      statsRow({
        attempted_at: ago(5),
        result: "timeout",
        status: null,
        duration_ms: 30_000,
      }),
    );
    await insertAttempts(database.db, rows);
    const stats = await deliveryStats(database.db, { window: "1h", now });
    expect(stats.latencyMs).toEqual({ p50: 50, p95: 95, p99: 99 });
    expect(stats.attempts).toBe(101);
    expect(stats.averageAttemptsPerDelivered).toBe(1);
  });

  it("answers zeros and nulls for an empty window", async () => {
    await insertAttempts(database.db, [statsRow({ attempted_at: ago(2 * HOUR) })]);
    const stats = await deliveryStats(database.db, { window: "1h", now });
    expect(stats).toMatchObject({
      attempts: 0,
      delivered: 0,
      failedAttempts: 0,
      deadLettered: 0,
      firstAttemptSuccessRate: null,
      averageAttemptsPerDelivered: null,
      retryRate: null,
      latencyMs: { p50: null, p95: null, p99: null },
      byStatusClass: { "1xx": 0, "2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0, none: 0 },
      topFailingEndpoints: [],
    });
    expect(Object.values(stats.byResult).every((count) => count === 0)).toBe(true);
    expect(stats.byResult).toHaveProperty("delivered", 0);
  });

  it("lists at most ten failing endpoints, most failed attempts first, then by id", async () => {
    const endpoint = (n: number) => `ep_01JD8Z6Q3V4W5X6Y7Z8A9B${String(n).padStart(4, "0")}`;
    const rows = [];
    // Endpoints 1..12 fail n % 4 + 1 times each, and each has one success.
    for (let n = 1; n <= 12; n++) {
      for (let i = 0; i <= n % 4; i++) {
        rows.push(
          statsRow({
            attempted_at: ago(100 + n * 10 + i),
            endpoint_id: endpoint(n),
            result: "http_error",
            status: 500,
          }),
        );
      }
      rows.push(statsRow({ attempted_at: ago(5_000 + n), endpoint_id: endpoint(n) }));
    }
    rows.push(statsRow({ attempted_at: ago(50), endpoint_id: endpoint(13) }));
    await insertAttempts(database.db, rows);
    const stats = await deliveryStats(database.db, { window: "1h", now });
    const expected = [3, 7, 11, 2, 6, 10, 1, 5, 9, 4].map((n) => ({
      endpointId: endpoint(n),
      failedAttempts: (n % 4) + 1,
      attempts: (n % 4) + 2,
    }));
    expect(stats.topFailingEndpoints).toEqual(expected);
  });
});
