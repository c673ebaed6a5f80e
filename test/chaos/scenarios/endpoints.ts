import { sleep } from "@hookline/testkit";
import { account } from "../accounting";
import type { Harness } from "../harness";
import { bulkLoad, type LoadCounters, type LoadEvent, newCounters, steadyLoad } from "../load";
import {
  awaitFanOut,
  type Check,
  ms,
  percentile,
  type Scenario,
  type ScenarioContext,
  type ScenarioOutcome,
  seconds,
  standardChecks,
  summarizeLoad,
  whenTrue,
} from "../scenario";

/** Env of the endpoint groups: the short schedule, tiers that hold each delay. */
export const endpointEnv = {
  RETRY_SCHEDULE: "1s,2s,4s,8s",
  RETRY_TIERS: "1s,2s,4s,8s,16s",
};

function merge(...all: LoadCounters[]): LoadCounters {
  const out = newCounters();
  for (const c of all) {
    for (const id of c.accepted) out.accepted.add(id);
    out.acceptedAt.push(...c.acceptedAt);
    out.postMs.push(...c.postMs);
    out.noTasks.push(...c.noTasks);
    out.unavailable += c.unavailable;
    out.unavailableAt.push(...c.unavailableAt);
    for (const [why, n] of Object.entries(c.unavailableWhy)) {
      out.unavailableWhy[why] = (out.unavailableWhy[why] ?? 0) + n;
    }
    out.networkErrors += c.networkErrors;
    out.resentEvents += c.resentEvents;
    out.rejected.push(...c.rejected);
    out.gaveUp.push(...c.gaveUp);
  }
  return out;
}

function events(prefix: string, eventType: string, count: number): LoadEvent[] {
  return Array.from({ length: count }, (_, n) => ({
    id: `${prefix}${n}`,
    eventType,
    payload: { n },
  }));
}

function unverifiedAt(harness: Harness, paths: string[]): number {
  return paths.reduce((n, p) => n + harness.receiver.stats(p).unverified, 0);
}

/** Acceptance-to-first-2xx latencies (ms) of the given ids at `path`, sorted. */
function latencies(harness: Harness, path: string, ids: ReadonlySet<string>): number[] {
  const firstOk = new Map<string, number>();
  for (const r of harness.receiver.requests(path)) {
    if (r.webhookId === undefined || !ids.has(r.webhookId) || r.acceptedAt === undefined) continue;
    if (r.answeredStatus === null || r.answeredStatus >= 300) continue;
    if (!firstOk.has(r.webhookId)) firstOk.set(r.webhookId, r.receivedAt - r.acceptedAt);
  }
  return [...firstOk.values()].sort((a, b) => a - b);
}

function latencyFigure(sorted: number[]): string {
  return `p50 ${ms(percentile(sorted, 50))}, p99 ${ms(percentile(sorted, 99))}, max ${ms(
    sorted.at(-1) ?? Number.NaN,
  )} (${sorted.length})`;
}

/**
 * The slow endpoint: 1,000 tasks for an endpoint answering after 5 s, and a healthy endpoint
 * under steady load at the same time; the healthy endpoint's latency alone and alongside.
 */
