import { hooklineNames } from "@hookline/contracts";
import {
  freePort,
  type NatsServerHandle,
  type PostgresHandle,
  pollUntil,
  runService,
  startNatsServer,
  startPostgres,
} from "@hookline/testkit";
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deadLetterMeta, publishDeadLetter } from "./testing/letters";

const TOKEN = "ops-token-for-main-test";

describe("dlq main", () => {
  let nats: NatsServerHandle;
  let pg: PostgresHandle;
  beforeAll(async () => {
    [nats, pg] = await Promise.all([startNatsServer(), startPostgres()]);
  });
  afterAll(async () => {
    await Promise.all([nats?.stop(), pg?.stop()]);
  });

  it("exits 78 with one message naming every missing variable", async () => {
    const running = runService("dlq", { NATS_URL: nats.url, PORT: "0" });
    expect(await running.exitCode).toBe(78);
    const lines = running.output().trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain("DATABASE_URL");
    expect(lines[0]).toContain("DLQ_API_TOKENS");
  });

  it("migrates, stores letters, serves the API and docs, and exits 0 on SIGTERM", async () => {
    const prefix = "dlq_main";
    const running = runService("dlq", {
      NATS_URL: nats.url,
      PORT: "0",
      DATABASE_URL: pg.url,
      DLQ_API_TOKENS: `ops:${TOKEN}`,
      HOOKLINE_PREFIX: prefix,
    });
    const nc = await connect({ servers: nats.url });
    try {
      const base = await running.baseUrl();
      await running.ready(30_000);
      expect(await (await fetch(`${base}/readyz`)).json()).toMatchObject({
        checks: { nats: true, provisioned: true, database: true, api: true },
      });
      expect((await fetch(`${base}/docs`)).status).toBe(200);
      expect((await fetch(`${base}/v1/dead-letters`)).status).toBe(401);

      const meta = deadLetterMeta({ eventId: "evt_main" });
      await publishDeadLetter(jetstream(nc), hooklineNames(prefix), meta);
      let listed: { data: { taskId: string; status: string }[] } = { data: [] };
      await pollUntil(
        async () => {
          const response = await fetch(`${base}/v1/dead-letters`, {
            headers: { authorization: `Bearer ${TOKEN}` },
          });
          listed = (await response.json()) as typeof listed;
          return listed.data.length === 1;
        },
        {
          timeoutMs: 10_000,
          what: "the letter to be listed",
          detail: running.output,
        },
      );
      expect(listed.data[0]).toMatchObject({ taskId: meta.taskId, status: "open" });
      const metrics = await (await fetch(`${base}/metrics`)).text();
      expect(metrics).toMatch(/hookline_dead_letters\{status="open",service="dlq"\} 1\n/);
      expect(running.output()).not.toContain(TOKEN);
    } finally {
      await nc.close();
      await running.terminate();
    }
    expect(await running.exitCode).toBe(0);
    expect(running.output()).toContain('"msg":"stopped"');
  });

  it("reports an unreachable database in /readyz and still exits 0 on SIGTERM", async () => {
    const closedPort = await freePort();
    const running = runService("dlq", {
      NATS_URL: nats.url,
      PORT: "0",
      DATABASE_URL: `postgres://postgres@127.0.0.1:${closedPort}/nothing`,
      DLQ_API_TOKENS: `ops:${TOKEN}`,
      HOOKLINE_PREFIX: "dlq_no_db",
    });
    try {
      const base = await running.baseUrl();
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      let checks: unknown;
      await pollUntil(
        async () => {
          const response = await fetch(`${base}/readyz`);
          checks = ((await response.json()) as { checks: unknown }).checks;
          return response.status === 503 && (checks as { provisioned: boolean }).provisioned;
        },
        { timeoutMs: 20_000, what: "dlq to provision", detail: running.output },
      );
      expect(checks).toEqual({ nats: true, provisioned: true, database: false, api: false });
      const early = await fetch(`${base}/v1/dead-letters`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      expect(early.status).toBe(503);
      expect(early.headers.get("retry-after")).toBe("1");
    } finally {
      await running.terminate();
    }
    expect(await running.exitCode).toBe(0);
    expect(running.output()).not.toContain("failed to start");
  });
});
