import { serveHttp } from "@hookline/kit";
import { rawStatusLine } from "@hookline/testkit";
import { fuzzApi } from "@hookline/testkit/api-fuzz";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DlqHarness, startDlqHarness, TEST_TOKEN } from "../testing/dlq-harness";
import { endpointId, incomingLetter, putEndpoint } from "../testing/letters";

let h: DlqHarness;
const letterIds: string[] = [];

beforeAll(async () => {
  h = await startDlqHarness({ prefix: "dlq_bad_input" });
  for (const n of [1, 2]) await putEndpoint(h.kv, endpointId(n));
  await h.cache.waitForRevision(2);
  for (let n = 0; n < 12; n++) {
    const stored = await h.store(incomingLetter({ endpointId: endpointId(1 + (n % 2)) }));
    letterIds.push(stored.id);
  }
});
afterAll(async () => {
  await h?.close();
});

const auth = `authorization: Bearer ${TEST_TOKEN}\r\n`;

describe("body limit (DLQ_MAX_BODY_BYTES)", () => {
  it("answers 413 at once to a 10 GB Content-Length, and stops a chunked body at the limit", async () => {
    const server = await serveHttp(h.app, 0, "127.0.0.1");
    try {
      const started = performance.now();
      const huge = await rawStatusLine(
        server.port,
        `POST /v1/dead-letters/replay HTTP/1.1\r\nhost: x\r\n${auth}` +
          "content-type: application/json\r\ncontent-length: 10000000000\r\n\r\n",
      );
      expect(huge).toBe("HTTP/1.1 413 Payload Too Large");
      expect(performance.now() - started).toBeLessThan(2_000);

      // 160 KiB of a body that never ends (no last chunk): read up to 64 KiB, then answered.
      const chunk = `4000\r\n${" ".repeat(0x4000)}\r\n`;
      const chunked = await rawStatusLine(
        server.port,
        `POST /v1/dead-letters/replay HTTP/1.1\r\nhost: x\r\n${auth}` +
          "content-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
        Array.from({ length: 10 }, () => chunk),
      );
      expect(chunked).toBe("HTTP/1.1 413 Payload Too Large");
    } finally {
      await server.close();
    }
  });

  it("answers problem+json naming the limit on every route, health included", async () => {
    for (const [method, path] of [
      ["POST", "/v1/dead-letters/replay"],
      ["POST", `/v1/dead-letters/${letterIds[0]}/resolve`],
      ["GET", "/v1/dead-letters"],
      ["GET", "/healthz"],
      ["GET", "/metrics"],
    ] as const) {
      const response = await h.app.request(path, {
        method,
        headers: { "content-length": "65537", authorization: `Bearer ${TEST_TOKEN}` },
      });
      expect(response.status, path).toBe(413);
      expect(response.headers.get("content-type")).toBe("application/problem+json");
      expect(await response.json()).toMatchObject({
        code: "payload_too_large",
        detail: "the request body is larger than 65536 bytes (DLQ_MAX_BODY_BYTES)",
      });
    }
    const within = await h.call("POST", "/v1/dead-letters/resolve", {
      filter: { eventType: "no.such.type" },
      note: "n".repeat(1_000),
    });
    expect(within.status).toBe(200);
  });
});

describe("fuzzed requests", () => {
  it("never answer 5xx, and every 4xx is problem+json with a code and a title", async () => {
    const filter = { status: "open", reason: "exhausted", endpointId: endpointId(1) };
    const bulk = { filter, limit: 2, note: "fuzz" };
    const statuses = await fuzzApi(
      h.app,
      {
        operations: [
          { method: "GET", route: "/v1/dead-letters", weight: 3 },
          { method: "GET", route: "/v1/dead-letters/stats" },
          { method: "GET", route: "/v1/dead-letters/{id}" },
          { method: "GET", route: "/v1/dead-letters/{id}/audit" },
          {
            method: "POST",
            route: "/v1/dead-letters/{id}/replay",
            bodies: [{}, { note: "again" }],
            weight: 2,
          },
          {
            method: "POST",
            route: "/v1/dead-letters/{id}/resolve",
            bodies: [{ note: "done" }],
            weight: 2,
          },
          {
            method: "POST",
            route: "/v1/dead-letters/{id}/discard",
            bodies: [{ note: "noise" }],
            weight: 2,
          },
          { method: "POST", route: "/v1/dead-letters/replay", bodies: [bulk], weight: 2 },
          { method: "POST", route: "/v1/dead-letters/resolve", bodies: [bulk], weight: 2 },
          { method: "GET", route: "/v1/attempts", weight: 2 },
          { method: "GET", route: "/v1/events/{id}/attempts" },
          { method: "GET", route: "/v1/events/{id}" },
          { method: "GET", route: "/v1/stats", weight: 2 },
          { method: "GET", route: "/v1/queues" },
          { method: "GET", route: "/healthz" },
          { method: "GET", route: "/readyz" },
          { method: "GET", route: "/metrics" },
          { method: "GET", route: "/openapi.json" },
        ],
        ids: letterIds,
        queryNames: [
          "status",
          "reason",
          "endpointId",
          "eventType",
          "from",
          "to",
          "cursor",
          "limit",
          "tenantId",
          "eventId",
          "result",
          "since",
          "until",
          "window",
        ],
        authorization: `Bearer ${TEST_TOKEN}`,
      },
      { numRuns: 400 },
    );
    // The run reached the handlers, not only the 404s and 401s in front of them.
    for (const status of [200, 400, 401, 404]) {
      expect(statuses.get(status), `answers ${status}`).toBeGreaterThan(0);
    }
  }, 60_000);
});
