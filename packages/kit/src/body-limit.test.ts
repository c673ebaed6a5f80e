import { rawStatusLine } from "@hookline/testkit";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { DEFAULT_MAX_BODY_BYTES } from "./body-limit";
import { createServiceApp, type RunningServer, type ServiceAppOptions, serveHttp } from "./http";
import { createServiceMetrics } from "./metrics";

function buildApp(bodyLimit?: ServiceAppOptions["bodyLimit"]) {
  const app = createServiceApp({
    logger: pino({ level: "silent" }),
    metrics: createServiceMetrics("test"),
    readiness: {},
    ...(bodyLimit === undefined ? {} : { bodyLimit }),
  });
  app.post("/echo", async (c) => c.json({ bytes: (await c.req.arrayBuffer()).byteLength }));
  app.post("/big/echo", async (c) => c.json({ bytes: (await c.req.arrayBuffer()).byteLength }));
  return app;
}

/** A body without a Content-Length, as a chunked upload sends it. */
function streamOf(bytes: number): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= bytes) return controller.close();
      const chunk = new Uint8Array(Math.min(16_384, bytes - sent)).fill(120);
      sent += chunk.length;
      controller.enqueue(chunk);
    },
  });
}

async function expectTooLarge(response: Response, detail: string) {
  expect(response.status).toBe(413);
  expect(response.headers.get("content-type")).toBe("application/problem+json");
  expect(await response.json()).toMatchObject({ code: "payload_too_large", detail });
}

describe("body limit, in-process", () => {
  const rule = (path: string) =>
    path.startsWith("/big/")
      ? { maxBytes: 4_096, setting: "BIG_MAX" }
      : { maxBytes: 1_024, setting: "SMALL_MAX" };

  it("decides from Content-Length, by path, naming the limit and its setting", async () => {
    const app = buildApp(rule);
    const small = { method: "POST", body: "x".repeat(2_000) };
    await expectTooLarge(
      await app.request("/echo", { ...small, headers: { "content-length": "2000" } }),
      "the request body is larger than 1024 bytes (SMALL_MAX)",
    );
    const big = await app.request("/big/echo", { ...small, headers: { "content-length": "2000" } });
    expect(await big.json()).toEqual({ bytes: 2_000 });
  });

  it("stops a body without Content-Length at the limit", async () => {
    const app = buildApp(rule);
    const over = await app.request("/echo", {
      method: "POST",
      body: streamOf(50_000),
      duplex: "half",
    } as RequestInit);
    await expectTooLarge(over, "the request body is larger than 1024 bytes (SMALL_MAX)");
    const under = await app.request("/echo", {
      method: "POST",
      body: streamOf(1_000),
      duplex: "half",
    } as RequestInit);
    expect(await under.json()).toEqual({ bytes: 1_000 });
  });

  it("guards every route, health and unknown paths included, with a default limit", async () => {
    const app = buildApp();
    const huge = { "content-length": "10000000000" };
    for (const [method, path] of [
      ["GET", "/healthz"],
      ["GET", "/readyz"],
      ["GET", "/metrics"],
      ["POST", "/no/such/route"],
    ] as const) {
      await expectTooLarge(
        await app.request(path, { method, headers: huge }),
        `the request body is larger than ${DEFAULT_MAX_BODY_BYTES} bytes`,
      );
    }
    expect((await app.request("/healthz")).status).toBe(200);
  });
});

describe("body limit, over a real socket", () => {
  let server: RunningServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  const statusLine = (head: string, chunks: string[] = []) => {
    if (server === undefined) throw new Error("no server");
    return rawStatusLine(server.port, head, chunks);
  };

  it("answers 413 at once to a 10 GB Content-Length, without waiting for the body", async () => {
    server = await serveHttp(buildApp({ maxBytes: 1_024 }), 0, "127.0.0.1");
    const started = performance.now();
    const line = await statusLine(
      "POST /echo HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n" +
        "content-length: 10000000000\r\n\r\n",
    );
    expect(line).toBe("HTTP/1.1 413 Payload Too Large");
    expect(performance.now() - started).toBeLessThan(2_000);
    // On a route that never reads a body, too.
    expect(
      await statusLine("GET /healthz HTTP/1.1\r\nhost: x\r\ncontent-length: 2048\r\n\r\n"),
    ).toBe("HTTP/1.1 413 Payload Too Large");
  });

  it("answers 413 to a chunked body once it passes the limit, while the client still sends", async () => {
    server = await serveHttp(buildApp({ maxBytes: 1_024 }), 0, "127.0.0.1");
    const chunk = `400\r\n${"x".repeat(1_024)}\r\n`;
    // Two chunks pass the limit; the body never ends (no 0-length chunk).
    const line = await statusLine(
      "POST /echo HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n",
      [chunk, chunk],
    );
    expect(line).toBe("HTTP/1.1 413 Payload Too Large");
  });
});
