import { createServer, type Server, type ServerResponse } from "node:http";
import { RESPONSE_BODY_LIMIT } from "@hookline/contracts";
import { freePort, type Sink, startSink } from "@hookline/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWebhookClient, RESPONSE_READ_LIMIT, type WebhookClient } from "./webhook-client";

const body = new TextEncoder().encode('{"type":"order.created","data":{"id":1}}');
const headers = { "content-type": "application/json" };

let sink: Sink;
let open: WebhookClient;
let guarded: WebhookClient;

beforeAll(async () => {
  sink = await startSink();
  open = createWebhookClient({ connectTimeoutMs: 2_000, allowPrivateNetworks: true });
  guarded = createWebhookClient({ connectTimeoutMs: 2_000, allowPrivateNetworks: false });
});

afterAll(async () => {
  await open?.close();
  await guarded?.close();
  await sink?.close();
});

const send = (client: WebhookClient, url: string, timeoutMs = 5_000) =>
  client.send({ url, headers, body, timeoutMs });

describe("the address guard, through the real agent", () => {
  it("refuses 127.0.0.1 without the flag and never reaches the sink", async () => {
    const result = await send(guarded, sink.url("/guard-ip"));
    expect(result.result).toBe("blocked_destination");
    expect(sink.count("/guard-ip")).toBe(0);
  });

  it("refuses a hostname that resolves to loopback, at connect time", async () => {
    const result = await send(guarded, `http://localhost:${sink.port}/guard-name`);
    expect(result.result).toBe("blocked_destination");
    expect(sink.count("/guard-name")).toBe(0);
  });

  it("refuses an IPv6 literal and an IPv4-mapped one", async () => {
    expect((await send(guarded, `http://[::1]:${sink.port}/x`)).result).toBe("blocked_destination");
    expect((await send(guarded, `http://[::ffff:127.0.0.1]:${sink.port}/x`)).result).toBe(
      "blocked_destination",
    );
  });

  it("delivers to 127.0.0.1 with DELIVERY_ALLOW_PRIVATE_NETWORKS", async () => {
    const result = await send(open, sink.url("/guard-open"));
    expect(result).toMatchObject({ result: "delivered", status: 200 });
    const [delivery] = await sink.waitFor(1, { path: "/guard-open" });
    expect(delivery?.body).toBe(new TextDecoder().decode(body));
    expect(delivery?.method).toBe("POST");
  });
});

describe("endpoint URLs refused at send time", () => {
  it("refuses a URL with credentials without a request and without naming them", async () => {
    const url = `http://alice:s3cr3t@127.0.0.1:${sink.port}/with-credentials`;
    const result = await send(open, url);
    expect(result).toMatchObject({ result: "blocked_destination", ms: 0 });
    expect(result.result === "blocked_destination" && result.error).toMatch(/credentials/);
    expect(JSON.stringify(result)).not.toMatch(/alice|s3cr3t/);
    expect(sink.count("/with-credentials")).toBe(0);
  });

  it("refuses a blocked port, and one outside an allow-list, naming it", async () => {
    const blocked = createWebhookClient({
      connectTimeoutMs: 2_000,
      allowPrivateNetworks: true,
      endpointPorts: { blocked: [{ from: sink.port, to: sink.port }] },
    });
    const allowList = createWebhookClient({
      connectTimeoutMs: 2_000,
      allowPrivateNetworks: true,
      endpointPorts: { blocked: [], allowed: [{ from: 443, to: 443 }] },
    });
    try {
      for (const client of [blocked, allowList]) {
        const result = await send(client, sink.url("/blocked-port"));
        expect(result.result).toBe("blocked_destination");
        expect(result.result === "blocked_destination" && result.error).toContain(
          `port ${sink.port}`,
        );
      }
      expect(sink.count("/blocked-port")).toBe(0);
    } finally {
      await blocked.close();
      await allowList.close();
    }
  });

  it("refuses the default blocked ports, and delivers to an allowed one", async () => {
    for (const port of [22, 6379]) {
      const result = await send(open, `http://127.0.0.1:${port}/`);
      expect(result.result, String(port)).toBe("blocked_destination");
    }
    expect((await send(open, sink.url("/allowed-port"))).result).toBe("delivered");
  });
});

