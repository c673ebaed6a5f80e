import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { hooklineNames } from "@hookline/contracts";
import {
  answersOk,
  freePort,
  type NatsServerHandle,
  type PostgresHandle,
  pollUntil,
  repoRoot,
  startNatsServer,
  startPostgres,
} from "@hookline/testkit";
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deadLetterMeta, publishDeadLetter } from "./testing/letters";

const mainPath = fileURLToPath(new URL("./main.ts", import.meta.url));
const TOKEN = "ops-token-for-main-test";

interface Running {
  child: ChildProcess;
  output: string[];
  exited: Promise<number | null>;
}

function startDlq(env: Record<string, string>): Running {
  const {
    NATS_URL: _n,
    PORT: _p,
    DATABASE_URL: _d,
    DLQ_API_TOKENS: _t,
    ...inherited
  } = process.env;
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
      const match = /"port":(\d+).*"msg":"listening"/.exec(running.output.join(""));
      port = match?.[1] === undefined ? undefined : Number(match[1]);
      return port !== undefined;
    },
    { timeoutMs: 20_000, what: "dlq to log its port", detail: () => running.output.join("") },
  );
  return port ?? 0;
}

describe("dlq main", () => {
  let nats: NatsServerHandle;
  let pg: PostgresHandle;
  beforeAll(async () => {
    [nats, pg] = await Promise.all([startNatsServer(), startPostgres()]);
  });
  afterAll(async () => {
    await Promise.all([nats?.stop(), pg?.stop()]);
  });

  it("exits non-zero with one message naming every missing variable", async () => {
    const running = startDlq({ NATS_URL: nats.url, PORT: "0" });
    expect(await running.exited).not.toBe(0);
    const lines = running.output.join("").trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain("DATABASE_URL");
    expect(lines[0]).toContain("DLQ_API_TOKENS");
  });

  it("migrates, stores letters, serves the API and docs, and exits 0 on SIGTERM", async () => {
    const prefix = "dlq_main";
    const running = startDlq({
      NATS_URL: nats.url,
      PORT: "0",
      DATABASE_URL: pg.url,
      DLQ_API_TOKENS: `ops:${TOKEN}`,
      HOOKLINE_PREFIX: prefix,
    });
    const nc = await connect({ servers: nats.url });
    try {
      const base = `http://127.0.0.1:${await listeningPort(running)}`;
      await pollUntil(() => answersOk(`${base}/readyz`), {
        timeoutMs: 30_000,
        what: "dlq /readyz",
        detail: () => running.output.join(""),
      });
      expect(await (await fetch(`${base}/readyz`)).json()).toMatchObject({
        checks: { nats: true, provisioned: true, database: true },
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
          detail: () => running.output.join(""),
        },
      );
      expect(listed.data[0]).toMatchObject({ taskId: meta.taskId, status: "open" });
      const metrics = await (await fetch(`${base}/metrics`)).text();
      expect(metrics).toMatch(/hookline_dead_letters\{status="open",service="dlq"\} 1\n/);
      expect(running.output.join("")).not.toContain(TOKEN);
    } finally {
      await nc.close();
      running.child.kill("SIGTERM");
    }
    expect(await running.exited).toBe(0);
    expect(running.output.join("")).toContain('"msg":"stopped"');
  });

  it("reports an unreachable database in /readyz and still exits 0 on SIGTERM", async () => {
    const closedPort = await freePort();
    const running = startDlq({
      NATS_URL: nats.url,
      PORT: "0",
      DATABASE_URL: `postgres://postgres@127.0.0.1:${closedPort}/nothing`,
      DLQ_API_TOKENS: `ops:${TOKEN}`,
      HOOKLINE_PREFIX: "dlq_no_db",
    });
    try {
      const base = `http://127.0.0.1:${await listeningPort(running)}`;
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      let checks: unknown;
      await pollUntil(
        async () => {
          const response = await fetch(`${base}/readyz`);
          checks = ((await response.json()) as { checks: unknown }).checks;
          return response.status === 503 && (checks as { provisioned: boolean }).provisioned;
        },
        { timeoutMs: 20_000, what: "dlq to provision", detail: () => running.output.join("") },
      );
      expect(checks).toEqual({ nats: true, provisioned: true, database: false });
      const early = await fetch(`${base}/v1/dead-letters`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      expect(early.status).toBe(503);
      expect(early.headers.get("retry-after")).toBe("1");
    } finally {
      running.child.kill("SIGTERM");
    }
    expect(await running.exited).toBe(0);
    expect(running.output.join("")).not.toContain("failed to start");
  });
});
