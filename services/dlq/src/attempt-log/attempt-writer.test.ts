import { sql } from "kysely";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { bodyKey, insertAttempts, storedBodyKeys, writeAttempts } from "./attempt-writer";
import { createPartitionKeeper, dayOf } from "./partitions";
import { attemptRow, endpointOf, type LogDatabase, startLogDatabase } from "./test-records";

let log: LogDatabase;
beforeAll(async () => {
  log = await startLogDatabase();
  const keeper = createPartitionKeeper({ db: log.database.db, retentionDays: 30 });
  await keeper.ensure([
    dayOf(Date.parse("2025-06-14T00:00:00Z")),
    dayOf(Date.parse("2025-06-15T00:00:00Z")),
  ]);
});
afterAll(async () => {
  await log?.close();
});
beforeEach(async () => {
  await sql`truncate attempts, event_bodies`.execute(log.database.db);
});

/** The row carrying its event's body. */
const withBody = (row: ReturnType<typeof attemptRow>, text: string) => ({
  ...row,
  body: Buffer.from(text),
});

describe("writeAttempts", () => {
  it("stores every column as given, nulls included, and the body's bytes", async () => {
    const success = attemptRow();
    const retry = attemptRow({
      attempted_at: new Date("2025-06-15T10:00:05.999Z"),
      attempt_id: "evt_1:x#2@9",
      tenant_id: "default",
      endpoint_id: endpointOf(2),
      attempt: 2,
      result: "http_error",
      status: 503,
      error: 'HTTP 503: "quoted" \\ backslash, {braces}, ünïcode',
      response_body: "NULL",
      duration_ms: 2_147_483_647,
      replay_of: "dl_01JD8Z6Q3V4W5X6Y7Z8A9B0001",
      decision: "retry",
      next_attempt_at: new Date("2025-06-15T10:00:35.001Z"),
      event_created_at: new Date("2025-06-14T23:59:59.999Z"),
    });
    const deadLetter = attemptRow({
      attempt_id: "evt_1:y#3@10",
      result: "timeout",
      status: null,
      error: "timed out",
      response_body: null,
      decision: "deadletter",
      reason: "exhausted",
    });
    const bytes = Buffer.from([0, 1, 2, 0xff, 0x5c, 0x22]);
    const written = await writeAttempts(log.database, [
      success,
      { ...retry, body: bytes },
      deadLetter,
    ]);

    expect(written).toBe("copied");
    const stored = await log.attempts();
    expect(stored).toHaveLength(3);
    const byId = new Map(stored.map((row) => [row.attempt_id, row]));
    for (const row of [success, retry, deadLetter]) {
      expect(byId.get(row.attempt_id)).toEqual({ ...row, logged_at: expect.any(Date) });
    }
    expect(await log.bodies()).toEqual([
      {
        tenant_id: "default",
        event_id: "evt_1",
        created_at: new Date("2025-06-14T23:59:59.999Z"),
        event_type: "order.created",
        body: bytes,
      },
    ]);
  });

  it("keeps any text and every millisecond as given", async () => {
    const texts = [
      "",
      " ",
      "a,b",
      "{}",
      '"',
      "\\",
      '\\"',
      "NULL",
      "null",
      "é€😀",
      "x ".repeat(600),
    ];
    const base = Date.parse("2025-06-15T00:00:00Z");
    const rows = texts.map((text, i) =>
      attemptRow({
        attempt_id: `id_${i}_${text}`,
        error: text,
        response_body: text,
        // Every millisecond pattern of the day's first second, spread over the day.
        attempted_at: new Date(base + i * 7_777_777 + ((i * 97) % 1_000)),
        next_attempt_at: new Date(base + 86_399_999 - i),
        event_created_at: new Date(base - 1 - i * 111),
      }),
    );
    for (let ms = 0; ms < 1_000; ms += 1) {
      rows.push(
        attemptRow({ attempt_id: `ms_${ms}`, attempted_at: new Date(base + 3_600_000 + ms) }),
      );
    }
    expect(await writeAttempts(log.database, rows)).toBe("copied");
    const stored = new Map((await log.attempts()).map((row) => [row.attempt_id, row]));
    expect(stored.size).toBe(rows.length);
    for (const row of rows) {
      expect(stored.get(row.attempt_id)).toMatchObject({
        attempt_id: row.attempt_id,
        error: row.error,
        response_body: row.response_body,
        attempted_at: row.attempted_at,
        next_attempt_at: row.next_attempt_at,
        event_created_at: row.event_created_at,
      });
    }
  });

  it("keeps one row per attempt, and its body as first written, however often it comes", async () => {
    const first = attemptRow();
    const second = attemptRow({ attempt_id: "evt_1:other#1@2", endpoint_id: endpointOf(2) });
    const third = attemptRow({ event_id: "evt_2", attempt_id: "evt_2#1@1" });
    // A record delivered twice in one batch.
    const once = await writeAttempts(log.database, [
      withBody(first, "one"),
      second,
      withBody(first, "one"),
      withBody(third, "two"),
    ]);
    // Delivered again later, with a body that must not replace the stored one.
    const again = await writeAttempts(log.database, [
      first,
      { ...withBody(first, "replaced?"), result: "changed" },
    ]);

    // COPY refuses a row that is there already: both went in by INSERT.
    expect([once, again]).toEqual(["inserted", "inserted"]);
    const stored = await log.attempts();
    expect(stored.map((row) => row.attempt_id).sort()).toEqual(
      [first.attempt_id, second.attempt_id, third.attempt_id].sort(),
    );
    expect(stored.find((row) => row.attempt_id === first.attempt_id)?.result).toBe("delivered");
    expect((await log.bodies()).map((row) => [row.event_id, row.body.toString()])).toEqual([
      ["evt_1", "one"],
      ["evt_2", "two"],
    ]);
  });

  it("writes a batch of any size, by COPY or as one statement (no per-row parameters)", async () => {
    // 5,000 rows of 18 columns would be 90,000 parameters, past Postgres's 65,535.
    const rows = Array.from({ length: 10_000 }, (_, i) =>
      attemptRow({
        attempted_at: new Date(Date.parse("2025-06-15T00:00:00Z") + i * 1_000),
        event_id: `evt_${i}`,
        attempt_id: `evt_${i}#1@${i}`,
      }),
    );
    const carrying = rows.map((row) => withBody(row, row.event_id));
    expect(await writeAttempts(log.database, carrying.slice(0, 5_000))).toBe("copied");
    await insertAttempts(log.database.db, carrying.slice(5_000));
    const { rows: counts } = await sql<{ attempts: string; bodies: string }>`
      select count(*) as attempts, count(body) as bodies from attempts
    `.execute(log.database.db);
    expect(counts[0]).toEqual({ attempts: "10000", bodies: "10000" });
  });

  it("keeps times before Postgres's epoch (2000-01-01) and far after it", async () => {
    const row = attemptRow({
      next_attempt_at: new Date("1970-01-01T00:00:00.001Z"),
      event_created_at: new Date("1999-12-31T23:59:59.999Z"),
    });
    const later = attemptRow({
      attempt_id: "evt_1#2@2",
      next_attempt_at: new Date("2262-04-11T23:47:16.854Z"),
    });
    expect(await writeAttempts(log.database, [row, later])).toBe("copied");
    const stored = new Map((await log.attempts()).map((r) => [r.attempt_id, r]));
    expect(stored.get(row.attempt_id)?.next_attempt_at).toEqual(row.next_attempt_at);
    expect(stored.get(row.attempt_id)?.event_created_at).toEqual(row.event_created_at);
    expect(stored.get(later.attempt_id)?.next_attempt_at).toEqual(later.next_attempt_at);
  });

  it("writes no body when given none", async () => {
    await writeAttempts(log.database, [attemptRow()]);
    expect(await log.attempts()).toHaveLength(1);
    expect(await log.bodies()).toEqual([]);
  });

  it("fails when a day has no partition (the consumer makes them first)", async () => {
    await expect(
      writeAttempts(log.database, [attemptRow({ attempted_at: new Date("2031-01-01T00:00:00Z") })]),
    ).rejects.toThrow(/no partition/);
  });

  it("finds the events whose body is stored: on an attempt row, or in event_bodies", async () => {
    await sql`
      create table if not exists event_bodies_default partition of event_bodies default
    `.execute(log.database.db);
    const carrier = withBody(attemptRow({ event_id: "evt_inline", attempt_id: "a#1@1" }), "x");
    const bare = attemptRow({ event_id: "evt_bare", attempt_id: "b#1@2" });
    await writeAttempts(log.database, [carrier, bare]);
    const legacy = attemptRow({ event_id: "evt_legacy", attempt_id: "c#1@3" });
    await log.database.db
      .insertInto("event_bodies")
      .values({
        tenant_id: legacy.tenant_id,
        event_id: legacy.event_id,
        created_at: legacy.event_created_at,
        event_type: legacy.event_type,
        body: Buffer.from("y"),
      })
      .execute();

    const asked = [
      carrier,
      bare,
      legacy,
      // The same event ids in another tenant, or accepted at another time: other events.
      { ...carrier, tenant_id: "globex" },
      { ...legacy, event_created_at: new Date(legacy.event_created_at.getTime() + 1) },
      attemptRow({ event_id: "evt_unknown" }),
    ];
    const found = await storedBodyKeys(log.database.db, asked);
    expect([...found].sort()).toEqual([bodyKey(carrier), bodyKey(legacy)].sort());
  });
});
