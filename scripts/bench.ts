// `pnpm bench`: NATS, ingest and delivery on this machine, a minimal sink, and a closed-loop load
// generator driving POST /v1/events for BENCH_SECONDS (20). Prints accepted/s, delivered/s and
// acceptance-to-delivery latency percentiles. Only 127.0.0.1 is targeted, and it stops by itself.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { startNatsServer, startStack } from "@hookline/testkit";
import { Pool } from "undici";

const seconds = Number(process.env.BENCH_SECONDS ?? 20);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 64);
const batchSize = Number(process.env.BENCH_BATCH ?? 0);
const token = "bench-token-123456";
const secret = "whsec_YmVuY2gtc2luay1zZWNyZXQtMDEyMzQ1Njc4OQ==";

/** Receives webhooks and records acceptance-to-delivery latency from the envelope timestamp. */
function startLatencySink(): Promise<{ server: Server; port: number; latencies: number[] }> {
  const latencies: number[] = [];
  const timestamp = /"timestamp":"([^"]+)"/;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const received = Date.now();
      const match = timestamp.exec(Buffer.concat(chunks).toString("utf8"));
      if (match?.[1]) latencies.push(received - Date.parse(match[1]));
      res.writeHead(204).end();
    });
  });
  server.keepAliveTimeout = 60_000;
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({ server, port: (server.address() as AddressInfo).port, latencies }),
    ),
  );
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function main() {
  const nats = await startNatsServer();
  const sink = await startLatencySink();
  const stack = await startStack({
    natsUrl: nats.url,
    services: ["ingest", "delivery"],
    prefix: "bench",
    env: {
      INGEST_API_TOKENS: `bench:${token}`,
      DELIVERY_ALLOW_PRIVATE_NETWORKS: "true",
      LOG_LEVEL: "warn",
    },
  });
  try {
    const ingest = new Pool(stack.url("ingest"), { connections });
    const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
    const created = await ingest.request({
      method: "POST",
      path: "/v1/endpoints",
      headers,
      body: JSON.stringify({ url: `http://127.0.0.1:${sink.port}/hook`, secret }),
    });
    if (created.statusCode !== 201) throw new Error(`endpoint: ${await created.body.text()}`);
    await created.body.dump();

    const event = (n: number) => ({
      eventType: "bench.event",
      payload: { n, note: "x".repeat(200) },
    });
    let accepted = 0;
    let rejected = 0;
    let sent = 0;
    const started = Date.now();
    const deadline = started + seconds * 1000;
    const worker = async () => {
      while (Date.now() < deadline) {
        const n = sent++;
        const body =
          batchSize > 0
            ? JSON.stringify({
                events: Array.from({ length: batchSize }, (_, i) => event(n * batchSize + i)),
              })
            : JSON.stringify(event(n));
        const res = await ingest.request({
          method: "POST",
          path: batchSize > 0 ? "/v1/events/batch" : "/v1/events",
          headers,
          body,
        });
        await res.body.dump();
        if (res.statusCode === 202) accepted += batchSize > 0 ? batchSize : 1;
        else rejected++;
      }
    };
    await Promise.all(Array.from({ length: connections }, worker));
    const sendSeconds = (Date.now() - started) / 1000;

    // Let the queue drain (bounded), then measure delivery over the whole run.
    const drainDeadline = Date.now() + 60_000;
    while (sink.latencies.length < accepted && Date.now() < drainDeadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const totalSeconds = (Date.now() - started) / 1000;
    const sorted = [...sink.latencies].sort((a, b) => a - b);
    const report = {
      mode: batchSize > 0 ? `batch of ${batchSize}` : "single events",
      connections,
      seconds: Number(sendSeconds.toFixed(1)),
      accepted,
      rejected,
      delivered: sorted.length,
      acceptedPerSecond: Math.round(accepted / sendSeconds),
      deliveredPerSecond: Math.round(sorted.length / totalSeconds),
      latencyMs: {
        p50: percentile(sorted, 50),
        p95: percentile(sorted, 95),
        p99: percentile(sorted, 99),
      },
    };
    console.log(JSON.stringify(report, null, 2));
    await ingest.close();
  } finally {
    await stack.stop();
    sink.server.close();
    await nats.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
