import type { ApiToken } from "@hookline/kit";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DlqApp } from "../app";
import { createDefaultPartitions, insertAttempts, statsRow } from "../testing/attempt-fixtures";
import { type DlqHarness, dlqAppOver, startDlqHarness } from "../testing/dlq-harness";
import { endpointId, incomingLetter } from "../testing/letters";

const tokens: ApiToken[] = [
  { name: "all", token: "token-all" },
  { name: "stats-reader", token: "token-stats", scopes: ["attempts:read"] },
  { name: "letters-reader", token: "token-letters", scopes: ["deadletters:read"] },
  { name: "acme", token: "token-acme", scopes: ["attempts:read"], tenantId: "acme" },
];

let h: DlqHarness;
let app: DlqApp;

const [E1, E2, E3, E4] = [1, 2, 3, 4].map(endpointId) as [string, string, string, string];
const HOUR = 3_600_000;

/**
 * The known mix, at hours before the seeding: acme's endpoints 1-3 and other's endpoint 4.
 * Figures are worked out by hand in each test.
 */
async function seed() {
  const base = Date.now();
  const at = (hours: number) => new Date(base - hours * HOUR);
  const acme = { tenant_id: "acme" };
  const failed = (result: string, status: number | null) => ({ result, status });
  await insertAttempts(h.database.db, [
    statsRow({ ...acme, attempted_at: at(0.5), endpoint_id: E1, duration_ms: 100 }),
    statsRow({ ...acme, attempted_at: at(2), endpoint_id: E1, status: 204, duration_ms: 200 }),
    statsRow({ ...acme, attempted_at: at(3), endpoint_id: E1, ...failed("http_error", 500) }),
    statsRow({ ...acme, attempted_at: at(4), endpoint_id: E1, attempt: 2, duration_ms: 300 }),
    statsRow({ ...acme, attempted_at: at(5), endpoint_id: E2, ...failed("timeout", null) }),
    statsRow({
      ...acme,
      attempted_at: at(6),
      endpoint_id: E2,
      attempt: 2,
      ...failed("http_error", 404),
    }),
    statsRow({
      ...acme,
      attempted_at: at(7),
      endpoint_id: E2,
      attempt: 3,
      event_type: "invoice.paid",
      ...failed("http_error", 503),
    }),
    statsRow({ ...acme, attempted_at: at(8), endpoint_id: E3, ...failed("network_error", null) }),
    statsRow({ ...acme, attempted_at: at(9), endpoint_id: E3, ...failed("http_error", 302) }),
    statsRow({ ...acme, attempted_at: at(23), endpoint_id: E1, attempt: 3, duration_ms: 400 }),
    // In the week only.
    statsRow({ ...acme, attempted_at: at(25), endpoint_id: E1, duration_ms: 150 }),
    statsRow({
      tenant_id: "other",
      attempted_at: at(0.25),
      endpoint_id: E4,
      ...failed("http_error", 500),
    }),
  ]);
  await h.store(incomingLetter({ tenantId: "acme", endpointId: E2, deadAt: at(0.5) }));
  await h.store(incomingLetter({ tenantId: "acme", endpointId: E3, deadAt: at(25) }));
  await h.store(incomingLetter({ tenantId: "other", endpointId: E4, deadAt: at(1.5) }));
}

beforeAll(async () => {
  h = await startDlqHarness({ prefix: "dlq_delivery_stats" });
  app = dlqAppOver(h, { tokens });
  await createDefaultPartitions(h.database.db);
  await sql`truncate attempts`.execute(h.database.db);
  await seed();
});
afterAll(async () => {
  await h?.close();
});

