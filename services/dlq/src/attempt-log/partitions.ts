import { type Kysely, sql, type Transaction } from "kysely";
import type { Database } from "../db/schema";

export const DAY_MS = 86_400_000;

/** The UTC day of an epoch-ms time, as a number of days since 1970-01-01. */
export const dayOf = (ms: number): number => Math.floor(ms / DAY_MS);

/** `YYYYMMDD` of a day: partitions are `attempts_pYYYYMMDD` (and `event_bodies_pYYYYMMDD`). */
export function dayLabel(day: number): string {
  const iso = new Date(day * DAY_MS).toISOString();
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}`;
}

type Parent = "attempts" | "event_bodies";
const PARTITION = /^(attempts|event_bodies)_p(\d{4})(\d{2})(\d{2})$/;

export const partitionName = (parent: Parent, day: number): string => `${parent}_p${dayLabel(day)}`;

/**
 * The first day still kept: a day's partition goes once the day ended more than
 * `retentionDays` days ago, and rows of earlier days are not written.
 */
export function oldestKeptDay(now: number, retentionDays: number): number {
  return Math.ceil((now - retentionDays * DAY_MS) / DAY_MS) - 1;
}

/** Creating or dropping a partition locks its parent; a long reader must not make inserts queue. */
const DDL_LOCK_TIMEOUT = "3s";

export interface PartitionKeeper {
  /** True when the day's partition is known to exist. */
  has(day: number): boolean;
  /** Creates the partitions of these days that are not known to exist. */
  ensure(days: Iterable<number>): Promise<void>;
  /** Creates yesterday's to today+`daysAhead`'s partitions and drops those past retention. */
  maintain(): Promise<{ created: string[]; dropped: string[] }>;
  /** The first day whose rows are kept (see oldestKeptDay), at the keeper's clock now. */
  oldestKeptDay(): number;
  /** Forgets what it knows (after a write failed: a partition may have gone meanwhile). */
  forget(): void;
}

/**
 * Day partitions of `attempts`, and of `event_bodies` until their last has gone: it holds only
 * bodies written before they moved into `attempts` (0005), so no new ones are made. It
 * remembers the days that exist, so a batch costs a Set lookup per row; a day it does not know
 * is created before the batch is written (`create table if not exists`, and a concurrent dlq
 * instance creating the same one is fine). Retention drops whole partitions: never a DELETE.
 */
export function createPartitionKeeper(options: {
  db: Kysely<Database>;
  retentionDays: number;
  now?: () => number;
  daysAhead?: number;
}): PartitionKeeper {
  const { db, retentionDays } = options;
  const now = options.now ?? Date.now;
  const daysAhead = options.daysAhead ?? 3;
  const known = new Set<number>();
  // One DDL change at a time from this instance (the consumer and the hourly run).
  let queue: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(run: () => Promise<T>): Promise<T> => {
    const next = queue.then(run, run);
    queue = next.catch(() => undefined);
    return next;
  };

  const createDay = async (day: number, created: string[]) => {
    const from = new Date(day * DAY_MS).toISOString();
    const to = new Date((day + 1) * DAY_MS).toISOString();
    const name = partitionName("attempts", day);
    if (await createPartition(db, "attempts", name, from, to)) created.push(name);
    known.add(day);
  };

  return {
    has: (day) => known.has(day),
    ensure(days) {
      const missing = [...days].filter((day) => !known.has(day));
      if (missing.length === 0) return Promise.resolve();
      return exclusive(async () => {
        for (const day of missing) if (!known.has(day)) await createDay(day, []);
      });
    },
    maintain: () =>
      exclusive(async () => {
        const existing = await listPartitions(db);
        known.clear();
        for (const [day, tables] of existing) if (tables.has("attempts")) known.add(day);
        const created: string[] = [];
        const today = dayOf(now());
        for (let day = today - 1; day <= today + daysAhead; day++) {
          if (!known.has(day)) await createDay(day, created);
        }
        const dropped: string[] = [];
        const oldest = oldestKeptDay(now(), retentionDays);
        for (const [day, tables] of existing) {
          if (day >= oldest) continue;
          for (const parent of tables) {
            const name = partitionName(parent, day);
            await db.transaction().execute(async (trx) => {
              await limitLockWait(trx);
              await sql`drop table if exists ${sql.id(name)}`.execute(trx);
            });
            dropped.push(name);
          }
          known.delete(day);
        }
        return { created, dropped };
      }),
    oldestKeptDay: () => oldestKeptDay(now(), retentionDays),
    forget: () => known.clear(),
  };
}

/** Existing day partitions by day; other children (a default partition) are left alone. */
async function listPartitions(db: Kysely<Database>): Promise<Map<number, Set<Parent>>> {
  const { rows } = await sql<{ name: string }>`
    select c.relname as name
    from pg_inherits i join pg_class c on c.oid = i.inhrelid
    where i.inhparent in ('attempts'::regclass, 'event_bodies'::regclass)
  `.execute(db);
  const byDay = new Map<number, Set<Parent>>();
  for (const { name } of rows) {
    const match = PARTITION.exec(name);
    if (!match) continue;
    const [, parent, year, month, date] = match;
    const day = dayOf(Date.UTC(Number(year), Number(month) - 1, Number(date)));
    let tables = byDay.get(day);
    if (tables === undefined) {
      tables = new Set();
      byDay.set(day, tables);
    }
    tables.add(parent as Parent);
  }
  return byDay;
}

/** DDL on a partition locks its parent: give up (and try later) rather than queue inserts. */
const limitLockWait = (trx: Transaction<Database>) =>
  sql`set local lock_timeout = ${sql.lit(DDL_LOCK_TIMEOUT)}`.execute(trx);

/** Postgres's answers when another session created the same table at the same moment. */
const concurrentlyCreated = new Set(["42P07", "23505"]);

/** Creates one partition; false when it was there already. */
async function createPartition(
  db: Kysely<Database>,
  parent: Parent,
  name: string,
  from: string,
  to: string,
): Promise<boolean> {
  try {
    return await db.transaction().execute(async (trx) => {
      await limitLockWait(trx);
      const exists = await sql<{ found: string | null }>`
        select to_regclass(${name}) as found
      `.execute(trx);
      if (exists.rows[0]?.found != null) return false;
      await sql`
        create table if not exists ${sql.id(name)} partition of ${sql.id(parent)}
        for values from (${sql.lit(from)}) to (${sql.lit(to)})
      `.execute(trx);
      return true;
    });
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === "string" && concurrentlyCreated.has(code)) return false;
    throw error;
  }
}