async function slowEndpoint(harness: Harness, ctx: ScenarioContext): Promise<ScenarioOutcome> {
  const id = "slow-endpoint";
  const healthyCount = ctx.short ? 400 : 2_000;
  const slowCount = 1_000;
  const perSecond = 200;
  const types = { healthy: `chaos.${id}.healthy`, slow: `chaos.${id}.slow` };
  const paths = { healthy: `/${id}/healthy`, slow: `/${id}/slow` };
  await harness.endpoint({ path: paths.healthy, eventTypes: [types.healthy] });
  await harness.endpoint({ path: paths.slow, eventTypes: [types.slow] });
  for (const type of Object.values(types)) await awaitFanOut(harness, type);
  const target = { url: harness.ingestUrl, token: harness.ingestToken };
  const prefix = `chaos-${id}-`;
  const delivered = (ids: ReadonlySet<string>) => {
    const ok = harness.receiver.okCounts(paths.healthy);
    for (const i of ids) if (!ok.has(i)) return false;
    return true;
  };

  // Warm-up (not measured): a freshly started stack runs cold for a few seconds.
  const warm = steadyLoad(harness.loader, {
    target,
    count: healthyCount / 2,
    perSecond,
    event: (n) => ({ id: `${prefix}warm-${n}`, eventType: types.healthy, payload: { n } }),
  });
  await warm.done;
  await whenTrue(() => delivered(warm.counters.accepted), 60_000, "the warm-up events");

  // Alone.
  const alone = steadyLoad(harness.loader, {
    target,
    count: healthyCount,
    perSecond,
    event: (n) => ({ id: `${prefix}alone-${n}`, eventType: types.healthy, payload: { n } }),
  });
  await alone.done;
  await whenTrue(() => delivered(alone.counters.accepted), 60_000, "the healthy events alone");
  const aloneLatency = latencies(harness, paths.healthy, alone.counters.accepted);
  ctx.log(`  healthy alone: ${latencyFigure(aloneLatency)}`);

  // With 1,000 tasks queued for the slow endpoint.
  harness.receiver.behave(paths.slow, { delayMs: 5_000 });
  const slowStarted = Date.now();
  const slow = await bulkLoad(harness.loader, events(`${prefix}slow-`, types.slow, slowCount));
  ctx.log(`  ${slow.accepted.size} slow tasks queued in ${ms(Date.now() - slowStarted)}`);
  const together = steadyLoad(harness.loader, {
    target,
    count: healthyCount,
    perSecond,
    event: (n) => ({ id: `${prefix}with-${n}`, eventType: types.healthy, payload: { n } }),
  });
  await together.done;
  await whenTrue(() => delivered(together.counters.accepted), 120_000, "the healthy events");
  const withLatency = latencies(harness, paths.healthy, together.counters.accepted);
  const slowStats = harness.receiver.stats(paths.slow);
  const slowDone = harness.receiver.okCounts(paths.slow).size;
  ctx.log(`  healthy with the slow one: ${latencyFigure(withLatency)}`);

  // Let the slow endpoint recover so that every task can be accounted for.
  harness.receiver.behave(paths.slow, {});
  const counters = merge(warm.counters, alone.counters, slow, together.counters);
  const accounting = await account({
    harness,
    accepted: counters.accepted,
    idPrefix: prefix,
    paths: Object.values(paths),
    deadLetterTypes: Object.values(types),
    since: warm.startedAt,
    timeoutMs: 300_000,
    log: ctx.log,
  });
  const load = summarizeLoad(counters, healthyCount / 2 + 2 * healthyCount + slowCount);
  return {
    accounting,
    load,
    duplicateBound: undefined,
    figures: [
      ["healthy alone", latencyFigure(aloneLatency)],
      ["healthy with the slow endpoint", latencyFigure(withLatency)],
      ["slow endpoint, most requests at once", `${slowStats.peakInFlight}`],
      ["slow tasks answered meanwhile", `${slowDone} of ${slowCount}`],
      ["all settled after", seconds(accounting.settledMs)],
    ],
    checks: standardChecks(load, accounting, unverifiedAt(harness, Object.values(paths))),
  };
}

/**
 * Queues `count` tasks for one endpoint in bulk, then waits until each is delivered or
 * dead-lettered (or the timeout), and accounts for them.
 */
async function queueAndAccount(
  harness: Harness,
  ctx: ScenarioContext,
  options: { id: string; count: number; type: string; path: string; timeoutMs: number },
) {
  const prefix = `chaos-${options.id}-`;
  const started = Date.now();
  const counters = await bulkLoad(harness.loader, events(prefix, options.type, options.count));
  ctx.log(`  ${counters.accepted.size} tasks queued in ${ms(Date.now() - started)}`);
  const accounting = await account({
    harness,
    accepted: counters.accepted,
    idPrefix: prefix,
    paths: [options.path],
    deadLetterTypes: [options.type],
    since: started,
    timeoutMs: options.timeoutMs,
    log: ctx.log,
  });
  return { prefix, counters, accounting };
}

/** The dead endpoint: tasks for an endpoint that always answers 500, until all are exhausted. */
async function deadEndpoint(harness: Harness, ctx: ScenarioContext): Promise<ScenarioOutcome> {
  const id = "dead-endpoint";
  const count = ctx.short ? 200 : 2_000;
  const type = `chaos.${id}`;
  const path = `/${id}`;
  await harness.endpoint({ path, eventTypes: [type] });
  harness.receiver.behave(path, { status: 500 });
  await awaitFanOut(harness, type);
  const { prefix, counters, accounting } = await queueAndAccount(harness, ctx, {
    id,
    count,
    type,
    path,
    timeoutMs: ctx.short ? 180_000 : 600_000,
  });
  const requests = harness.receiver
    .requests(path)
    .filter((r) => r.webhookId?.startsWith(prefix)).length;
  const reasons = Object.entries(accounting.deadLetterReasons)
    .map(([reason, n]) => `${reason} ${n}`)
    .join(", ");
  const load = summarizeLoad(counters, count);
  const checks: Check[] = [
    ...standardChecks(load, accounting, unverifiedAt(harness, [path])),
    {
      label: `all dead-lettered as exhausted (${reasons || "none"})`,
      ok: (accounting.deadLetterReasons.exhausted ?? 0) === accounting.accepted,
    },
  ];
  return {
    accounting,
    load,
    duplicateBound: undefined,
    figures: [
      ["all dead-lettered after", accounting.settled ? seconds(accounting.settledMs) : "not all"],
      ["HTTP requests to the endpoint", `${requests} (${(requests / count).toFixed(2)} per task)`],
      ["dead letters by reason", reasons || "none"],
    ],
    checks,
  };
}

