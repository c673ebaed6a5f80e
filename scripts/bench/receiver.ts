// The benchmark's receiver, a child process of `pnpm bench` so that its CPU is counted apart.
// It answers 204, or 500 on paths under /fail/, and counts 2xx answers per webhook-id: ids are
// `<run><n>`, so it keeps one counter byte per n. Latency is taken from the `sentAt` the load
// generator wrote into the payload (epoch ms with fractions; the box shares one clock).
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { type ReceiverReport, type ReceiverRequest, summarise } from "./protocol";

const SENT_AT = /"sentAt":([0-9.]+)/;

let run = "";
let counts = new Uint8Array(1 << 16);
let latencies: number[] = [];
let answeredOk = 0;
let answeredFail = 0;
let foreign = 0;
let firstAt = 0;
let lastAt = 0;

function countId(id: string): number {
  if (run === "" || !id.startsWith(run)) return -1;
  const n = Number(id.slice(run.length));
  if (!Number.isInteger(n) || n < 0) return -1;
  if (n >= counts.length) {
    let size = counts.length;
    while (size <= n) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(counts);
    counts = grown;
  }
  const before = counts[n] ?? 0;
  if (before < 255) counts[n] = before + 1;
  return before;
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => {
    const now = performance.timeOrigin + performance.now();
    if (req.url?.startsWith("/fail/")) {
      answeredFail++;
      res.writeHead(500).end();
      return;
    }
    res.writeHead(204).end();
    answeredOk++;
    const id = req.headers["webhook-id"];
    const seen = typeof id === "string" ? countId(id) : -1;
    if (seen < 0) {
      foreign++;
      return;
    }
    if (firstAt === 0) firstAt = now;
    lastAt = now;
    if (seen > 0) return;
    const match = SENT_AT.exec(Buffer.concat(chunks).toString("latin1"));
    if (match?.[1]) latencies.push(now - Number(match[1]));
  });
});
server.keepAliveTimeout = 120_000;
server.headersTimeout = 130_000;

function report(): ReceiverReport {
  let unique = 0;
  let duplicates = 0;
  let highest = -1;
  for (let n = 0; n < counts.length; n++) {
    const c = counts[n] ?? 0;
    if (c === 0) continue;
    unique++;
    duplicates += c - 1;
    highest = n;
  }
  const received = Buffer.from(counts.subarray(0, highest + 1)).toString("base64");
  return {
    type: "report",
    run,
    unique,
    duplicates,
    answeredOk,
    answeredFail,
    foreign,
    firstAt,
    lastAt,
    latency: summarise(latencies),
    received,
  };
}

process.on("message", (message: ReceiverRequest) => {
  if (message.type === "reset") {
    run = message.run;
    counts = new Uint8Array(1 << 16);
    latencies = [];
    answeredOk = 0;
    answeredFail = 0;
    foreign = 0;
    firstAt = 0;
    lastAt = 0;
    process.send?.({ type: "reset-done" });
  } else if (message.type === "report") {
    process.send?.(report());
  } else if (message.type === "stop") {
    server.close();
    server.closeAllConnections();
    process.disconnect?.();
  }
});
process.on("disconnect", () => process.exit(0));

server.listen(0, "127.0.0.1", () => {
  process.send?.({ type: "listening", port: (server.address() as AddressInfo).port });
});
