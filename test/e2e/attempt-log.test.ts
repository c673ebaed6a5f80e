import { pollUntil, type Sink } from "@hookline/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DeadLetter, DlqClient } from "../support/dlq-client";
import { type E2eStackWithDlq, fastRetries, startE2eStack } from "../support/e2e-stack";
import type { IngestClient } from "../support/ingest-client";

// The attempt log end to end: a known mix of first-time deliveries, deliveries on the third
// attempt and dead letters goes through the four services; the dlq's attempt log, event view
// and delivery stats must show exactly that mix.

const prefix = "e2eattempts";
const MIX = "mix";
const OTHER = "other";

interface Attempt {
  id: string;
  tenantId: string;
  eventId: string;
  eventType: string;
  endpointId: string;
  taskId: string;
  attempt: number;
  result: string;
  status: number | null;
  error: string | null;
  responseBody: string | null;
  durationMs: number;
  attemptedAt: string;
  replay: boolean;
  replayOf: string | null;
  decision: string | null;
  nextAttemptAt: string | null;
  reason: string | null;
}

interface EventView {
  tenantId: string;
  eventId: string;
  eventType: string;
  body: unknown;
  tasks: {
    taskId: string;
    endpointId: string;
    state: string;
    attempts: number;
    nextAttemptAt?: string | null;
    deadLetterId?: string | null;
  }[];
}

interface DeliveryStats {
  attempts: number;
  delivered: number;
  failedAttempts: number;
  deadLettered: number;
  firstAttemptSuccessRate: number | null;
  averageAttemptsPerDelivered: number | null;
  retryRate: number | null;
  latencyMs: { p50: number | null; p95: number | null; p99: number | null };
  byResult: Record<string, number>;
  byStatusClass: Record<string, number>;
  topFailingEndpoints: { endpointId: string; failedAttempts: number; attempts: number }[];
}

let e2e: E2eStackWithDlq;
let sink: Sink;
let ingest: IngestClient;
let dlq: DlqClient;

beforeAll(async () => {
  e2e = await startE2eStack({
    prefix,
    services: ["ingest", "delivery", "classifier", "dlq"],
    // Three attempts at most (200 ms, 500 ms); a breaker that never opens on this little traffic;
    // a 15-minute tier for a retry that stays waiting.
    env: {
      ...fastRetries,
      RETRY_TIERS: "200ms,1s,3s,15m",
      DELIVERY_BREAKER_VOLUME_THRESHOLD: "100",
      LOG_LEVEL: "warn",
    },
  });
  ({ sink, ingest, dlq } = e2e);
}, 120_000);

afterAll(() => e2e?.stop());

async function createEndpoint(tenantId: string, path: string, extra: Record<string, unknown> = {}) {
  const endpoint = await ingest.createTenantEndpoint(tenantId, {
    url: sink.url(path),
    eventTypes: [`test.${path.slice(1)}`],
    ...extra,
  });
  sink.setSecrets(path, [endpoint.secret]);
  return endpoint.id;
}

async function postEvent(tenantId: string, id: string, eventType: string) {
  const res = await ingest.request(`/v1/tenants/${tenantId}/events`, {
    method: "POST",
    body: JSON.stringify({ id, eventType, payload: { id, note: "attempt log" } }),
  });
  expect(res.status, await res.clone().text()).toBe(202);
}

async function getJson<T>(path: string): Promise<T> {
  const res = await dlq.request(path);
  expect(res.status, `${path}: ${await res.clone().text()}`).toBe(200);
  return (await res.json()) as T;
}

/** Every attempt row matching the query, through every page, newest first. */
async function allAttempts(query: Record<string, string>): Promise<Attempt[]> {
  const rows: Attempt[] = [];
  let cursor: string | undefined;
  do {
    const search = new URLSearchParams({ ...query, limit: "100" });
    if (cursor !== undefined) search.set("cursor", cursor);
    const page = await getJson<{ data: Attempt[]; nextCursor: string | null }>(
      `/v1/attempts?${search}`,
    );
    rows.push(...page.data);
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return rows;
}

/** percentile_disc: the smallest observed value with at least p of the values at or below it. */
function percentileDisc(values: number[], p: number): number | null {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] ?? null;
}

