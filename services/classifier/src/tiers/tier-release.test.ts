import { encodeTask, Header, type TaskMeta } from "@hookline/contracts";
import { type NatsServerHandle, startNatsServer } from "@hookline/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ClassifierHarness,
  randomEndpointId,
  startClassifierHarness,
  waitUntil,
} from "../testing/classifier-harness";

const RETRIES = 10_000;
const MAX_ACK_PENDING = 50;
const TIERS = [
  { name: "200ms", from: 0, to: 200 },
  { name: "1s", from: 200, to: 1_000 },
  { name: "3s", from: 1_000, to: 3_000 },
];
/** Generous: this checks that everything is released, not how fast. */
const RELEASE_BOUND_MS = 30_000;

let nats: NatsServerHandle;
let h: ClassifierHarness;

beforeAll(async () => {
  nats = await startNatsServer();
  h = await startClassifierHarness({
    natsUrl: nats.url,
    prefix: "tier",
    tiers: TIERS.map((tier) => tier.name).join(","),
    tierMaxAckPending: MAX_ACK_PENDING,
  });
});

afterAll(async () => {
  await h?.close();
  await nats?.stop();
});

interface Release {
  notBefore: number;
  receivedAt: number;
  msgId: string;
  subject: string;
}

describe("delayed redelivery by tiers", () => {
  it("holds 10,000 retries until due, within max_ack_pending, and releases every one", {
    timeout: 90_000,
  }, async () => {
    const releases = new Map<string, Release>();
    const sub = h.link.nc.subscribe(h.names.subjects.dispatchRetryAll, {
      callback: (error, msg) => {
        if (error) return;
        const receivedAt = Date.now();
        const taskId = msg.headers?.get(Header.taskId) ?? "";
        if (releases.has(taskId)) return;
        releases.set(taskId, {
          notBefore: Number(msg.headers?.get(Header.notBefore)),
          receivedAt,
          msgId: msg.headers?.get(Header.msgId) ?? "",
          subject: msg.subject,
        });
      },
    });
    await h.link.nc.flush();

    const tierConsumers = TIERS.map((tier) => h.names.consumers.retryTier(tier.name));
    const maxAckPending = new Map(tierConsumers.map((name) => [name, 0]));
    let polling = true;
    const poller = (async () => {
      while (polling) {
        for (const name of tierConsumers) {
          const info = await h.jsm.consumers.info(h.names.streams.retry, name);
          maxAckPending.set(name, Math.max(maxAckPending.get(name) ?? 0, info.num_ack_pending));
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();

    h.startClassifier();

    const endpointIds = Array.from({ length: 20 }, randomEndpointId);
    const expected = new Map<string, { notBefore: number; endpointId: string }>();
    const BATCH = 500;
    for (let start = 0; start < RETRIES; start += BATCH) {
      const publishes: Promise<unknown>[] = [];
      for (let i = start; i < Math.min(start + BATCH, RETRIES); i++) {
        const tier = TIERS[i % TIERS.length] ?? TIERS[0];
        if (!tier) throw new Error("no tiers");
        const endpointId = endpointIds[i % endpointIds.length] ?? randomEndpointId();
        const now = Date.now();
        // Due times inside a tier are deliberately out of publish order.
        const delay = tier.from + 1 + Math.floor(Math.random() * (tier.to - tier.from));
        const task: TaskMeta = {
          taskId: `evt_${i}:${endpointId}`,
          eventId: `evt_${i}`,
          eventType: "order.created",
          endpointId,
          attempt: 1,
          deferrals: 0,
          createdAt: now,
          deadline: now + 86_400_000,
          notBefore: now + delay,
        };
        expected.set(task.taskId, { notBefore: now + delay, endpointId });
        publishes.push(
          h.js.publish(h.names.subjects.retry(tier.name, endpointId), `{"n":${i}}`, {
            headers: encodeTask(task, `${task.taskId}#1@${i}`),
          }),
        );
      }
      await Promise.all(publishes);
    }

    const lastDue = Math.max(...[...expected.values()].map((entry) => entry.notBefore));
    await waitUntil(
      `all ${RETRIES} retries released (have ${releases.size})`,
      () => releases.size >= RETRIES,
      lastDue - Date.now() + RELEASE_BOUND_MS,
    );
    polling = false;
    await poller;
    sub.unsubscribe();

    let early = 0;
    let late = 0;
    for (const [taskId, release] of releases) {
      const wanted = expected.get(taskId);
      expect(wanted, taskId).toBeDefined();
      expect(release.notBefore).toBe(wanted?.notBefore);
      expect(release.subject).toBe(h.names.subjects.dispatchRetry(wanted?.endpointId ?? ""));
      expect(release.msgId).toMatch(new RegExp(`^${taskId}#1@\\d+$`));
      if (release.receivedAt < release.notBefore) early++;
      if (release.receivedAt > release.notBefore + RELEASE_BOUND_MS) late++;
    }
    expect({ early, late }).toEqual({ early: 0, late: 0 });
    for (const name of tierConsumers) {
      expect(maxAckPending.get(name), name).toBeLessThanOrEqual(MAX_ACK_PENDING);
    }
    // Every waiting retry was acked: the workqueue is empty, and DISPATCH holds each one once.
    await waitUntil("RETRY empty", async () => {
      const info = await h.jsm.streams.info(h.names.streams.retry);
      return info.state.messages === 0;
    });
    const dispatch = await h.jsm.streams.info(h.names.streams.dispatchRetry);
    expect(dispatch.state.messages).toBe(RETRIES);
    const released = await h.metrics.retryReleased.get();
    const total = released.values.reduce((sum, value) => sum + value.value, 0);
    expect(total).toBe(RETRIES);
  });
});

describe("a tier full of long waits", () => {
  it("releases a short retry behind them within one tier length of its due time", {
    timeout: 30_000,
  }, async () => {
    const small = await startClassifierHarness({
      natsUrl: nats.url,
      prefix: "tierlong",
      tiers: "1s,3s",
      tierMaxAckPending: 5,
    });
    try {
      const released = new Map<string, number>();
      const sub = small.link.nc.subscribe(small.names.subjects.dispatchRetryAll, {
        callback: (error, msg) => {
          const taskId = msg.headers?.get(Header.taskId) ?? "";
          if (!error && !released.has(taskId)) released.set(taskId, Date.now());
        },
      });
      await small.link.nc.flush();
      const endpointId = randomEndpointId();
      const publish = async (n: number, waitMs: number) => {
        const now = Date.now();
        const task: TaskMeta = {
          taskId: `evt_long_${n}:${endpointId}`,
          eventId: `evt_long_${n}`,
          eventType: "order.created",
          endpointId,
          attempt: 1,
          deferrals: 0,
          createdAt: now,
          deadline: now + 86_400_000,
          notBefore: now + waitMs,
        };
        await small.js.publish(small.names.subjects.retry("1s", endpointId), "{}", {
          headers: encodeTask(task, `${task.taskId}#1@${n}`),
        });
        return task;
      };
      // Eight waits far longer than the 1s tier (as a deferral capped only at 10 minutes once
      // put there): more than its five slots. Then a short retry behind them.
      for (let n = 0; n < 8; n++) await publish(n, 60_000);
      const short = await publish(99, 500);
      small.startClassifier();

      await waitUntil("the short retry released", () => released.has(short.taskId), 10_000);
      const lateBy = (released.get(short.taskId) ?? 0) - (short.notBefore ?? 0);
      expect(lateBy).toBeLessThanOrEqual(1_000 + 500); // one tier length, and scheduling slack
      // The long waits left the 1s tier for the longest one instead of holding its slots...
      await waitUntil("long waits moved to the 3s tier", async () => {
        const info = await small.jsm.consumers.info(small.names.streams.retry, "retry-1s");
        return info.num_pending === 0 && info.num_ack_pending === 0;
      });
      // ...and none of them went out early.
      expect([...released.keys()]).toEqual([short.taskId]);
      sub.unsubscribe();
    } finally {
      await small.close();
    }
  });
});
