import { encodeTask, Header, type TaskMeta } from "@hookline/contracts";
import { type NatsServerHandle, startNatsServer } from "@hookline/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ClassifierHarness,
  decodedDeadLetter,
  lastOn,
  randomEndpointId,
  startClassifierHarness,
  waitUntil,
} from "../testing/classifier-harness";
import { startPassedTaskSweep } from "./passed-task-sweep";
import { createPoisonSettler } from "./poison-handler";

let nats: NatsServerHandle;
let h: ClassifierHarness;

beforeAll(async () => {
  nats = await startNatsServer();
  // No classifier runs: the advisory is left unread, as if it had been lost.
  h = await startClassifierHarness({
    natsUrl: nats.url,
    prefix: "sweep",
    provision: { deliveryAckWaitMs: 300 },
  });
});

afterAll(async () => {
  await h?.close();
  await nats?.stop();
});

describe("the passed-task sweep", () => {
  it("dead-letters a task its consumer passed when the advisory was lost", {
    timeout: 30_000,
  }, async () => {
    const endpointId = randomEndpointId();
    const now = Date.now();
    const task: TaskMeta = {
      taskId: `evt_passed:${endpointId}`,
      eventId: "evt_passed",
      eventType: "order.created",
      endpointId,
      attempt: 2,
      deferrals: 0,
      createdAt: now,
      deadline: now + 86_400_000,
    };
    const stream = h.names.streams.dispatchRetry;
    const published = await h.js.publish(h.names.subjects.dispatchRetry(endpointId), "{}", {
      headers: encodeTask(task, `${task.taskId}#2@1`),
    });

    // A worker that crashes on it every time, until max_deliver.
    const consumer = await h.js.consumers.get(stream, h.names.consumers.deliveryRetry);
    const stuck = await consumer.consume({ max_messages: 1 });
    let deliveries = 0;
    void (async () => {
      for await (const _msg of stuck) deliveries++;
    })();
    await waitUntil("max_deliver reached", async () => {
      const info = await h.jsm.consumers.info(stream, h.names.consumers.deliveryRetry);
      return deliveries >= 5 && info.num_ack_pending === 0;
    });
    await stuck.close();
    // The advisory is lost.
    await h.jsm.streams.purge(h.names.streams.advisories);
    expect(await h.jsm.streams.getMessage(stream, { seq: published.seq })).not.toBeNull();

    const sweep = startPassedTaskSweep({
      jsm: h.jsm,
      names: h.names,
      settle: createPoisonSettler({ ...h.classifierOptions(), jsm: h.jsm }),
      logger: h.logger,
    });
    try {
      expect(await sweep.sweepOnce()).toBe(1);
      const stored = await lastOn(
        h.jsm,
        h.names.streams.deadletter,
        h.names.subjects.deadletter(endpointId),
      );
      if (stored === undefined) throw new Error("no dead letter");
      expect(decodedDeadLetter(stored)).toMatchObject({ reason: "poison", taskId: task.taskId });
      expect(stored.header.get(Header.error)).toContain("delivery-retry");
      expect(await h.jsm.streams.getMessage(stream, { seq: published.seq })).toBeNull();
      // Nothing left to do: a second sweep settles nothing and writes nothing twice.
      expect(await sweep.sweepOnce()).toBe(0);
    } finally {
      sweep.stop();
    }
  });
});
