import { type NatsServerHandle, pollUntil, runService, startNatsServer } from "@hookline/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

describe("delivery main", () => {
  let nats: NatsServerHandle;
  beforeAll(async () => {
    nats = await startNatsServer();
  });
  afterAll(async () => {
    await nats?.stop();
  });

  it("exits 78 with one message naming every bad variable", async () => {
    const running = runService("delivery", {
      NATS_URL: nats.url,
      PORT: "abc",
      DELIVERY_RETRY_SHARE: "1.5",
    });
    expect(await running.exitCode).toBe(78);
    const lines = running.output().trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain("PORT");
    expect(lines[0]).toContain("DELIVERY_RETRY_SHARE");
  });

  it("becomes ready and exits 0 on SIGTERM", async () => {
    const running = runService("delivery", {
      NATS_URL: nats.url,
      PORT: "0",
      HOOKLINE_PREFIX: "delivery_main",
    });
    try {
      await running.ready(20_000);
      const readiness = await fetch(`${await running.baseUrl()}/readyz`);
      expect(await readiness.json()).toMatchObject({
        checks: { nats: true, provisioned: true, endpointCache: true },
      });
    } finally {
      await running.terminate();
    }
    expect(await running.exitCode).toBe(0);
  });

  it("exits 0 on SIGTERM after its NATS server has gone, without waiting out the deadline", {
    timeout: 60_000,
  }, async () => {
    const own = await startNatsServer();
    const running = runService("delivery", {
      NATS_URL: own.url,
      PORT: "0",
      HOOKLINE_PREFIX: "delivery_orphaned",
    });
    try {
      await running.ready(20_000);
      const baseUrl = await running.baseUrl();
      await own.stop();
      await pollUntil(
        async () => {
          const readiness = (await (await fetch(`${baseUrl}/readyz`)).json()) as {
            checks: { nats: boolean };
          };
          return !readiness.checks.nats;
        },
        { timeoutMs: 20_000, what: "delivery to see NATS gone", detail: running.output },
      );
      const stopping = Date.now();
      await running.terminate();
      // The deadline (SHUTDOWN_TIMEOUT, 25 s) would also end it, with a warning: not that way.
      expect(Date.now() - stopping).toBeLessThan(10_000);
    } finally {
      await running.terminate();
      await own.stop();
    }
    expect(await running.exitCode).toBe(0);
    expect(running.output()).not.toContain("shutdown deadline passed");
  });

  it("exits 0 on SIGTERM while provisioning still fails", async () => {
    // A single server refuses replicated streams, so provisioning keeps retrying.
    const running = runService("delivery", {
      NATS_URL: nats.url,
      PORT: "0",
      HOOKLINE_PREFIX: "delivery_unprovisioned",
      JETSTREAM_REPLICAS: "3",
    });
    try {
      await pollUntil(async () => running.output().includes("provisioning failed"), {
        timeoutMs: 20_000,
        what: "delivery to fail provisioning",
        detail: running.output,
      });
    } finally {
      await running.terminate();
    }
    expect(await running.exitCode).toBe(0);
  });
});
