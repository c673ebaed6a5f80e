import { encodeTask, type TaskMeta } from "@hookline/contracts";
import { type NatsServerHandle, startNatsServer } from "@hookline/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ClassifierHarness,
  randomEndpointId,
  startClassifierHarness,
  tiersOf,
  waitForLastOn,
} from "../testing/classifier-harness";
import { ensureTierConsumers, formerTierConsumers, verifyTierConsumers } from "./tier-consumers";

let nats: NatsServerHandle;
let h: ClassifierHarness;

beforeAll(async () => {
  nats = await startNatsServer();
  h = await startClassifierHarness({ natsUrl: nats.url, prefix: "tc", tiers: "200ms,1s" });
});

afterAll(async () => {
  await h?.close();
  await nats?.stop();
});

describe("tier consumers", () => {
  it("are created idempotently and updated to the configured max_ack_pending", async () => {
    await ensureTierConsumers(h.jsm, h.names, tiersOf("200ms,1s"), 50);
    await ensureTierConsumers(h.jsm, h.names, tiersOf("200ms,1s"), 80);
    const info = await h.jsm.consumers.info(h.names.streams.retry, "retry-1s");
    expect(info.config).toMatchObject({
      filter_subject: "tc.retry.1s.>",
      max_ack_pending: 80,
      ack_policy: "explicit",
    });
  });

  it("are only checked in verify mode: a missing one is named, none is created", async () => {
    expect(await verifyTierConsumers(h.jsm, h.names, tiersOf("200ms,1s"))).toEqual({
      outcome: "present",
    });
    expect(await verifyTierConsumers(h.jsm, h.names, tiersOf("200ms,1s,7s"))).toEqual({
      outcome: "missing",
      resource: `consumer retry-7s on ${h.names.streams.retry}`,
    });
    await expect(h.jsm.consumers.info(h.names.streams.retry, "retry-7s")).rejects.toThrow(
      /consumer not found/,
    );
  });

  it("keep draining a tier that RETRY_TIERS no longer lists", async () => {
    const former = await formerTierConsumers(h.jsm, h.names, tiersOf("200ms"));
    expect(former).toEqual(["retry-1s"]);

    const endpointId = randomEndpointId();
    const now = Date.now();
    const task: TaskMeta = {
      taskId: `evt_old:${endpointId}`,
      eventId: "evt_old",
      eventType: "order.created",
      endpointId,
      attempt: 1,
      deferrals: 0,
      createdAt: now,
      deadline: now + 60_000,
      notBefore: now + 300,
    };
    await h.js.publish(h.names.subjects.retry("1s", endpointId), "old", {
      headers: encodeTask(task, "old"),
    });
    h.startClassifier({
      policy: { ...h.policy, tiers: tiersOf("200ms") },
      formerTiers: former.map((name) => name.slice("retry-".length)),
    });
    const released = await waitForLastOn(
      h.jsm,
      h.names.streams.dispatchRetry,
      h.names.subjects.dispatchRetry(endpointId),
    );
    expect(released.string()).toBe("old");
  });
});
