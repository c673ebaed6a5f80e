import { hooklineNames } from "@hookline/contracts";
import { type NatsServerHandle, runService, startNatsServer } from "@hookline/testkit";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

describe("classifier main", () => {
  let nats: NatsServerHandle;
  beforeAll(async () => {
    nats = await startNatsServer();
  });
  afterAll(async () => {
    await nats?.stop();
  });

  it("exits 78 with one message naming every bad variable", async () => {
    const running = runService("classifier", {
      NATS_URL: nats.url,
      RETRY_TIERS: "1.5s",
      RETRY_SCHEDULE: "soon",
    });
    expect(await running.exitCode).toBe(78);
    const lines = running.output().trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain("RETRY_TIERS");
    expect(lines[0]).toContain("RETRY_SCHEDULE");
  });

  it("creates its tier consumers, becomes ready, serves metrics and exits 0 on SIGTERM", async () => {
    const running = runService("classifier", {
      NATS_URL: nats.url,
      PORT: "0",
      HOOKLINE_PREFIX: "classifier_main",
      RETRY_TIERS: "200ms,1s",
      RETRY_TIER_MAX_ACK_PENDING: "20",
    });
    try {
      const base = await running.baseUrl();
      await running.ready(20_000);
      const metrics = await (await fetch(`${base}/metrics`)).text();
      for (const name of [
        "hookline_classifier_decisions_total",
        "hookline_retry_scheduled_total",
        "hookline_retry_released_total",
        "hookline_endpoints_disabled_total",
      ]) {
        expect(metrics).toContain(`# TYPE ${name} counter`);
      }

      const nc = await connect({ servers: nats.url });
      try {
        const jsm = await jetstreamManager(nc);
        const names = hooklineNames("classifier_main");
        for (const tier of ["200ms", "1s"]) {
          const info = await jsm.consumers.info(
            names.streams.retry,
            names.consumers.retryTier(tier),
          );
          expect(info.config.filter_subject).toBe(names.subjects.retryTierAll(tier));
          expect(info.config.max_ack_pending).toBe(20);
        }
      } finally {
        await nc.close();
      }
    } finally {
      await running.terminate();
    }
    expect(await running.exitCode).toBe(0);
  });

  it("answers health checks while NATS is down at start, and becomes ready when it comes up", async () => {
    const late = await startNatsServer();
    try {
      await late.kill();
      const running = runService("classifier", {
        NATS_URL: late.url,
        PORT: "0",
        HOOKLINE_PREFIX: "classifier_late",
      });
      try {
        const base = await running.baseUrl();
        expect((await fetch(`${base}/healthz`)).status).toBe(200);
        const readiness = await fetch(`${base}/readyz`);
        expect(readiness.status).toBe(503);
        expect(await readiness.json()).toMatchObject({
          checks: { nats: false, provisioned: false, endpointCache: false },
        });
        await late.restart();
        await running.ready(30_000);
      } finally {
        await running.terminate();
      }
      expect(await running.exitCode).toBe(0);
    } finally {
      await late.stop();
    }
  });
});
