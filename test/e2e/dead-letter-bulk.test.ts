import { pollUntil, type Sink, sleep } from "@hookline/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DeadLetterStats, DlqClient } from "../support/dlq-client";
import { type E2eStackWithDlq, startE2eStack } from "../support/e2e-stack";
import type { IngestClient } from "../support/ingest-client";

const TOTAL = 1_000;
const BATCH = 500;
/** Unequal shares, so a count that matches one endpoint's can't be another's by accident. */
const kinds = ["a", "b", "c"] as const;
type Kind = (typeof kinds)[number];
const kindOf = (n: number): Kind => (n % 20 < 8 ? "a" : n % 20 < 15 ? "b" : "c");
const expected: Record<Kind, number> = { a: 400, b: 350, c: 250 };

let e2e: E2eStackWithDlq;
let sink: Sink;
let ingest: IngestClient;
let dlq: DlqClient;
const endpoints = {} as Record<Kind, string>;

beforeAll(async () => {
  e2e = await startE2eStack({
    prefix: "e2edlqbulk",
    services: ["ingest", "delivery", "classifier", "dlq"],
    env: { RETRY_SCHEDULE: "200ms,500ms", RETRY_TIERS: "200ms,1s,3s" },
  });
  ({ sink, ingest, dlq } = e2e);
  for (const kind of kinds) {
    const path = `/bulk-${kind}`;
    sink.setDefault(path, { status: 400 });
    const endpoint = await ingest.createEndpoint({
      url: sink.url(path),
      eventTypes: [`bulk.${kind}`],
    });
    sink.setSecrets(path, [endpoint.secret]);
    endpoints[kind] = endpoint.id;
  }
});

afterAll(() => e2e?.stop());

async function stats(): Promise<DeadLetterStats> {
  const answer = await dlq.stats();
  expect(answer.status).toBe(200);
  return answer.json;
}

describe("a thousand dead letters across three endpoints", () => {
  it("stores every refused webhook as a non_retryable letter", { timeout: 60_000 }, async () => {
    for (let start = 0; start < TOTAL; start += BATCH) {
      const events = Array.from({ length: BATCH }, (_, i) => {
        const n = start + i;
        return { id: `bulk-${kindOf(n)}-${n}`, eventType: `bulk.${kindOf(n)}`, payload: { n } };
      });
      const res = await ingest.request("/v1/events/batch", {
        method: "POST",
        body: JSON.stringify({ events }),
      });
      expect(res.status).toBe(202);
      const { results } = (await res.json()) as { results: { tasks: number }[] };
      expect(results.filter((result) => result.tasks === 1)).toHaveLength(BATCH);
    }

    let latest: DeadLetterStats | undefined;
    await pollUntil(
      async () => {
        latest = await stats();
        return latest.byStatus.open >= TOTAL;
      },
      {
        timeoutMs: 45_000,
        intervalMs: 250,
        what: `${TOTAL} open dead letters`,
        detail: () => JSON.stringify(latest?.byStatus),
      },
    );
    expect(latest).toMatchObject({
      byStatus: { open: TOTAL, replayed: 0, resolved: 0, discarded: 0 },
      byReason: { non_retryable: TOTAL },
      byEndpoint: {
        [endpoints.a]: expected.a,
        [endpoints.b]: expected.b,
        [endpoints.c]: expected.c,
      },
      byEventType: { "bulk.a": expected.a, "bulk.b": expected.b, "bulk.c": expected.c },
    });
    // Each was tried once: 400 is not retried.
    expect(sink.count()).toBe(TOTAL);
  });

  it("bulk-replays one endpoint's letters: each delivered exactly once, no others", {
    timeout: 45_000,
  }, async () => {
    for (const kind of kinds) sink.setDefault(`/bulk-${kind}`, { status: 200 });
    sink.clear();

    const replay = await dlq.replayMatching({
      filter: { endpointId: endpoints.a },
      note: "endpoint a fixed",
    });
    expect(replay.status).toBe(200);
    expect(replay.json).toEqual({ matched: expected.a, done: expected.a });

    const deliveries = await sink.waitFor(expected.a, { path: "/bulk-a", timeoutMs: 30_000 });
    // Time for a duplicate or a stray replay to show up.
    await sleep(1_500);
    expect(sink.count("/bulk-a")).toBe(expected.a);
    expect(sink.count("/bulk-b")).toBe(0);
    expect(sink.count("/bulk-c")).toBe(0);
    expect(deliveries.every((delivery) => delivery.verified)).toBe(true);
    const ids = new Set(deliveries.map((delivery) => delivery.webhookId));
    expect(ids.size).toBe(expected.a);
    const wanted = Array.from({ length: TOTAL }, (_, n) => n)
      .filter((n) => kindOf(n) === "a")
      .map((n) => `bulk-a-${n}`);
    expect([...ids].sort()).toEqual(wanted.sort());

    const after = await stats();
    expect(after.byStatus).toEqual({
      open: TOTAL - expected.a,
      replayed: expected.a,
      resolved: 0,
      discarded: 0,
    });
    // Replayed letters are no longer open: repeating the call replays nothing.
    const again = await dlq.replayMatching({ filter: { endpointId: endpoints.a } });
    expect(again.json).toEqual({ matched: 0, done: 0 });
  });

  it("bulk-resolves another endpoint's letters with a note, and the stats follow", async () => {
    const before = await stats();
    const resolve = await dlq.resolveMatching({
      filter: { endpointId: endpoints.b, status: "open" },
      note: "partner b re-fetched these from our API",
    });
    expect(resolve.status).toBe(200);
    expect(resolve.json).toEqual({ matched: expected.b, done: expected.b });

    const after = await stats();
    expect(after.byStatus.resolved).toBe(before.byStatus.resolved + resolve.json.matched);
    expect(after.byStatus.open).toBe(before.byStatus.open - resolve.json.matched);
    expect(after.byStatus.replayed).toBe(before.byStatus.replayed);

    const page = await dlq.list({ endpointId: endpoints.b, limit: 200 });
    expect(page.json.data).toHaveLength(200);
    for (const letter of page.json.data) {
      expect(letter).toMatchObject({
        status: "resolved",
        resolvedBy: "ops",
        note: "partner b re-fetched these from our API",
      });
    }
    const stillOpen = await dlq.stats({ status: "open" });
    expect(stillOpen.json.byEndpoint).toEqual({ [endpoints.c]: expected.c });
    // Nothing was sent for the resolved letters.
    expect(sink.count("/bulk-b")).toBe(0);
  });
});