describe("sending", () => {
  it("reports a 500 with the start of its body", async () => {
    sink.script("/fail", [{ status: 500, body: "database\r\nunavailable" }]);
    const result = await send(open, sink.url("/fail"));
    expect(result).toMatchObject({
      result: "http_error",
      status: 500,
      error: "database unavailable",
      responseBody: "database unavailable",
    });
    expect(result.ms).toBeGreaterThan(0);
  });

  it("reads at most 1 KiB of a large response", async () => {
    sink.script("/large", [{ status: 400, body: "x".repeat(200_000) }]);
    const result = await send(open, sink.url("/large"));
    expect(result.result).toBe("http_error");
    expect(result.result === "http_error" && result.error?.length).toBe(RESPONSE_READ_LIMIT);
    expect(result.result === "http_error" && result.responseBody).toBe(
      "x".repeat(RESPONSE_BODY_LIMIT),
    );
  });

  it("delivers a 2xx with a large body without reading all of it, keeping its start", async () => {
    sink.script("/large-ok", [{ status: 200, body: "y".repeat(500_000) }]);
    expect(await send(open, sink.url("/large-ok"))).toMatchObject({
      result: "delivered",
      status: 200,
      responseBody: "y".repeat(RESPONSE_BODY_LIMIT),
    });
  });

  it("keeps a success's body as one line of text", async () => {
    sink.script("/ok-body", [{ status: 202, body: '\t{"received":\r\n true,\u0000"id":7}\n' }]);
    expect(await send(open, sink.url("/ok-body"))).toMatchObject({
      result: "delivered",
      status: 202,
      // each run of control characters is one space
      responseBody: '{"received":  true, "id":7}',
    });
  });

  it("gives no response body for an empty or blank answer", async () => {
    sink.script("/empty-ok", [{ status: 200 }, { status: 200, body: " \r\n " }]);
    for (let i = 0; i < 2; i++) {
      const result = await send(open, sink.url("/empty-ok"));
      expect(result).toMatchObject({ result: "delivered", status: 200 });
      expect("responseBody" in result).toBe(false);
    }
  });

  it("keeps at most RESPONSE_BODY_LIMIT characters of a multi-byte body", async () => {
    // 2 bytes each: 1 KiB holds 512 of them, and no character is cut in half.
    sink.script("/accents", [{ status: 200, body: "é".repeat(5_000) }]);
    const result = await send(open, sink.url("/accents"));
    expect(result.result === "delivered" && result.responseBody).toBe("é".repeat(512));
  });

  it("takes Retry-After in seconds", async () => {
    sink.script("/busy", [{ status: 503, retryAfter: "7" }]);
    expect(await send(open, sink.url("/busy"))).toMatchObject({
      result: "http_error",
      status: 503,
      retryAfterMs: 7_000,
    });
  });

  it("does not follow redirects", async () => {
    sink.script("/moved", [{ status: 302, headers: { location: sink.url("/target") } }]);
    expect(await send(open, sink.url("/moved"))).toMatchObject({
      result: "http_error",
      status: 302,
    });
    expect(sink.count("/target")).toBe(0);
  });

  it("times out a hanging receiver", async () => {
    sink.script("/hang", [{ hang: true }]);
    const result = await send(open, sink.url("/hang"), 300);
    expect(result.result).toBe("timeout");
    expect(result.ms).toBeGreaterThanOrEqual(250);
  });

  it("reports a connection reset as network_error", async () => {
    sink.script("/reset", [{ reset: true }]);
    expect((await send(open, sink.url("/reset"))).result).toBe("network_error");
  });

  it("reports a refused connection as network_error", async () => {
    const port = await freePort();
    const result = await send(open, `http://127.0.0.1:${port}/`);
    expect(result).toMatchObject({ result: "network_error" });
    expect(result.result === "network_error" && result.error).toContain("ECONNREFUSED");
  });

  it("reports an unresolvable host as network_error", async () => {
    const result = await send(guarded, "http://hookline-test.invalid/");
    expect(result.result).toBe("network_error");
  });
});

describe("a response body that arrives in pieces", () => {
  let server: Server;
  let port: number;
  /** Writes each piece as its own chunk, a moment apart, then ends the response. */
  const writeInPieces = async (res: ServerResponse, pieces: Buffer[]) => {
    res.writeHead(200, { "content-type": "text/plain" });
    for (const piece of pieces) {
      res.write(piece);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    res.end();
  };
  const zoe = Buffer.from("Zoë", "utf8");

  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      if (req.url === "/split-character") {
        // "ë" is two bytes; the first chunk ends between them.
        void writeInPieces(res, [zoe.subarray(0, 3), zoe.subarray(3)]);
      } else {
        void writeInPieces(res, [Buffer.from("a".repeat(600)), Buffer.from("b".repeat(600))]);
      }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    port = typeof address === "object" && address !== null ? address.port : 0;
  });

  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
  });

  it("joins the pieces before decoding, so a character split between them stays whole", async () => {
    const result = await send(open, `http://127.0.0.1:${port}/split-character`);
    expect(result).toMatchObject({ result: "delivered", status: 200, responseBody: "Zoë" });
  });

  it("keeps the first 1 KiB of the pieces together", async () => {
    const result = await send(open, `http://127.0.0.1:${port}/long`);
    expect(result).toMatchObject({
      result: "delivered",
      responseBody: "a".repeat(600) + "b".repeat(RESPONSE_BODY_LIMIT - 600),
    });
  });
});
