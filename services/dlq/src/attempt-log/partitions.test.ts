import { sql } from "kysely";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { writeAttempts } from "./attempt-writer";
import {
  createPartitionKeeper,
  DAY_MS,
  dayLabel,
  dayOf,
  oldestKeptDay,
  partitionName,
} from "./partitions";
import { attemptRow, type LogDatabase, startLogDatabase } from "./test-records";

const day = (iso: string) => dayOf(Date.parse(`${iso}T00:00:00Z`));

let log: LogDatabase;
beforeAll(async () => {
  log = await startLogDatabase();
});
afterAll(async () => {
  await log?.close();
});
beforeEach(async () => {
  for (const name of await partitions()) {
    await sql`drop table ${sql.id(name)}`.execute(log.database.db);
  }
});

/** The children of both parents, by name. */
async function partitions(): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`
    select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid
    where i.inhparent in ('attempts'::regclass, 'event_bodies'::regclass) order by 1
  `.execute(log.database.db);
  return rows.map((row) => row.name);
}

const attemptDays = (...labels: string[]) => labels.map((label) => `attempts_p${label}`).sort();

describe("day partitions", () => {
  it("names days in UTC", () => {
    expect(dayLabel(day("2025-06-01"))).toBe("20250601");
    expect(dayOf(Date.parse("2025-06-01T23:59:59.999Z"))).toBe(day("2025-06-01"));
    expect(dayOf(Date.parse("2025-06-02T00:00:00.000Z"))).toBe(day("2025-06-02"));
    expect(partitionName("event_bodies", day("2024-12-31"))).toBe("event_bodies_p20241231");
  });

  it("keeps a day until it ended more than the retention ago", () => {
    const june1 = day("2025-06-01");
    // May 2 ended at May 3 00:00, exactly 29 + 1 = 30 days before June 2 00:00.
    expect(oldestKeptDay(Date.parse("2025-06-02T00:00:00Z"), 30)).toBe(june1 - 30);
    expect(oldestKeptDay(Date.parse("2025-06-02T00:00:00.001Z"), 30)).toBe(june1 - 29);
    expect(oldestKeptDay(Date.parse("2025-06-02T13:00:00Z"), 30)).toBe(june1 - 29);
  });

  it("creates yesterday to three days ahead, once, and drops whole days past retention", async () => {
    let now = Date.parse("2025-06-15T10:00:00Z");
    const keeper = createPartitionKeeper({
      db: log.database.db,
      retentionDays: 30,
      now: () => now,
    });

    const first = await keeper.maintain();
    const ahead = attemptDays("20250614", "20250615", "20250616", "20250617", "20250618");
    expect(first).toEqual({ created: expect.any(Array), dropped: [] });
    expect([...first.created].sort()).toEqual(ahead);
    expect(await partitions()).toEqual(ahead);
    expect(await keeper.maintain()).toEqual({ created: [], dropped: [] });

    // A late record's day, made on demand, with rows in it.
    await keeper.ensure([day("2025-05-20")]);
    expect(keeper.has(day("2025-05-20"))).toBe(true);
    await writeAttempts(log.database, [
      attemptRow({ attempted_at: new Date("2025-05-20T12:00:00Z") }),
    ]);
    expect(await partitions()).toEqual([...attemptDays("20250520"), ...ahead].sort());

    // May 20 ended at May 21 00:00: kept until 30 days after that, gone just past it.
    now = Date.parse("2025-06-20T00:00:00Z");
    const at20 = await keeper.maintain();
    expect(at20.dropped).toEqual([]);
    expect([...at20.created].sort()).toEqual(
      attemptDays("20250619", "20250620", "20250621", "20250622", "20250623"),
    );
    now += 1;
    const past = await keeper.maintain();
    expect(past.created).toEqual([]);
    expect([...past.dropped].sort()).toEqual(attemptDays("20250520"));
    expect(keeper.has(day("2025-05-20"))).toBe(false);
    expect(await log.attempts()).toEqual([]);
    // Every day from the 14th on is still there: nothing else was dropped.
    expect((await partitions()).filter((name) => name.includes("202505"))).toEqual([]);
    expect(await partitions()).toHaveLength(10);
  });

  it("makes no event_bodies days (bodies moved into attempts) and drops those past retention", async () => {
    const db = log.database.db;
    // Days written before migration 0005 moved bodies into attempts.
    for (const label of ["20250520", "20250614"]) {
      const from = `${label.slice(0, 4)}-${label.slice(4, 6)}-${label.slice(6)}`;
      await sql`
        create table ${sql.id(`event_bodies_p${label}`)} partition of event_bodies
        for values from (${sql.lit(`${from}T00:00:00Z`)}) to (${sql.lit(`${from}T23:59:59.999Z`)})
      `.execute(db);
    }
    const keeper = createPartitionKeeper({
      db,
      retentionDays: 30,
      now: () => Date.parse("2025-06-20T00:00:00.001Z"),
    });
    const { created, dropped } = await keeper.maintain();
    expect(created.every((name) => name.startsWith("attempts_p"))).toBe(true);
    expect(dropped).toEqual(["event_bodies_p20250520"]);
    expect((await partitions()).filter((name) => name.startsWith("event_bodies"))).toEqual([
      "event_bodies_p20250614",
    ]);
  });

  it("leaves partitions it did not name alone", async () => {
    await sql`create table attempts_default partition of attempts default`.execute(log.database.db);
    try {
      const now = Date.parse("2025-06-15T10:00:00Z") + 400 * DAY_MS;
      const keeper = createPartitionKeeper({
        db: log.database.db,
        retentionDays: 1,
        now: () => now,
      });
      await keeper.maintain();
      expect(await partitions()).toContain("attempts_default");
    } finally {
      await sql`drop table attempts_default`.execute(log.database.db);
    }
  });

  it("lets dlq instances create the same days at the same time", async () => {
    const now = Date.parse("2025-06-15T10:00:00Z");
    const instances = Array.from({ length: 4 }, () =>
      createPartitionKeeper({ db: log.database.db, retentionDays: 30, now: () => now }),
    );
    const days = [day("2025-06-10"), day("2025-06-11"), day("2025-06-12")];
    await Promise.all([
      ...instances.map((keeper) => keeper.ensure(days)),
      ...instances.map((keeper) => keeper.maintain()),
    ]);
    expect(await partitions()).toEqual(
      attemptDays(
        "20250610",
        "20250611",
        "20250612",
        "20250614",
        "20250615",
        "20250616",
        "20250617",
        "20250618",
      ),
    );
    for (const keeper of instances) for (const d of days) expect(keeper.has(d)).toBe(true);
  });

  it("finds the days that exist when it starts, and makes a day again once told to forget", async () => {
    const now = Date.parse("2025-06-15T10:00:00Z");
    const db = log.database.db;
    await createPartitionKeeper({ db, retentionDays: 30, now: () => now }).maintain();
    const restarted = createPartitionKeeper({ db, retentionDays: 30, now: () => now });
    expect(await restarted.maintain()).toEqual({ created: [], dropped: [] });
    expect(restarted.has(day("2025-06-16"))).toBe(true);

    // Dropped behind its back (another instance's retention, an operator): forget, ensure again.
    await sql`drop table attempts_p20250616`.execute(db);
    restarted.forget();
    await restarted.ensure([day("2025-06-16")]);
    expect(await partitions()).toContain("attempts_p20250616");
  });
});
