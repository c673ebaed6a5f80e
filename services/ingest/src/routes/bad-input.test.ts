import { serveHttp } from "@hookline/kit";
import { rawStatusLine } from "@hookline/testkit";
import { fuzzApi } from "@hookline/testkit/api-fuzz";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type IngestHarness, startIngestHarness, TEST_TOKEN } from "../testing/ingest-harness";

let h: IngestHarness;
const endpointIds: string[] = [];

beforeAll(async () => {
  h = await startIngestHarness({ prefix: "ingest_bad_input" });
  expect((await h.call("POST", "/v1/tenants", { id: "fuzz-t", name: "Fuzz" })).status).toBe(201);
  for (const eventTypes of [["fuzz.a"], ["fuzz.a"], ["fuzz.b"], [], ["fuzz.a"], ["fuzz.b"]]) {
    const response = await h.call("POST", "/v1/endpoints", {
      url: "https://example.com/fuzz",
      eventTypes,
    });
    endpointIds.push(String(((await response.json()) as { id: string }).id));
  }
});
afterAll(async () => {
  await h?.close();
});

describe("body limits", () => {
  it("answers 413 at once to a 10 GB Content-Length on every path, before auth", async () => {
    const server = await serveHttp(h.app, 0, "127.0.0.1");
    try {
      for (const path of ["/v1/events", "/v1/events/batch", "/v1/endpoints", "/healthz"]) {
        const started = performance.now();
        const line = await rawStatusLine(
          server.port,
          `POST ${path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n` +
            "content-length: 10000000000\r\n\r\n",
        );
        expect(line, path).toBe("HTTP/1.1 413 Payload Too Large");
        expect(performance.now() - started).toBeLessThan(2_000);
      }
    } finally {
      await server.close();
    }
  });

  it("names INGEST_MAX_BODY_BYTES, or INGEST_MAX_BATCH_BYTES for batches, in a problem+json", async () => {
    const tooLarge = async (path: string, length: number) => {
      const response = await h.app.request(path, {
        method: "POST",
        headers: { "content-length": String(length), authorization: `Bearer ${TEST_TOKEN}` },
      });
      expect(response.status).toBe(413);
      expect(response.headers.get("content-type")).toBe("application/problem+json");
      return ((await response.json()) as { code: string; detail: string }).detail;
    };
    expect(await tooLarge("/v1/endpoints", 262_145)).toBe(
      "the request body is larger than 262144 bytes (INGEST_MAX_BODY_BYTES)",
    );
    expect(await tooLarge("/v1/events/batch", 5 * 1024 * 1024 + 1)).toBe(
      "the request body is larger than 5242880 bytes (INGEST_MAX_BATCH_BYTES)",
    );
    expect(await tooLarge("/metrics", 10_000_000_000)).toContain("INGEST_MAX_BODY_BYTES");
  });
});

describe("fuzzed requests", () => {
  it("never answer 5xx, and every 4xx is problem+json with a code and a title", async () => {
    const event = { eventType: "fuzz.a", payload: { n: 1 } };
    const endpoint = { url: "https://example.com/fuzz", eventTypes: ["fuzz.a"] };
    const statuses = await fuzzApi(
      h.app,
      {
        operations: [
          {
            method: "POST",
            route: "/v1/endpoints",
            bodies: [
              endpoint,
              { ...endpoint, headers: { "x-a": "1" } },
              // Refused URLs: credentials, a blocked port, port 0, too long.
              { ...endpoint, url: "https://u:p@example.com:22/fuzz" },
              { ...endpoint, url: "http://example.com:0/" },
              { ...endpoint, url: `https://example.com/${"a".repeat(2_100)}` },
            ],
            // Most variants are refused: weighted so that some are created in every run.
            weight: 4,
          },
          { method: "GET", route: "/v1/endpoints" },
          { method: "GET", route: "/v1/endpoints/{id}" },
          {
            method: "PATCH",
            route: "/v1/endpoints/{id}",
            bodies: [
              { description: "d", disabled: false, timeoutMs: 1_000, retrySchedule: ["1s"] },
              { url: "https://u@example.com:6379/fuzz" },
            ],
            weight: 2,
          },
          { method: "DELETE", route: "/v1/endpoints/{id}" },
          { method: "GET", route: "/v1/endpoints/{id}/secret" },
          { method: "POST", route: "/v1/endpoints/{id}/rotate-secret" },
          {
            method: "POST",
            route: "/v1/events",
            bodies: [event, { ...event, id: "fuzz-1", endpointIds }],
            weight: 3,
          },
          {
            method: "POST",
            route: "/v1/events/batch",
            bodies: [{ events: [event, { ...event, id: "fuzz-2" }] }],
            weight: 3,
          },
          { method: "POST", route: "/v1/tenants", bodies: [{ name: "t", metadata: { a: "b" } }] },
          { method: "GET", route: "/v1/tenants" },
          { method: "GET", route: "/v1/tenants/{id}" },
          { method: "PATCH", route: "/v1/tenants/{id}", bodies: [{ name: "n", metadata: null }] },
          { method: "DELETE", route: "/v1/tenants/{id}" },
          {
            method: "POST",
            route: "/v1/tenants/fuzz-t/endpoints",
            bodies: [endpoint, { ...endpoint, headers: { "x-b": "2" } }],
            weight: 2,
          },
          { method: "GET", route: "/v1/tenants/fuzz-t/endpoints" },
          { method: "GET", route: "/v1/tenants/fuzz-t/endpoints/{id}" },
          {
            method: "PATCH",
            route: "/v1/tenants/fuzz-t/endpoints/{id}",
            bodies: [{ url: endpoint.url }],
          },
          { method: "DELETE", route: "/v1/tenants/fuzz-t/endpoints/{id}" },
          { method: "POST", route: "/v1/tenants/{id}/events", bodies: [event] },
          {
            method: "POST",
            route: "/v1/tenants/fuzz-t/events",
            bodies: [event, { ...event, id: "fuzz-3", endpointIds }],
            weight: 2,
          },
          {
            method: "POST",
            route: "/v1/tenants/fuzz-t/events/batch",
            bodies: [{ events: [event] }],
            weight: 2,
          },
          { method: "GET", route: "/healthz" },
          { method: "GET", route: "/readyz" },
          { method: "GET", route: "/metrics" },
          { method: "GET", route: "/openapi.json" },
        ],
        ids: endpointIds,
        queryNames: ["cursor", "limit"],
        headerNames: ["idempotency-key"],
        authorization: `Bearer ${TEST_TOKEN}`,
      },
      { numRuns: 600 },
    );
    // The run reached the handlers, not only the 404s and 401s in front of them.
    for (const status of [200, 201, 202, 400, 401, 404]) {
      expect(statuses.get(status), `answers ${status}`).toBeGreaterThan(0);
    }
  }, 60_000);
});
