import { createRoute, z } from "@hono/zod-openapi";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { createServiceApp } from "./http";
import { createServiceMetrics } from "./metrics";

function buildApp(ready: boolean) {
  const metrics = createServiceMetrics("test");
  const app = createServiceApp({
    logger: pino({ level: "silent" }),
    metrics,
    readiness: { nats: () => ready, database: async () => true },
  });
  const route = createRoute({
    method: "post",
    path: "/things/{id}",
    request: {
      params: z.object({ id: z.string() }),
      body: { content: { "application/json": { schema: z.object({ size: z.number().int() }) } } },
    },
    responses: { 200: { description: "ok" } },
  });
  app.openapi(route, (c) => c.json({ id: c.req.valid("param").id }, 200));
  app.get("/boom", () => {
    throw new Error("bug");
  });
  return { app, metrics };
}

describe("createServiceApp", () => {
  it("serves /healthz, and /readyz that follows the checks", async () => {
    expect((await buildApp(true).app.request("/healthz")).status).toBe(200);
    const ready = await buildApp(true).app.request("/readyz");
    expect(ready.status).toBe(200);
    const notReady = await buildApp(false).app.request("/readyz");
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toEqual({
      status: "not_ready",
      checks: { nats: false, database: true },
    });
  });

  it("answers a validation failure with problem+json naming the field", async () => {
    const res = await buildApp(true).app.request("/things/a", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ size: "big" }),
    });
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    const body = (await res.json()) as { errors: { path: string }[]; requestId: string };
    expect(body.errors[0]?.path).toBe("size");
    expect(body.requestId).toBeTruthy();
  });

  it("answers unknown routes and bugs with problem+json", async () => {
    const { app } = buildApp(true);
    const missing = await app.request("/nope");
    expect(missing.status).toBe(404);
    expect(missing.headers.get("content-type")).toBe("application/problem+json");
    const bug = await app.request("/boom");
    expect(bug.status).toBe(500);
    expect(await bug.json()).toMatchObject({ code: "internal" });
  });

  it("counts a request under its route even when middleware answers first", async () => {
    const { app } = buildApp(true);
    app.use("/guarded/*", async (c) => c.json({ denied: true }, 401));
    app.get("/guarded/:id", (c) => c.json({}));
    await app.request("/guarded/42");
    await app.request("/no/such/path");
    const text = await (await app.request("/metrics")).text();
    expect(text).toContain('route="/guarded/:id",status="401"');
    expect(text).toContain('route="unmatched",status="404"');
  });

  it("exports no gauge named like a counter", async () => {
    const text = await (await buildApp(true).app.request("/metrics")).text();
    const gauges = [...text.matchAll(/^# TYPE (\S+) gauge$/gm)].map((match) => match[1]);
    expect(gauges.filter((name) => name?.endsWith("_total"))).toEqual([]);
  });

  it("counts requests by route pattern, not raw path", async () => {
    const { app } = buildApp(true);
    await app.request("/things/abc", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ size: 1 }),
    });
    const text = await (await app.request("/metrics")).text();
    expect(text).toContain(
      'hookline_http_requests_total{method="POST",route="/things/:id",status="200",service="test"} 1',
    );
    expect(text).not.toContain("/things/abc");
  });
});
