import type { TenantRecord } from "@hookline/contracts";
import {
  type ApiToken,
  createLogger,
  createServiceMetrics,
  INGEST_SCOPES,
  type IngestScope,
  REQUIRED_SCOPES,
} from "@hookline/kit";
import { describe, expect, it } from "vitest";
import { createIngestApp, type IngestApp } from "../app";
import type { EndpointRegistry } from "../endpoints/registry";
import type { EventPublisher } from "../events/publisher";
import { createIngestMetrics } from "../metrics";
import type { BreakerOperations } from "../operations/breakers";
import type { SystemHealthReader } from "../operations/system-health";
import type { TenantRegistry } from "../tenants/registry";
import type { CachedTenant } from "../tenants/tenant-view";

/**
 * Every route of the ingest app, by method and OpenAPI path: the scopes it must require, and a
 * request that is valid once past auth. The test fails when the app has a route this table does
 * not name, so a new route cannot go without its scopes being checked here.
 */
const ROUTES: Record<string, { scopes: IngestScope[]; body?: unknown }> = {
  "POST /v1/tenants": { scopes: ["tenants:admin"], body: { id: "fresh", name: "Fresh" } },
  "GET /v1/tenants": { scopes: ["tenants:admin"] },
  "GET /v1/tenants/{tenantId}": { scopes: ["tenants:admin"] },
  "PATCH /v1/tenants/{tenantId}": { scopes: ["tenants:admin"], body: { name: "Renamed" } },
  "DELETE /v1/tenants/{tenantId}": { scopes: ["tenants:admin"] },
  "POST /v1/tenants/{tenantId}/endpoints": {
    scopes: ["endpoints:write", "secrets:read"],
    body: { url: "https://example.com/hook" },
  },
  "GET /v1/tenants/{tenantId}/endpoints": { scopes: ["endpoints:read"] },
  "GET /v1/tenants/{tenantId}/endpoints/{id}": { scopes: ["endpoints:read"] },
  "PATCH /v1/tenants/{tenantId}/endpoints/{id}": {
    scopes: ["endpoints:write"],
    body: { description: "changed" },
  },
  "DELETE /v1/tenants/{tenantId}/endpoints/{id}": { scopes: ["endpoints:write"] },
  "GET /v1/tenants/{tenantId}/endpoints/{id}/secret": { scopes: ["secrets:read"] },
  "POST /v1/tenants/{tenantId}/endpoints/{id}/rotate-secret": {
    scopes: ["endpoints:write", "secrets:read"],
  },
  "POST /v1/tenants/{tenantId}/events": {
    scopes: ["events:write"],
    body: { eventType: "order.created", payload: { n: 1 } },
  },
  "POST /v1/tenants/{tenantId}/events/batch": {
    scopes: ["events:write"],
    body: { events: [{ eventType: "order.created", payload: { n: 1 } }] },
  },
  "POST /v1/endpoints": {
    scopes: ["endpoints:write", "secrets:read"],
    body: { url: "https://example.com/hook" },
  },
  "GET /v1/endpoints": { scopes: ["endpoints:read"] },
  "GET /v1/endpoints/{id}": { scopes: ["endpoints:read"] },
  "PATCH /v1/endpoints/{id}": { scopes: ["endpoints:write"], body: { description: "changed" } },
  "DELETE /v1/endpoints/{id}": { scopes: ["endpoints:write"] },
  "GET /v1/endpoints/{id}/secret": { scopes: ["secrets:read"] },
  "POST /v1/endpoints/{id}/rotate-secret": { scopes: ["endpoints:write", "secrets:read"] },
  "GET /v1/tenants/{tenantId}/endpoints/{id}/health": { scopes: ["endpoints:read"] },
  "POST /v1/tenants/{tenantId}/endpoints/{id}/breaker/reset": { scopes: ["endpoints:write"] },
  "GET /v1/endpoints/{id}/health": { scopes: ["endpoints:read"] },
  "POST /v1/endpoints/{id}/breaker/reset": { scopes: ["endpoints:write"] },
  "GET /v1/system/health": { scopes: ["system:read"] },
  "POST /v1/events": {
    scopes: ["events:write"],
    body: { eventType: "order.created", payload: { n: 1 } },
  },
  "POST /v1/events/batch": {
    scopes: ["events:write"],
    body: { events: [{ eventType: "order.created", payload: { n: 1 } }] },
  },
};

const ENDPOINT_ID = "ep_01JD8Z6Q3V4W5X6Y7Z8A9B0C1D";

interface Caller {
  name: string;
  token: string;
  /** What the token holds (undefined: configured without scopes, so every scope). */
  scopes: readonly IngestScope[] | undefined;
  tenantId?: string;
}

