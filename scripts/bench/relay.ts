// The benchmark's reference: a direct relay with no queue. A Hono handler that takes the same
// event body as ingest, wraps it in the same envelope and forwards it to the receiver with
// undici, answering 202 once the receiver has answered. What Hookline costs beyond this is the
// price of durability, retries and fan-out.
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { Pool } from "undici";

const target = new URL(process.env.RELAY_TARGET ?? "http://127.0.0.1:1/hook");
const pool = new Pool(target.origin, { connections: 128, keepAliveTimeout: 120_000 });

interface RelayedEvent {
  id: string;
  eventType: string;
  payload: unknown;
}

const app = new Hono();
app.post("/relay", async (c) => {
  const event = await c.req.json<RelayedEvent>();
  const body = JSON.stringify({
    type: event.eventType,
    timestamp: new Date().toISOString(),
    data: event.payload,
  });
  const res = await pool.request({
    method: "POST",
    path: target.pathname,
    headers: { "content-type": "application/json", "webhook-id": event.id },
    body,
  });
  await res.body.dump();
  if (res.statusCode >= 300) return c.json({ error: `receiver answered ${res.statusCode}` }, 502);
  return c.json({ id: event.id }, 202);
});

const server = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 }, (info) => {
  process.send?.({ type: "listening", port: info.port });
});
process.on("disconnect", () => {
  server.close();
  void pool.close().finally(() => process.exit(0));
});
