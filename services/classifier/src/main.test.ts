import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { hooklineNames } from "@hookline/contracts";
import {
  answersOk,
  type NatsServerHandle,
  pollUntil,
  repoRoot,
  startNatsServer,
} from "@hookline/testkit";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const mainPath = fileURLToPath(new URL("./main.ts", import.meta.url));

interface Running {
  child: ChildProcess;
  output: string[];
  exited: Promise<number | null>;
}

function startClassifier(env: Record<string, string>): Running {
  const { NATS_URL: _n, PORT: _p, ...inherited } = process.env;
  const child = spawn(process.execPath, ["--import", "tsx", mainPath], {
    cwd: repoRoot(),
    env: { ...inherited, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  child.stdout?.on("data", (chunk: Buffer) => output.push(chunk.toString("utf8")));
  child.stderr?.on("data", (chunk: Buffer) => output.push(chunk.toString("utf8")));
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  return { child, output, exited };
}

async function listeningPort(running: Running): Promise<number> {
  let port: number | undefined;
  await pollUntil(
    async () => {
      const match = /"port":(\d+).*"msg":"classifier listening"/.exec(running.output.join(""));
      port = match?.[1] === undefined ? undefined : Number(match[1]);
      return port !== undefined;
    },
    {
      timeoutMs: 20_000,
      what: "classifier to log its port",
      detail: () => running.output.join(""),
    },
  );
  return port ?? 0;
}

describe("classifier main", () => {
  let nats: NatsServerHandle;
  beforeAll(async () => {
    nats = await startNatsServer();
  });
  afterAll(async () => {
    await nats?.stop();
  });

  it("exits non-zero with one message naming every bad variable", async () => {
    const running = startClassifier({
      NATS_URL: nats.url,
      RETRY_TIERS: "1.5s",
      RETRY_SCHEDULE: "soon",
    });
    expect(await running.exited).toBe(78);
    const lines = running.output.join("").trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain("RETRY_TIERS");
    expect(lines[0]).toContain("RETRY_SCHEDULE");
  });

  it("creates its tier consumers, becomes ready, serves metrics and exits 0 on SIGTERM", async () => {
    const running = startClassifier({
      NATS_URL: nats.url,
      PORT: "0",
      HOOKLINE_PREFIX: "classifier_main",
      RETRY_TIERS: "200ms,1s",
      RETRY_TIER_MAX_ACK_PENDING: "20",
    });
    try {
      const base = `http://127.0.0.1:${await listeningPort(running)}`;
      await pollUntil(() => answersOk(`${base}/readyz`), {
        timeoutMs: 20_000,
        what: "classifier /readyz",
        detail: () => running.output.join(""),
      });
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
      running.child.kill("SIGTERM");
    }
    expect(await running.exited).toBe(0);
  });

  it("answers health checks while NATS is down at start, and becomes ready when it comes up", async () => {
    const late = await startNatsServer();
    try {
      await late.kill();
      const running = startClassifier({
        NATS_URL: late.url,
        PORT: "0",
        HOOKLINE_PREFIX: "classifier_late",
      });
      try {
        const base = `http://127.0.0.1:${await listeningPort(running)}`;
        expect((await fetch(`${base}/healthz`)).status).toBe(200);
        const readiness = await fetch(`${base}/readyz`);
        expect(readiness.status).toBe(503);
        expect(await readiness.json()).toMatchObject({
          checks: { nats: false, provisioned: false, endpointCache: false },
        });
        await late.restart();
        await pollUntil(() => answersOk(`${base}/readyz`), {
          timeoutMs: 30_000,
          what: "classifier /readyz after NATS came up",
          detail: () => running.output.join(""),
        });
      } finally {
        running.child.kill("SIGTERM");
      }
      expect(await running.exited).toBe(0);
    } finally {
      await late.stop();
    }
  });
});