/** One token per scope, one holding the two that creating an endpoint needs, one with none given. */
const CALLERS: Caller[] = [
  ...INGEST_SCOPES.map((scope) => ({
    name: `only-${scope.replace(":", "-")}`,
    token: `token-${scope.replace(":", "-")}`,
    scopes: [scope],
  })),
  { name: "writer", token: "token-writer-1", scopes: ["endpoints:write", "secrets:read"] },
  { name: "all", token: "token-all-scopes", scopes: undefined },
];
const BOUND: Caller = {
  name: "acme-all",
  token: "token-acme-bound",
  scopes: undefined,
  tenantId: "acme",
};
const BOUND_READER: Caller = {
  name: "acme-reader",
  token: "token-acme-reader",
  scopes: ["endpoints:read"],
  tenantId: "acme",
};

const tokens: ApiToken[] = [...CALLERS, BOUND, BOUND_READER].map((caller) => ({
  name: caller.name,
  token: caller.token,
  ...(caller.scopes === undefined ? {} : { scopes: caller.scopes }),
  ...(caller.tenantId === undefined ? {} : { tenantId: caller.tenantId }),
}));

const NOW = new Date(0).toISOString();
const tenantRecords = ["acme", "default", "other"].map(
  (id): CachedTenant => ({
    record: { id, name: id, createdAt: NOW, updatedAt: NOW } satisfies TenantRecord,
    revision: 1,
  }),
);

/**
 * Past auth, whatever a route's domain is asked answers "unavailable": the routes map it to a
 * 503, which only a request that got through can see.
 */
const unavailable = <T extends object>(): T =>
  new Proxy({} as T, {
    get: (_, key) => (key === "then" ? undefined : async () => ({ outcome: "unavailable" })),
  });

const events: EventPublisher = {
  publish: async (event) => ({ outcome: "accepted", eventId: event.id ?? "evt_scoped", tasks: 0 }),
  publishBatch: async (inputs) => ({
    outcome: "accepted",
    results: inputs.map((event, i) => ({
      outcome: "accepted",
      eventId: event.id ?? `evt_scoped_${i}`,
      tasks: 0,
    })),
  }),
};

function ingestApp(fastEventRoutes: boolean): IngestApp {
  const metrics = createServiceMetrics("ingest");
  return createIngestApp({
    logger: createLogger({ service: "ingest", level: "silent", pretty: false }),
    metrics,
    ingestMetrics: createIngestMetrics(metrics, () => undefined),
    readiness: {},
    tokens,
    limits: { maxBodyBytes: 262_144, maxBatchBytes: 5 * 1024 * 1024 },
    registry: unavailable<EndpointRegistry>(),
    cache: { get: () => undefined, all: () => [] },
    tenantRegistry: unavailable<TenantRegistry>(),
    tenants: {
      state: (id) => (tenantRecords.some((cached) => cached.record.id === id) ? "open" : "unknown"),
      get: (id) => tenantRecords.find((cached) => cached.record.id === id),
      all: () => tenantRecords,
    },
    events,
    breakers: unavailable<BreakerOperations>(),
    systemHealth: unavailable<SystemHealthReader>(),
    fastEventRoutes,
  });
}

const fastApp = ingestApp(true);
const validatedApp = ingestApp(false);

