import { Header, taskIdFor } from "@hookline/contracts";
import { pollUntil } from "@hookline/testkit";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DeadLetter } from "../support/dlq-client";
import { type E2eStackWithDlq, startE2eStack } from "../support/e2e-stack";

const prefix = "deadep";
const TASKS = 2_000;
const SCHEDULE_MS = [1_000, 2_000, 4_000, 8_000];
const JITTER = 0.2;
const RESET_TIMEOUT_MS = 30_000; // the breaker's default

let e2e: E2eStackWithDlq;
let nc: NatsConnection;

beforeAll(async () => {
  e2e = await startE2eStack({
    prefix,
    services: ["ingest", "delivery", "classifier", "dlq"],
    env: {
      RETRY_SCHEDULE: SCHEDULE_MS.map((ms) => `${ms}ms`).join(","),
      RETRY_JITTER: String(JITTER),
      LOG_LEVEL: "warn",
    },
  });
  nc = await connect({ servers: e2e.nats.url });
}, 120_000);

afterAll(async () => {
  await nc?.drain();
  await e2e?.stop();
});

/** How often each task was stored in each stream, from the subjects every copy is published on. */
function countCopies() {
  const copies = new Map<string, Record<string, number>>();
  const streamOf = (subject: string) => subject.split(".").slice(1, 3).join(".");
  const sub = nc.subscribe(`${prefix}.>`, {
    callback: (error, msg) => {
      const taskId = msg.headers?.get(Header.taskId);
      if (error || !taskId) return;
      // retry.<tier>, dispatch.fresh, dispatch.retry, outcome.failed, deadletter.<ep>
      const kind = msg.subject.startsWith(`${prefix}.deadletter.`)
        ? "deadletter"
        : msg.subject.startsWith(`${prefix}.retry.`)
          ? "retry"
          : streamOf(msg.subject);
      const counts = copies.get(taskId) ?? {};
      counts[kind] = (counts[kind] ?? 0) + 1;
      copies.set(taskId, counts);
    },
  });
  return { copies, stop: () => sub.unsubscribe() };
}

describe("a dead endpoint", () => {
  it("dead-letters all its tasks as exhausted on schedule, at a bounded cost", {
    timeout: 240_000,
  }, async () => {
    const { sink, ingest, dlq } = e2e;
    const path = "/always-500";
    sink.setDefault(path, { status: 500 });
    const endpoint = await ingest.createEndpoint({
      url: sink.url(path),
      eventTypes: ["dead.endpoint"],
    });
    const copies = countCopies();
    await nc.flush();

    const started = Date.now();
    const ids: string[] = [];
    for (let start = 0; start < TASKS; start += 500) {
      const events = Array.from({ length: 500 }, (_, i) => ({
        id: `dead-${start + i}`,
        eventType: "dead.endpoint",
        payload: { n: start + i },
      }));
      ids.push(...events.map((event) => event.id));
      const res = await ingest.request("/v1/events/batch", {
        method: "POST",
        body: JSON.stringify({ events }),
      });
      expect(res.status).toBe(202);
    }
    const accepted = Date.now();

    let letters: DeadLetter[] = [];
    const budgetMs =
      SCHEDULE_MS.reduce((sum, ms) => sum + ms, 0) * (1 + JITTER) + RESET_TIMEOUT_MS + 30_000;
    await pollUntil(
      async () => {
        const stats = await dlq.stats({ endpointId: endpoint.id });
        return (stats.json.byStatus.open ?? 0) >= TASKS;
      },
      { timeoutMs: budgetMs, intervalMs: 1_000, what: `${TASKS} dead letters` },
    );
    const took = Date.now() - accepted;
    copies.stop();

    let cursor: string | undefined;
    do {
      const page = await dlq.list({ endpointId: endpoint.id, cursor, limit: 200 });
      letters.push(...page.json.data);
      cursor = page.json.nextCursor ?? undefined;
    } while (cursor);
    letters = letters.filter((letter) => letter.eventId?.startsWith("dead-"));
    expect(new Set(letters.map((letter) => letter.eventId))).toEqual(new Set(ids));
    expect(letters.every((letter) => letter.reason === "exhausted")).toBe(true);
    // Every attempt counted, whether it was sent or came due while the breaker was open.
    expect(letters.every((letter) => letter.attemptCount === SCHEDULE_MS.length + 1)).toBe(true);
    // Only until the breaker opened, and its probes, did the endpoint see requests.
    expect(sink.count(path)).toBeLessThan(TASKS);

    // Within the schedule (with its jitter) plus one breaker reset window, and the time the box
    // needs to move 2,000 tasks through five passes each.
    console.info(
      `dead endpoint: ${TASKS} tasks accepted in ${accepted - started} ms, all exhausted ` +
        `${took} ms later; ${sink.count(path)} requests reached it`,
    );
    expect(took).toBeLessThan(budgetMs);

    // Bounded cost: each pass stores the task once in each of OUTCOMES, RETRY and DISPATCH,
    // never more than the schedule's length + 3 times in any stream (the first wave looped).
    const limit = SCHEDULE_MS.length + 3;
    for (const id of ids.slice(0, 200)) {
      const counts = copies.copies.get(taskIdFor(id, endpoint.id));
      expect(counts, id).toBeDefined();
      for (const [stream, count] of Object.entries(counts ?? {})) {
        expect(count, `${id} in ${stream}`).toBeLessThanOrEqual(limit);
      }
      expect(counts?.["outcome.failed"]).toBe(SCHEDULE_MS.length + 1);
      expect(counts?.deadletter).toBe(1);
    }
  });
});
