import { type NatsServerHandle, pollUntil, runService, startNatsServer } from "@hookline/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const TOKEN = "dev-ingest-token-123";

describe("ingest main", () => {
  let nats: NatsServerHandle;
  beforeAll(async () => {
    nats = await startNatsServer();
  });
  afterAll(async () => {
    await nats?.stop();
  });

  it("exits 78 with one message naming every bad variable", async () => {
    const running = runService("ingest", { NATS_URL: nats.url, PORT: "abc" });
    expect(await running.exitCode).toBe(78);
    const lines = running.output().trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain("PORT");
    expect(lines[0]).toContain("INGEST_API_TOKENS");
  });

  it("serves the API once ready and exits 0 on SIGTERM", async () => {
    const running = runService("ingest", {
      NATS_URL: nats.url,
      PORT: "0",
      INGEST_API_TOKENS: `dev:${TOKEN}`,
      HOOKLINE_PREFIX: "ingest_main",
    });
    try {
      const base = await running.baseUrl();
      await running.ready(20_000);
      const auth = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };
      const created = await fetch(`${base}/v1/endpoints`, {
        method: "POST",
        headers: auth,
        body: JSON.stringify({ url: "https://example.com/h", eventTypes: ["main.test"] }),
      });
      expect(created.status).toBe(201);
      const accepted = await fetch(`${base}/v1/events`, {
        method: "POST",
        headers: auth,
        body: JSON.stringify({ eventType: "main.test", payload: { ok: true } }),
      });
      expect(accepted.status).toBe(202);
      expect(await accepted.json()).toMatchObject({ tasks: 1, duplicate: false });
      expect(running.output()).not.toContain(TOKEN);
    } finally {
      await running.terminate();
    }
    expect(await running.exitCode).toBe(0);
  });

  it("exits 0 on SIGTERM while provisioning still fails", async () => {
    // A single server refuses replicated streams, so provisioning keeps retrying.
    const running = runService("ingest", {
      NATS_URL: nats.url,
      PORT: "0",
      INGEST_API_TOKENS: `dev:${TOKEN}`,
      HOOKLINE_PREFIX: "ingest_unprovisioned",
      JETSTREAM_REPLICAS: "3",
    });
    try {
      await pollUntil(async () => running.output().includes("provisioning failed"), {
        timeoutMs: 20_000,
        what: "ingest to fail provisioning",
        detail: running.output,
      });
    } finally {
      await running.terminate();
    }
    expect(await running.exitCode).toBe(0);
    expect(running.output()).not.toContain("failed to start");
  });

  it("answers health checks while NATS is down at start, and becomes ready when it comes up", async () => {
    const late = await startNatsServer();
    try {
      await late.kill();
      const running = runService("ingest", {
        NATS_URL: late.url,
        PORT: "0",
        INGEST_API_TOKENS: `dev:${TOKEN}`,
        HOOKLINE_PREFIX: "ingest_late",
      });
      try {
        const base = await running.baseUrl();
        expect((await fetch(`${base}/healthz`)).status).toBe(200);
        const readiness = await fetch(`${base}/readyz`);
        expect(readiness.status).toBe(503);
        expect(await readiness.json()).toMatchObject({
          checks: { nats: false, provisioned: false, endpointCache: false },
        });
        const early = await fetch(`${base}/v1/events`, {
          method: "POST",
          headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
          body: JSON.stringify({ eventType: "a.b", payload: 1 }),
        });
        expect(early.status).toBe(503);
        expect(early.headers.get("retry-after")).toBe("1");

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