/** The rate-limited endpoint: 5,000 tasks for an endpoint with rateLimitPerSecond 50. */
async function rateLimited(harness: Harness, ctx: ScenarioContext): Promise<ScenarioOutcome> {
  const id = "rate-limited";
  const count = ctx.short ? 500 : 5_000;
  const limit = 50;
  const type = `chaos.${id}`;
  const path = `/${id}`;
  await harness.endpoint({ path, eventTypes: [type], rateLimitPerSecond: limit });
  await awaitFanOut(harness, type);
  // The warm-up request spends part of the first second; start on a clean one.
  await sleep(1_500);
  const { prefix, counters, accounting } = await queueAndAccount(harness, ctx, {
    id,
    count,
    type,
    path,
    timeoutMs: (count / limit) * 2_000 + 60_000,
  });
  const arrivals = harness.receiver
    .requests(path)
    .filter((r) => r.webhookId?.startsWith(prefix))
    .map((r) => r.receivedAt)
    .sort((a, b) => a - b);
  const first = arrivals[0] ?? 0;
  const buckets = new Map<number, number>();
  for (const t of arrivals) {
    const second = Math.floor((t - first) / 1000);
    buckets.set(second, (buckets.get(second) ?? 0) + 1);
  }
  const lastSecond = Math.floor(((arrivals.at(-1) ?? first) - first) / 1000);
  // Whole seconds only: the last one is partial.
  const perSecond: number[] = [];
  for (let s = 0; s < lastSecond; s++) perSecond.push(buckets.get(s) ?? 0);
  const mean = perSecond.reduce((a, b) => a + b, 0) / Math.max(1, perSecond.length);
  const sd = Math.sqrt(
    perSecond.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, perSecond.length),
  );
  const sorted = [...perSecond].sort((a, b) => a - b);
  const over = perSecond.filter((n) => n > limit).length;
  // The bound: 50/s ± 10 %. Arrival jitter can move a request across a second's edge,
  // so a low second and a high one often sit side by side; pairs of seconds show that.
  const within = perSecond.filter((n) => n >= limit * 0.9 && n <= limit * 1.1).length;
  const pairs = perSecond.slice(1).map((n, i) => n + (perSecond[i] ?? 0));
  const pairsWithin = pairs.filter((n) => n >= limit * 1.8 && n <= limit * 2.2).length;
  const load = summarizeLoad(counters, count);
  return {
    accounting,
    load,
    duplicateBound: undefined,
    figures: [
      [
        "received per second",
        `mean ${mean.toFixed(1)}, sd ${sd.toFixed(1)}, min ${sorted[0] ?? 0}, p50 ${percentile(
          sorted,
          50,
        )}, max ${sorted.at(-1) ?? 0} over ${perSecond.length} s`,
      ],
      ["seconds above the limit", `${over} of ${perSecond.length}`],
      ["seconds within ±10 % of the limit", `${within} of ${perSecond.length}`],
      ["two-second spans within ±10 %", `${pairsWithin} of ${pairs.length}`],
      ["requests per task", (arrivals.length / count).toFixed(2)],
      ["all delivered after", accounting.settled ? seconds(accounting.settledMs) : "not all"],
    ],
    checks: standardChecks(load, accounting, unverifiedAt(harness, [path])),
  };
}

export const slowScenarios: Scenario[] = [
  {
    id: "slow-endpoint",
    title: "slow endpoint (5 s answers, 1,000 tasks) beside a healthy one",
    run: slowEndpoint,
  },
];
export const deadScenarios: Scenario[] = [
  {
    id: "dead-endpoint",
    title: "dead endpoint (always 500), RETRY_SCHEDULE=1s,2s,4s,8s",
    run: deadEndpoint,
  },
];
export const rateLimitedScenarios: Scenario[] = [
  {
    id: "rate-limited",
    title: "rate-limited endpoint (rateLimitPerSecond 50)",
    run: rateLimited,
  },
];
