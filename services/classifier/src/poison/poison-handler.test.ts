import { encodeTask, Header, type TaskMeta } from "@hookline/contracts";
import { type NatsServerHandle, startNatsServer } from "@hookline/testkit";
import type { ConsumerMessages } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ClassifierHarness,
  consumerBacklog,
  decodedDeadLetter,
  lastOn,
  randomEndpointId,
  startClassifierHarness,
  waitForLastOn,
  waitUntil,
} from "../testing/classifier-harness";

let nats: NatsServerHandle;
let h: ClassifierHarness;
let stuckWorker: ConsumerMessages | undefined;

beforeAll(async () => {
  nats = await startNatsServer();
  // A short ack_wait makes the five deliveries take about a second and a half.
  h = await startClassifierHarness({
    natsUrl: nats.url,
    prefix: "poison",
    provision: { deliveryAckWaitMs: 300 },
  });
  h.startClassifier();
});

afterAll(async () => {
  stuckWorker?.stop();
  await h?.close();
  await nats?.stop();
});

const advisorySubject = () =>
  `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${h.names.streams.dispatch}.${h.names.consumers.deliveryFresh}`;

async function advisoriesSettled() {
  await waitUntil("advisories acked", async () => {
    const backlog = await consumerBacklog(
      h.jsm,
      h.names.streams.advisories,
      h.names.consumers.classifierPoison,
    );
    return backlog.pending === 0 && backlog.ackPending === 0;
  });
}

describe("poison capture", () => {
  it("dead-letters a task that a worker never acks as poison and removes it from DISPATCH", {
    timeout: 30_000,
  }, async () => {
    const endpointId = randomEndpointId();
    const now = Date.now();
    const task: TaskMeta = {
      taskId: `evt_poison:${endpointId}`,
      eventId: "evt_poison",
      eventType: "order.created",
      endpointId,
      tenantId: "acme",
      attempt: 0,
      deferrals: 0,
      createdAt: now,
      deadline: now + 86_400_000,
    };
    const body = '{"type":"order.created","timestamp":"t","data":{"crash":true}}';
    const published = await h.js.publish(h.names.subjects.dispatchFresh(endpointId), body, {
      headers: encodeTask(task, task.taskId),
    });
    // An undecodable one alongside it ends up raw on deadletter.invalid.
    const brokenHeaders = natsHeaders();
    brokenHeaders.set(Header.msgId, `broken:${endpointId}`);
    const broken = await h.js.publish(h.names.subjects.dispatchFresh(endpointId), "raw", {
      headers: brokenHeaders,
    });

    // The stuck worker keeps a pull open (the advisory needs one) and never acks.
    let deliveries = 0;
    const consumer = await h.js.consumers.get(
      h.names.streams.dispatch,
      h.names.consumers.deliveryFresh,
    );
    stuckWorker = await consumer.consume({ max_messages: 2 });
    void (async () => {
      for await (const _msg of stuckWorker ?? []) deliveries++;
    })();

    const stored = await waitForLastOn(
      h.jsm,
      h.names.streams.deadletter,
      h.names.subjects.deadletter(endpointId),
      20_000,
    );
    const deadLetter = decodedDeadLetter(stored);
    expect(deadLetter).toMatchObject({
      reason: "poison",
      taskId: task.taskId,
      eventId: task.eventId,
      tenantId: "acme",
      attempt: 0,
      history: [],
    });
    expect(stored.string()).toBe(body);
    expect(stored.header.get(Header.error)).toContain("delivered 5 times to delivery-fresh");
    expect(stored.header.get(Header.msgId)).toBe(`${task.taskId}#poison@${published.seq}`);
    expect(deliveries).toBeGreaterThanOrEqual(5);

    const invalid = await waitForLastOn(
      h.jsm,
      h.names.streams.deadletter,
      h.names.subjects.deadletterInvalid,
      20_000,
    );
    expect(invalid.header.get(Header.reason)).toBe("invalid_message");
    expect(invalid.header.get(Header.error)).toMatch(/^poison/);
    expect(invalid.header.get("Hookline-Original-Subject")).toBe(
      h.names.subjects.dispatchFresh(endpointId),
    );
    expect(invalid.string()).toBe("raw");

    await waitUntil("DISPATCH emptied", async () => {
      const info = await h.jsm.streams.info(h.names.streams.dispatch);
      return info.state.messages === 0;
    });
    expect(
      await h.jsm.streams.getMessage(h.names.streams.dispatch, { seq: published.seq }),
    ).toBeNull();
    expect(
      await h.jsm.streams.getMessage(h.names.streams.dispatch, { seq: broken.seq }),
    ).toBeNull();
    await advisoriesSettled();
  });

  it("acks an advisory whose message is gone already", async () => {
    const before = await h.jsm.streams.info(h.names.streams.deadletter);
    await h.js.publish(
      advisorySubject(),
      JSON.stringify({
        type: "io.nats.jetstream.advisory.v1.max_deliver",
        stream: h.names.streams.dispatch,
        consumer: h.names.consumers.deliveryFresh,
        stream_seq: 999_999,
        deliveries: 5,
      }),
    );
    await advisoriesSettled();
    const after = await h.jsm.streams.info(h.names.streams.deadletter);
    expect(after.state.messages).toBe(before.state.messages);
  });

  it("dead-letters an unreadable advisory raw", async () => {
    await h.js.publish(advisorySubject(), "not json");
    await waitUntil("invalid advisory dead-lettered", async () => {
      const last = await lastOn(
        h.jsm,
        h.names.streams.deadletter,
        h.names.subjects.deadletterInvalid,
      );
      return last?.string() === "not json";
    });
    await advisoriesSettled();
  });
});