function call(app: IngestApp, route: string, tenantId: string, token: string) {
  const [method = "", pattern = ""] = route.split(" ");
  const body = ROUTES[route]?.body;
  const path = pattern.replace("{tenantId}", tenantId).replace("{id}", ENDPOINT_ID);
  return app.request(path, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      // Fixed, so the fast path's answers can be compared with the validated routes' whole.
      "x-request-id": "scopes-test",
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

/** Codes that mean the request did not get past the token's scopes or tenant. */
const STOPPED = ["unauthorized", "missing_scope", "tenant_not_found", "tenant_bound_token"];

async function answer(response: Response) {
  const text = await response.text();
  const body = (text === "" ? {} : JSON.parse(text)) as Record<string, unknown>;
  return { status: response.status, body };
}

describe("the scopes of every ingest route", () => {
  it("has a table entry for every route of the OpenAPI document, declaring the same scopes", async () => {
    const document = (await (await fastApp.request("/openapi.json")).json()) as {
      paths: Record<string, Record<string, Record<string, unknown>>>;
    };
    const documented: Record<string, unknown> = {};
    for (const [path, operations] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        documented[`${method.toUpperCase()} ${path}`] = operation[REQUIRED_SCOPES];
        expect(operation.description).toContain("Requires a token with the scope");
        expect(operation.responses).toHaveProperty("403");
      }
    }
    const expected = Object.fromEntries(
      Object.entries(ROUTES).map(([route, { scopes }]) => [route, scopes]),
    );
    expect(documented).toEqual(expected);
  });

  describe.each(Object.keys(ROUTES))("%s", (route) => {
    const required = ROUTES[route]?.scopes ?? [];
    const tenant = route.includes("{tenantId}") ? "default" : "";

    it.each(CALLERS)(
      "with $name: through exactly when it holds every required scope",
      async (caller) => {
        for (const app of [fastApp, validatedApp]) {
          const { status, body } = await answer(await call(app, route, tenant, caller.token));
          const missing = required.find(
            (scope) => !(caller.scopes ?? INGEST_SCOPES).includes(scope),
          );
          if (missing === undefined) {
            expect(status).not.toBe(401);
            expect(status).not.toBe(403);
            expect(STOPPED).not.toContain(body.code);
          } else {
            expect(status).toBe(403);
            expect(body).toMatchObject({
              code: "missing_scope",
              detail: `this token lacks the scope ${missing}`,
            });
          }
        }
      },
    );
  });
});

describe("a token bound to a tenant", () => {
  const tenantRoutes = Object.keys(ROUTES).filter((route) => route.includes("{tenantId}"));
  // The system's routes belong to no tenant: a bound token may not call them at all (below).
  const defaultRoutes = Object.keys(ROUTES).filter(
    (route) => !route.includes(" /v1/tenants") && !route.includes(" /v1/system"),
  );

  it.each(tenantRoutes)("%s: passes for its own tenant", async (route) => {
    for (const app of [fastApp, validatedApp]) {
      const { status, body } = await answer(await call(app, route, "acme", BOUND.token));
      expect(status).not.toBe(403);
      expect(STOPPED).not.toContain(body.code);
    }
  });

  it.each(tenantRoutes)("%s: another tenant is a 404 as an unknown one", async (route) => {
    for (const app of [fastApp, validatedApp]) {
      const other = await answer(await call(app, route, "other", BOUND.token));
      const unknown = await answer(await call(app, route, "nobody", "token-all-scopes"));
      expect(other.status).toBe(404);
      expect(other.body).toMatchObject({
        code: "tenant_not_found",
        detail: 'no tenant with id "other"',
      });
      expect(unknown.body).toMatchObject({
        code: "tenant_not_found",
        detail: 'no tenant with id "nobody"',
      });
    }
  });

  it.each(defaultRoutes)(
    "%s: the default tenant's path is a 404 as another tenant's",
    async (route) => {
      for (const app of [fastApp, validatedApp]) {
        const { status, body } = await answer(await call(app, route, "", BOUND.token));
        expect(status).toBe(404);
        expect(body).toMatchObject({
          code: "tenant_not_found",
          detail: 'no tenant with id "default"',
        });
      }
    },
  );

  it("still needs the route's scopes: 403 comes first", async () => {
    const { status, body } = await answer(
      await call(fastApp, "POST /v1/tenants/{tenantId}/events", "other", BOUND_READER.token),
    );
    expect(status).toBe(403);
    expect(body.detail).toBe("this token lacks the scope events:write");
    const own = await call(
      fastApp,
      "GET /v1/tenants/{tenantId}/endpoints",
      "acme",
      BOUND_READER.token,
    );
    expect(own.status).toBe(200);
  });

  it("may not create tenants, even with tenants:admin", async () => {
    const { status, body } = await answer(await call(fastApp, "POST /v1/tenants", "", BOUND.token));
    expect(status).toBe(403);
    expect(body).toMatchObject({ code: "tenant_bound_token" });
    expect(body.detail).toContain('"acme"');
  });

  it("may not read the system's health, even holding every scope", async () => {
    const { status, body } = await answer(
      await call(fastApp, "GET /v1/system/health", "", BOUND.token),
    );
    expect(status).toBe(403);
    expect(body).toMatchObject({ code: "tenant_bound_token" });
  });

  it("lists only its own tenant", async () => {
    const bound = await answer(await call(fastApp, "GET /v1/tenants", "", BOUND.token));
    expect(bound.status).toBe(200);
    expect((bound.body.data as { id: string }[]).map((tenant) => tenant.id)).toEqual(["acme"]);
    expect(bound.body.nextCursor).toBeNull();
    const all = await answer(await call(fastApp, "GET /v1/tenants", "", "token-all-scopes"));
    expect((all.body.data as { id: string }[]).map((tenant) => tenant.id)).toEqual([
      "acme",
      "default",
      "other",
    ]);
  });
});

describe("the event fast path", () => {
  const eventRoutes = Object.keys(ROUTES).filter((route) => route.includes("/events"));
  const cases = eventRoutes.flatMap((route) =>
    [...CALLERS, BOUND, BOUND_READER].flatMap((caller) =>
      ["default", "acme", "other"].map((tenant) => ({
        route,
        caller: caller.name,
        token: caller.token,
        tenant,
      })),
    ),
  );

  it("answers every token and tenant word for word as the validated routes", async () => {
    for (const { route, token, tenant } of cases) {
      const fast = await answer(await call(fastApp, route, tenant, token));
      const validated = await answer(await call(validatedApp, route, tenant, token));
      expect({ route, token, tenant, ...fast }).toEqual({ route, token, tenant, ...validated });
    }
  });
});