async function stats(query: string, token = "token-all") {
  const response = await app.request(`/v1/stats${query}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const body = (await response.json()) as Record<string, unknown>;
  return { status: response.status, type: response.headers.get("content-type"), body };
}

const noResults = {
  delivered: 0,
  http_error: 0,
  timeout: 0,
  network_error: 0,
  circuit_open: 0,
  rate_limited: 0,
  endpoint_disabled: 0,
  endpoint_missing: 0,
  blocked_destination: 0,
};

describe("GET /v1/stats", () => {
  it("counts every figure over the last 24 hours by default", async () => {
    const before = Date.now();
    const { status, body } = await stats("");
    const after = Date.now();
    expect(status).toBe(200);
    const generatedAt = Date.parse(String(body.generatedAt));
    expect(generatedAt).toBeGreaterThanOrEqual(before);
    expect(generatedAt).toBeLessThanOrEqual(after);
    expect(body.to).toBe(body.generatedAt);
    expect(Date.parse(String(body.from))).toBe(generatedAt - 24 * HOUR);
    expect(body).toEqual({
      window: "24h",
      from: body.from,
      to: body.to,
      generatedAt: body.generatedAt,
      attempts: 11,
      delivered: 4,
      failedAttempts: 7,
      deadLettered: 2,
      // first attempts: 1, 2, 3 and 13 of E1 and E4, 5 of E2, 8 and 9 of E3; two delivered
      firstAttemptSuccessRate: 2 / 7,
      averageAttemptsPerDelivered: (1 + 1 + 2 + 3) / 4,
      retryRate: 4 / 11,
      latencyMs: { p50: 200, p95: 400, p99: 400 },
      byResult: { ...noResults, delivered: 4, http_error: 5, timeout: 1, network_error: 1 },
      byStatusClass: { "1xx": 0, "2xx": 4, "3xx": 1, "4xx": 1, "5xx": 3, none: 2 },
      topFailingEndpoints: [
        { endpointId: E2, failedAttempts: 3, attempts: 3 },
        { endpointId: E3, failedAttempts: 2, attempts: 2 },
        { endpointId: E1, failedAttempts: 1, attempts: 5 },
        { endpointId: E4, failedAttempts: 1, attempts: 1 },
      ],
    });
  });

  it("filters by tenant", async () => {
    const { body } = await stats("?tenantId=acme");
    expect(body).toMatchObject({
      attempts: 10,
      delivered: 4,
      failedAttempts: 6,
      deadLettered: 1,
      firstAttemptSuccessRate: 2 / 6,
      averageAttemptsPerDelivered: 1.75,
      retryRate: 4 / 10,
      byStatusClass: { "1xx": 0, "2xx": 4, "3xx": 1, "4xx": 1, "5xx": 2, none: 2 },
      topFailingEndpoints: [
        { endpointId: E2, failedAttempts: 3, attempts: 3 },
        { endpointId: E3, failedAttempts: 2, attempts: 2 },
        { endpointId: E1, failedAttempts: 1, attempts: 5 },
      ],
    });
  });

  it("filters by endpoint and by event type", async () => {
    const { body } = await stats(`?endpointId=${E2}`);
    expect(body).toMatchObject({
      attempts: 3,
      delivered: 0,
      failedAttempts: 3,
      deadLettered: 1,
      firstAttemptSuccessRate: 0,
      averageAttemptsPerDelivered: null,
      retryRate: 2 / 3,
      latencyMs: { p50: null, p95: null, p99: null },
      byResult: { ...noResults, http_error: 2, timeout: 1 },
      byStatusClass: { "1xx": 0, "2xx": 0, "3xx": 0, "4xx": 1, "5xx": 1, none: 1 },
      topFailingEndpoints: [{ endpointId: E2, failedAttempts: 3, attempts: 3 }],
    });
    const typed = await stats("?eventType=invoice.paid");
    expect(typed.body).toMatchObject({ attempts: 1, failedAttempts: 1, deadLettered: 0 });
  });

  it("counts over the last hour or week", async () => {
    const hour = await stats("?window=1h");
    expect(hour.body).toMatchObject({
      window: "1h",
      attempts: 2,
      delivered: 1,
      deadLettered: 1,
      latencyMs: { p50: 100, p95: 100, p99: 100 },
    });
    expect(Date.parse(String(hour.body.to)) - Date.parse(String(hour.body.from))).toBe(HOUR);
    const week = await stats("?window=7d");
    expect(week.body).toMatchObject({
      window: "7d",
      attempts: 12,
      delivered: 5,
      deadLettered: 3,
      averageAttemptsPerDelivered: (1 + 1 + 2 + 3 + 1) / 5,
    });
  });

  it("counts a tenant-bound token's tenant only; another tenant is a 404", async () => {
    const bound = await stats("", "token-acme");
    expect(bound.body).toMatchObject({ attempts: 10, deadLettered: 1 });
    expect((await stats("?tenantId=acme", "token-acme")).body).toEqual({
      ...bound.body,
      from: expect.any(String),
      to: expect.any(String),
      generatedAt: expect.any(String),
    });
    const other = await stats("?tenantId=other", "token-acme");
    expect(other.status).toBe(404);
    expect(other.body).toMatchObject({ code: "tenant_not_found" });
  });

  it("needs attempts:read", async () => {
    expect((await stats("", "token-stats")).status).toBe(200);
    const refused = await stats("", "token-letters");
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ detail: "this token lacks the scope attempts:read" });
  });

  it.each([
    ["?window=2d", "window"],
    ["?window=", "window"],
    ["?endpointId=not-an-endpoint", "endpointId"],
    ["?tenantId=a/b", "tenantId"],
    [`?eventType=${"x".repeat(300)}`, "eventType"],
  ])("answers %s with a 400 problem naming the field", async (query, field) => {
    const { status, type, body } = await stats(query);
    expect(status).toBe(400);
    expect(type).toBe("application/problem+json");
    expect(body).toMatchObject({ code: "invalid_request" });
    expect((body.errors as { path: string }[]).map((error) => error.path)).toContain(field);
  });

  it("is in the OpenAPI document with its response schema and figures described", async () => {
    const document = (await (await app.request("/openapi.json")).json()) as {
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
      components: { schemas: Record<string, { properties: Record<string, unknown> }> };
    };
    expect(document.paths["/v1/stats"]?.get?.responses).toHaveProperty("200");
    const schema = document.components.schemas.DeliveryStats;
    for (const figure of ["firstAttemptSuccessRate", "retryRate", "latencyMs", "deadLettered"]) {
      expect(schema?.properties[figure]).toHaveProperty("description");
    }
  });
});
