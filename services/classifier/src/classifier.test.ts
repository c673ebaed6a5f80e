import {
  appendAttempt,
  decodeTask,
  encodeOutcome,
  encodeTask,
  Header,
  type TaskMeta,
} from "@hookline/contracts";
import { type NatsServerHandle, startNatsServer } from "@hookline/testkit";
import type { ConsumerMessages } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ClassifierHarness,
  decodedDeadLetter,
  putEndpoint,
  startClassifierHarness,
  waitForLastOn,
} from "./testing/classifier-harness";

let nats: NatsServerHandle;
let h: ClassifierHarness;
let failingDelivery: ConsumerMessages | undefined;
/** The stand-in delivery's loop: awaited before the connection closes under it. */
let standIn: Promise<void> | undefined;

beforeAll(async () => {
  nats = await startNatsServer();
  h = await startClassifierHarness({ natsUrl: nats.url, prefix: "loop", tiers: "1s,5s" });
  h.startClassifier();
});

afterAll(async () => {
  failingDelivery?.stop();
  await standIn;
  await h?.close();
  await nats?.stop();
});

describe("classifier, outcome to retry to dispatch and back", () => {
  it("retries an always-failing endpoint on its own schedule, then dead-letters it exhausted", async () => {
    const { record } = await putEndpoint(h.kv, h.endpoints, { retrySchedule: ["200ms", "300ms"] });
    const releases: { attempt: number; notBefore: number; receivedAt: number }[] = [];

    // Stands in for delivery: every retry fails with a 503 and its outcome goes back.
    const consumer = await h.js.consumers.get(
      h.names.streams.dispatchRetry,
      h.names.consumers.deliveryRetry,
    );
    failingDelivery = await consumer.consume({ max_messages: 10 });
    standIn = (async () => {
      for await (const msg of failingDelivery ?? []) {
        const receivedAt = Date.now();
        const decoded = decodeTask(msg.headers);
        if (!decoded.ok) throw new Error(decoded.error);
        const task = decoded.value;
        releases.push({ attempt: task.attempt, notBefore: task.notBefore ?? 0, receivedAt });
        const attempt = task.attempt + 1;
        const outcome = {
          ...task,
          attempt,
          history: appendAttempt(task.history, {
            n: attempt,
            at: receivedAt,
            result: "http_error",
            status: 500,
            ms: 1,
          }),
          result: "http_error" as const,
          status: 500,
          durationMs: 1,
        };
        await h.js.publish(h.names.subjects.outcomeFailed(task.endpointId), msg.data, {
          headers: encodeOutcome(outcome, `${task.taskId}#${attempt}@${msg.seq}`),
        });
        msg.ack();
      }
    })();

    // The first attempt failed: its outcome starts the loop.
    const now = Date.now();
    const task: TaskMeta = {
      taskId: `evt_loop:${record.id}`,
      eventId: "evt_loop",
      eventType: "order.created",
      endpointId: record.id,
      attempt: 0,
      deferrals: 0,
      createdAt: now,
      deadline: now + 86_400_000,
    };
    const first = {
      ...task,
      attempt: 1,
      history: appendAttempt([], { n: 1, at: now, result: "http_error", status: 500, ms: 1 }),
      result: "http_error" as const,
      status: 500,
      durationMs: 1,
    };
    await h.js.publish(h.names.subjects.outcomeFailed(record.id), "body", {
      headers: encodeOutcome(first, `${task.taskId}#1@0`),
    });

    const stored = await waitForLastOn(
      h.jsm,
      h.names.streams.deadletter,
      h.names.subjects.deadletter(record.id),
    );
    const deadLetter = decodedDeadLetter(stored);
    expect(deadLetter).toMatchObject({ reason: "exhausted", attempt: 3, taskId: task.taskId });
    expect(deadLetter.history.map((entry) => entry.n)).toEqual([1, 2, 3]);
    expect(stored.string()).toBe("body");
    expect(stored.header.get(Header.msgId)).toMatch(new RegExp(`^${task.taskId}#dead3@\\d+$`));

    // Two retries, each released no earlier than it was due.
    expect(releases.map((release) => release.attempt)).toEqual([1, 2]);
    for (const release of releases)
      expect(release.receivedAt).toBeGreaterThanOrEqual(release.notBefore);
    const info = await h.jsm.streams.info(h.names.streams.retry);
    expect(info.state.messages).toBe(0);
  });

  it("releases a retry whose Not-Before has passed at once", async () => {
    const { record } = await putEndpoint(h.kv, h.endpoints);
    const now = Date.now();
    const task: TaskMeta = {
      taskId: `evt_due:${record.id}`,
      eventId: "evt_due",
      eventType: "order.created",
      endpointId: record.id,
      attempt: 2,
      deferrals: 1,
      createdAt: now,
      deadline: now + 60_000,
      notBefore: now - 1,
    };
    // Delivery's stand-in from the test above acks it at once; a subscription sees it go by.
    const sub = h.link.nc.subscribe(h.names.subjects.dispatchRetry(record.id), { max: 1 });
    const next = (async () => {
      for await (const msg of sub) return msg;
      throw new Error("subscription ended");
    })();
    const published = await h.js.publish(h.names.subjects.retry("5s", record.id), "due", {
      headers: encodeTask(task, "x"),
    });
    const released = await next;
    if (!released.headers) throw new Error("no headers");
    expect(released.headers.get(Header.msgId)).toBe(`${task.taskId}#2d1@${published.seq}`);
    expect(decodeTask(released.headers)).toEqual({ ok: true, value: task });
  });
});
