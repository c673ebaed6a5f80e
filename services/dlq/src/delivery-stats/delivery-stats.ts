import { attemptResults } from "@hookline/contracts";
import { type Kysely, type RawBuilder, sql } from "kysely";
import type { Database } from "../db/schema";

/** The windows a stats answer may cover, each ending when the answer is made. */
export const statsWindows = ["1h", "24h", "7d"] as const;
export type StatsWindow = (typeof statsWindows)[number];
export const DEFAULT_STATS_WINDOW: StatsWindow = "24h";

const HOUR_MS = 3_600_000;
const windowMs: Record<StatsWindow, number> = {
  "1h": HOUR_MS,
  "24h": 24 * HOUR_MS,
  "7d": 168 * HOUR_MS,
};

/** Endpoints in topFailingEndpoints. */
export const TOP_FAILING_ENDPOINTS = 10;

/** HTTP status classes, and `none` for attempts that got no HTTP answer. */
export const statusClasses = ["1xx", "2xx", "3xx", "4xx", "5xx", "none"] as const;
export type StatusClass = (typeof statusClasses)[number];

export interface DeliveryStatsQuery {
  window: StatsWindow;
  /** The window ends here (exclusive) and starts `window` before (inclusive). */
  now: Date;
  tenantId?: string | undefined;
  endpointId?: string | undefined;
  eventType?: string | undefined;
}

export interface FailingEndpoint {
  endpointId: string;
  failedAttempts: number;
  attempts: number;
}

export interface DeliveryStats {
  window: StatsWindow;
  from: Date;
  to: Date;
  attempts: number;
  delivered: number;
  failedAttempts: number;
  deadLettered: number;
  firstAttemptSuccessRate: number | null;
  averageAttemptsPerDelivered: number | null;
  retryRate: number | null;
  latencyMs: { p50: number | null; p95: number | null; p99: number | null };
  byResult: Record<string, number>;
  byStatusClass: Record<StatusClass, number>;
  topFailingEndpoints: FailingEndpoint[];
}

interface TotalsRow {
  attempts: string;
  delivered: string;
  first_attempts: string;
  first_delivered: string;
  retries: string;
  average_attempts: number | null;
  latency: number[] | null;
  dead_lettered: string;
}

interface GroupRow {
  kind: "result" | "status_class" | "endpoint";
  key: string;
  attempts: string;
  failed: string;
}

/** `column = value` for each filter given, and-ed; `true` when none. */
function filterConditions(query: DeliveryStatsQuery): RawBuilder<unknown> {
  const conditions: RawBuilder<unknown>[] = [];
  if (query.tenantId !== undefined) conditions.push(sql`tenant_id = ${query.tenantId}`);
  if (query.endpointId !== undefined) conditions.push(sql`endpoint_id = ${query.endpointId}`);
  if (query.eventType !== undefined) conditions.push(sql`event_type = ${query.eventType}`);
  return conditions.length === 0 ? sql`true` : sql.join(conditions, sql` and `);
}

const ratio = (part: number, whole: number) => (whole === 0 ? null : part / whole);

/**
 * Delivery figures over the attempt log's rows in the window (`attempted_at` in [from, to)),
 * with the filters given. Two statements, each one scan of the window's partitions (the
 * bounds are parameters, so Postgres prunes the others): the totals and latency percentiles,
 * and the groupings (grouping sets: by result, status class and endpoint at once).
 */
export async function deliveryStats(
  db: Kysely<Database>,
  query: DeliveryStatsQuery,
): Promise<DeliveryStats> {
  const to = query.now;
  const from = new Date(to.getTime() - windowMs[query.window]);
  const filters = filterConditions(query);
  const inWindow = sql`attempted_at >= ${from} and attempted_at < ${to} and ${filters}`;

  const totals = sql<TotalsRow>`
    select
      count(*) as attempts,
      count(*) filter (where result = 'delivered') as delivered,
      count(*) filter (where attempt = 1) as first_attempts,
      count(*) filter (where attempt = 1 and result = 'delivered') as first_delivered,
      count(*) filter (where attempt > 1) as retries,
      (avg(attempt) filter (where result = 'delivered'))::float8 as average_attempts,
      percentile_disc(array[0.5, 0.95, 0.99]::float8[]) within group (order by duration_ms)
        filter (where result = 'delivered') as latency,
      (
        select count(*) from dead_letters
        where dead_at >= ${from} and dead_at < ${to} and ${filters}
      ) as dead_lettered
    from attempts
    where ${inWindow}
  `.execute(db);

  // The endpoint grouping keeps only the top failing ones; "C" orders ids by bytes, as JS does.
  const groups = sql<GroupRow>`
    with grouped as (
      select
        case
          when grouping(result) = 0 then 'result'
          when grouping(status_class) = 0 then 'status_class'
          else 'endpoint'
        end as kind,
        coalesce(result, status_class, endpoint_id) as key,
        count(*) as attempts,
        count(*) filter (where result <> 'delivered') as failed
      from (
        select
          result,
          endpoint_id,
          case when status between 100 and 599 then (status / 100)::text || 'xx' else 'none' end
            as status_class
        from attempts
        where ${inWindow}
      ) window_rows
      group by grouping sets ((result), (status_class), (endpoint_id))
    )
    select kind, key, attempts, failed from grouped where kind <> 'endpoint'
    union all
    (
      select kind, key, attempts, failed from grouped
      where kind = 'endpoint' and failed > 0
      order by failed desc, key collate "C"
      limit ${TOP_FAILING_ENDPOINTS}
    )
  `.execute(db);

  const [{ rows: totalRows }, { rows: groupRows }] = await Promise.all([totals, groups]);
  const row = totalRows[0];
  if (row === undefined) throw new Error("an aggregate without group by returned no row");

  const attempts = Number(row.attempts);
  const delivered = Number(row.delivered);
  const byResult: Record<string, number> = Object.fromEntries(attemptResults.map((r) => [r, 0]));
  const byStatusClass = Object.fromEntries(statusClasses.map((k) => [k, 0])) as Record<
    StatusClass,
    number
  >;
  const topFailingEndpoints: FailingEndpoint[] = [];
  for (const group of groupRows) {
    const count = Number(group.attempts);
    if (group.kind === "result") byResult[group.key] = count;
    else if (group.kind === "status_class") byStatusClass[group.key as StatusClass] = count;
    else {
      topFailingEndpoints.push({
        endpointId: group.key,
        failedAttempts: Number(group.failed),
        attempts: count,
      });
    }
  }
  // union all does not promise the branch's order.
  topFailingEndpoints.sort(
    (a, b) =>
      b.failedAttempts - a.failedAttempts ||
      (a.endpointId < b.endpointId ? -1 : a.endpointId > b.endpointId ? 1 : 0),
  );
  const [p50 = null, p95 = null, p99 = null] = row.latency ?? [];

  return {
    window: query.window,
    from,
    to,
    attempts,
    delivered,
    failedAttempts: attempts - delivered,
    deadLettered: Number(row.dead_lettered),
    firstAttemptSuccessRate: ratio(Number(row.first_delivered), Number(row.first_attempts)),
    averageAttemptsPerDelivered: row.average_attempts,
    retryRate: ratio(Number(row.retries), attempts),
    latencyMs: { p50, p95, p99 },
    byResult,
    byStatusClass,
    topFailingEndpoints,
  };
}
