import { hooklineNames } from "@hookline/contracts";
import { type NatsServerHandle, runService, startNatsServer } from "@hookline/testkit";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

describe("the provision step (src/provision.ts)", () => {
  let nats: NatsServerHandle;
  beforeAll(async () => {
    nats = await startNatsServer();
  });
  afterAll(async () => {
    await nats?.stop();
  });

  it("exits 78 naming a bad variable", async () => {
    const running = runService(
      "classifier",
      { NATS_URL: nats.url, RETRY_TIERS: "1.5s", HOOKLINE_PROVISION: "sometimes" },
      "provision",
    );
    expect(await running.exitCode).toBe(78);
    expect(running.output()).toContain("RETRY_TIERS");
  });

  it("is what a classifier in verify mode waits for: unready, naming what is missing", async () => {
    const env = { NATS_URL: nats.url, HOOKLINE_PREFIX: "provision_wait", RETRY_TIERS: "1s,1m" };
    const classifier = runService("classifier", {
      ...env,
      PORT: "0",
      HOOKLINE_PROVISION: "verify",
    });
    try {
      const base = await classifier.baseUrl();
      await expect
        .poll(() => classifier.output(), { timeout: 10_000 })
        .toContain("the provision step must run first");
      expect((await fetch(`${base}/readyz`)).status).toBe(503);
      // Verify mode created nothing.
      const nc = await connect({ servers: nats.url });
      try {
        const jsm = await jetstreamManager(nc);
        await expect(
          jsm.streams.info(hooklineNames("provision_wait").streams.dispatch),
        ).rejects.toThrow(/stream not found/);
      } finally {
        await nc.close();
      }

      const step = runService("classifier", env, "provision");
      expect(await step.exitCode, step.output()).toBe(0);
      await classifier.ready(20_000);
      expect(classifier.output()).toContain("jetstream verified");
    } finally {
      await classifier.terminate();
    }
  });

  it("creates every stream, durable, both buckets and the tier consumers, then exits 0", async () => {
    const prefix = "provision_step";
    const running = runService(
      "classifier",
      {
        NATS_URL: nats.url,
        HOOKLINE_PREFIX: prefix,
        RETRY_TIERS: "1s,1m",
        RETRY_TIER_MAX_ACK_PENDING: "7",
        DISPATCH_MAX_BYTES: "65536",
      },
      "provision",
    );
    expect(await running.exitCode, running.output()).toBe(0);

    const names = hooklineNames(prefix);
    const nc = await connect({ servers: nats.url });
    try {
      const jsm = await jetstreamManager(nc);
      for (const stream of Object.values(names.streams)) {
        expect((await jsm.streams.info(stream)).config.name).toBe(stream);
      }
      expect((await jsm.streams.info(names.streams.dispatch)).config.max_bytes).toBe(65_536);
      for (const bucket of [names.kv.endpoints, names.kv.tenants]) {
        expect((await jsm.streams.info(`KV_${bucket}`)).config.name).toBe(`KV_${bucket}`);
      }
      for (const [stream, consumer] of [
        [names.streams.dispatch, names.consumers.deliveryFresh],
        [names.streams.dispatchRetry, names.consumers.deliveryRetry],
        [names.streams.outcomes, names.consumers.classifier],
        [names.streams.deadletter, names.consumers.dlqStore],
        [names.streams.advisories, names.consumers.classifierPoison],
      ] as const) {
        expect((await jsm.consumers.info(stream, consumer)).name).toBe(consumer);
      }
      for (const tier of ["1s", "1m"]) {
        const info = await jsm.consumers.info(names.streams.retry, names.consumers.retryTier(tier));
        expect(info.config.max_ack_pending).toBe(7);
      }
    } finally {
      await nc.close();
    }
  });
});