/** Polls until `read` gives a value. */
async function eventually<T>(read: () => Promise<T | undefined>, what: string): Promise<T> {
  let value: T | undefined;
  await pollUntil(
    async () => {
      value = await read();
      return value !== undefined;
    },
    { timeoutMs: 20_000, what },
  );
  return value as T;
}

/**
 * The attempts `query` lists once there are at least `count`. A sink sees a webhook before
 * delivery has its answer and publishes the attempt's record, so "the dlq holds nothing
 * unacked" can be true just before the last records arrive: wait for the rows themselves.
 */
async function loggedAttempts(query: Record<string, string>, count: number): Promise<Attempt[]> {
  return eventually(
    async () => {
      const rows = await allAttempts(query);
      return rows.length >= count ? rows : undefined;
    },
    `${count} attempt rows for ${JSON.stringify(query)}`,
  );
}

describe("the attempt log, event view and delivery stats", () => {
  it("logs every attempt of a known mix and count it exactly", { timeout: 120_000 }, async () => {
    await ingest.createTenant(MIX);
    await ingest.createTenant(OTHER);
    const first = await createEndpoint(MIX, "/first");
    const third = [await createEndpoint(MIX, "/third-0"), await createEndpoint(MIX, "/third-1")];
    const dead = await createEndpoint(MIX, "/dead");
    sink.setDefault("/first", { status: 200, body: "thanks" });
    for (const path of ["/third-0", "/third-1"]) {
      sink.script(path, [
        { status: 500, body: "not yet" },
        { status: 500, body: "not yet" },
      ]);
      sink.setDefault(path, { status: 200, body: "finally" });
    }
    sink.setDefault("/dead", { status: 500, body: "broken" });

    for (let i = 0; i < 4; i++) await postEvent(MIX, `evt-first-${i}`, "test.first");
    await postEvent(MIX, "evt-third-0", "test.third-0");
    await postEvent(MIX, "evt-third-1", "test.third-1");
    await postEvent(MIX, "evt-dead-0", "test.dead");
    await postEvent(MIX, "evt-dead-1", "test.dead");

    await sink.waitFor(4, { path: "/first" });
    await sink.waitFor(3, { path: "/third-0", timeoutMs: 20_000 });
    await sink.waitFor(3, { path: "/third-1", timeoutMs: 20_000 });
    await sink.waitFor(6, { path: "/dead", timeoutMs: 20_000 });
    const letters = await eventually(async () => {
      const res = await dlq.request(`/v1/dead-letters?tenantId=${MIX}`);
      const page = (await res.json()) as { data: DeadLetter[] };
      return page.data.length === 2 ? page.data : undefined;
    }, "two dead letters");
    // The log: one row per attempt, with what the endpoint answered.
    const rows = await loggedAttempts({ tenantId: MIX }, 16);
    expect(rows).toHaveLength(16);
    expect(rows.every((row) => row.tenantId === MIX && !row.replay)).toBe(true);
    const firstRows = rows.filter((row) => row.endpointId === first);
    expect(firstRows).toHaveLength(4);
    for (const row of firstRows) {
      expect(row).toMatchObject({
        eventType: "test.first",
        attempt: 1,
        result: "delivered",
        status: 200,
        responseBody: "thanks",
        decision: null,
      });
    }
    const deadRows = rows.filter((row) => row.endpointId === dead);
    expect(deadRows.map((row) => row.attempt).sort()).toEqual([1, 1, 2, 2, 3, 3]);
    for (const row of deadRows) {
      expect(row).toMatchObject({ result: "http_error", status: 500, responseBody: "broken" });
      expect(row.decision).toBe(row.attempt === 3 ? "deadletter" : "retry");
      if (row.attempt === 3) expect(row.reason).toBe("exhausted");
      else expect(row.nextAttemptAt).not.toBeNull();
    }

    // Every attempt of one event, oldest first, and the event as it stands.
    const thirdAttempts = await getJson<{ data: Attempt[] }>(
      `/v1/events/evt-third-0/attempts?tenantId=${MIX}`,
    );
    expect(thirdAttempts.data.map((row) => [row.attempt, row.result, row.status])).toEqual([
      [1, "http_error", 500],
      [2, "http_error", 500],
      [3, "delivered", 200],
    ]);
    const thirdView = await getJson<EventView>(`/v1/events/evt-third-0?tenantId=${MIX}`);
    expect(thirdView).toMatchObject({
      tenantId: MIX,
      eventId: "evt-third-0",
      eventType: "test.third-0",
      body: { type: "test.third-0", data: { id: "evt-third-0", note: "attempt log" } },
    });
    expect(thirdView.tasks).toEqual([
      expect.objectContaining({ endpointId: third[0], state: "delivered", attempts: 3 }),
    ]);
    const deadView = await getJson<EventView>(`/v1/events/evt-dead-0?tenantId=${MIX}`);
    const letter = letters.find((l) => l.eventId === "evt-dead-0");
    expect(deadView.tasks).toEqual([
      expect.objectContaining({
        endpointId: dead,
        state: "dead_lettered",
        attempts: 3,
        deadLetterId: letter?.id,
      }),
    ]);

    // Delivery stats of the mix: every figure exactly.
    const stats = await getJson<DeliveryStats>(`/v1/stats?tenantId=${MIX}&window=1h`);
    const latencies = rows.filter((r) => r.result === "delivered").map((r) => r.durationMs);
    expect(stats).toMatchObject({
      attempts: 16,
      delivered: 6,
      failedAttempts: 10,
      deadLettered: 2,
      firstAttemptSuccessRate: 4 / 8,
      retryRate: 8 / 16,
      byResult: { delivered: 6, http_error: 10 },
      latencyMs: {
        p50: percentileDisc(latencies, 0.5),
        p95: percentileDisc(latencies, 0.95),
        p99: percentileDisc(latencies, 0.99),
      },
    });
    expect(stats.averageAttemptsPerDelivered).toBeCloseTo((4 * 1 + 2 * 3) / 6, 10);
    expect(stats.byStatusClass).toMatchObject({ "2xx": 6, "5xx": 10 });
    expect(stats.topFailingEndpoints).toEqual([
      { endpointId: dead, failedAttempts: 6, attempts: 6 },
      ...[...third].sort().map((endpointId) => ({ endpointId, failedAttempts: 2, attempts: 3 })),
    ]);
    const oneEndpoint = await getJson<DeliveryStats>(
      `/v1/stats?tenantId=${MIX}&endpointId=${first}&window=1h`,
    );
    expect(oneEndpoint).toMatchObject({ attempts: 4, delivered: 4, firstAttemptSuccessRate: 1 });

    // A retry waiting in its tier shows as retrying, with when it will be sent.
    const waiting = await createEndpoint(OTHER, "/later", { retrySchedule: ["10m"] });
    sink.setDefault("/later", { status: 500 });
    await postEvent(OTHER, "evt-later", "test.later");
    await sink.waitFor(1, { path: "/later" });
    const laterView = await eventually(async () => {
      const res = await dlq.request(`/v1/events/evt-later?tenantId=${OTHER}`);
      return res.status === 200 ? ((await res.json()) as EventView) : undefined;
    }, "the waiting event's view");
    expect(laterView.tasks).toEqual([
      expect.objectContaining({ endpointId: waiting, state: "retrying", attempts: 1 }),
    ]);
    const nextAt = Date.parse(laterView.tasks[0]?.nextAttemptAt ?? "");
    expect(nextAt - Date.now()).toBeGreaterThan(8 * 60_000);

    // A replay's attempts are marked as such.
    sink.setDefault("/dead", { status: 200, body: "back" });
    await dlq.replay(letter?.id ?? "", "fixed");
    await sink.waitFor(7, { path: "/dead" });
    const replayed = await loggedAttempts(
      { tenantId: MIX, eventId: "evt-dead-0", result: "delivered" },
      1,
    );
    expect(replayed).toEqual([
      expect.objectContaining({ attempt: 1, replay: true, replayOf: letter?.id, status: 200 }),
    ]);
  });
});
