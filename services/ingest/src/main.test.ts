import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import {
  answersOk,
  type NatsServerHandle,
  pollUntil,
  repoRoot,
  startNatsServer,
} from "@hookline/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const mainPath = fileURLToPath(new URL("./main.ts", import.meta.url));
const TOKEN = "dev-ingest-token-123";

interface Running {
  child: ChildProcess;
  output: string[];
  exited: Promise<number | null>;
}

function startIngest(env: Record<string, string>): Running {
  const { NATS_URL: _n, PORT: _p, INGEST_API_TOKENS: _t, ...inherited } = process.env;
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
    { timeoutMs: 20_000, what: "ingest to log its port", detail: () => running.output.join("") },
  );
  return port ?? 0;
}

describe("ingest main", () => {
  let nats: NatsServerHandle;
  beforeAll(async () => {
    nats = await startNatsServer();
  });
  afterAll(async () => {
    await nats?.stop();
  });

  it("exits non-zero with one message naming every bad variable", async () => {
    const running = startIngest({ NATS_URL: nats.url, PORT: "abc" });
    const code = await running.exited;
    expect(code).not.toBe(0);
    const lines = running.output.join("").trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain("PORT");
    expect(lines[0]).toContain("INGEST_API_TOKENS");
  });

  it("serves the API once ready and exits 0 on SIGTERM", async () => {
    const running = startIngest({
      NATS_URL: nats.url,
      PORT: "0",
      INGEST_API_TOKENS: `dev:${TOKEN}`,
      HOOKLINE_PREFIX: "ingest_main",
    });
    try {
      const base = `http://127.0.0.1:${await listeningPort(running)}`;
      await pollUntil(() => answersOk(`${base}/readyz`), {
        timeoutMs: 20_000,
        what: "ingest /readyz",
        detail: () => running.output.join(""),
      });
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
      expect(running.output.join("")).not.toContain(TOKEN);
    } finally {
      running.child.kill("SIGTERM");
    }
    expect(await running.exited).toBe(0);
  });

  it("exits 0 on SIGTERM while provisioning still fails", async () => {
    // A single server refuses replicated streams, so provisioning keeps retrying.
    const running = startIngest({
      NATS_URL: nats.url,
      PORT: "0",
      INGEST_API_TOKENS: `dev:${TOKEN}`,
      HOOKLINE_PREFIX: "ingest_unprovisioned",
      JETSTREAM_REPLICAS: "3",
    });
    try {
      await pollUntil(async () => running.output.join("").includes("provisioning failed"), {
        timeoutMs: 20_000,
        what: "ingest to fail provisioning",
        detail: () => running.output.join(""),
      });
    } finally {
      running.child.kill("SIGTERM");
    }
    expect(await running.exited).toBe(0);
    expect(running.output.join("")).not.toContain("failed to start");
  });

  it("answers health checks while NATS is down at start, and becomes ready when it comes up", async () => {
    const late = await startNatsServer();
    try {
      await late.kill();
      const running = startIngest({
        NATS_URL: late.url,
        PORT: "0",
        INGEST_API_TOKENS: `dev:${TOKEN}`,
        HOOKLINE_PREFIX: "ingest_late",
      });
      try {
        const base = `http://127.0.0.1:${await listeningPort(running)}`;
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
        await pollUntil(() => answersOk(`${base}/readyz`), {
          timeoutMs: 30_000,
          what: "ingest /readyz after NATS came up",
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
