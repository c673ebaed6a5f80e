import { type ApiToken, DLQ_SCOPES, type DlqScope, REQUIRED_SCOPES } from "@hookline/kit";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { DlqApp } from "../app";
import type { PublicDeadLetter } from "../http/letter-schemas";
import { bodyOf, type DlqHarness, dlqAppOver, startDlqHarness } from "../testing/dlq-harness";
import { endpointId, incomingLetter, putEndpoint } from "../testing/letters";

/**
 * Every route of the dlq app, by method and OpenAPI path: the scope it must require, and a
 * request that is valid once past auth. The test fails when the app has a route this table does
 * not name, so a new route cannot go without its scope being checked here.
 */
const ROUTES: Record<string, { scopes: DlqScope[]; body?: unknown; query?: string }> = {
  "GET /v1/dead-letters": { scopes: ["deadletters:read"] },
  "GET /v1/dead-letters/stats": { scopes: ["deadletters:read"], query: "?groupBy=tenant" },
  "GET /v1/dead-letters/{id}": { scopes: ["deadletters:read"] },
  "GET /v1/dead-letters/{id}/audit": { scopes: ["deadletters:read"] },
  "POST /v1/dead-letters/{id}/replay": { scopes: ["deadletters:write"], body: {} },
  "POST /v1/dead-letters/{id}/resolve": { scopes: ["deadletters:write"], body: { note: "fixed" } },
  "POST /v1/dead-letters/{id}/discard": { scopes: ["deadletters:write"], body: { note: "junk" } },
  "POST /v1/dead-letters/replay": { scopes: ["deadletters:write"], body: { filter: {}, limit: 1 } },
  "POST /v1/dead-letters/resolve": {
    scopes: ["deadletters:write"],
    body: { filter: {}, limit: 1, note: "fixed" },
  },
  "GET /v1/stats": { scopes: ["attempts:read"], query: "?window=1h" },
  "GET /v1/queues": { scopes: ["queues:read"] },
  "GET /v1/attempts": { scopes: ["attempts:read"] },
  "GET /v1/events/{eventId}/attempts": { scopes: ["attempts:read"] },
  "GET /v1/events/{eventId}": { scopes: ["attempts:read"] },
  "POST /v1/events/{eventId}/retry": { scopes: ["deadletters:write"], body: {} },
};
/** Its tenant is in the query, not a body filter: tested on its own below. */
const RETRY_ROUTE = "POST /v1/events/{eventId}/retry";

interface Caller {
  name: string;
  token: string;
  /** Undefined: configured without scopes, so both. */
  scopes: readonly DlqScope[] | undefined;
  tenantId?: string;
}

const CALLERS: Caller[] = [
  ...DLQ_SCOPES.map((scope) => ({
    name: `only-${scope.replace(":", "-")}`,
    token: `token-${scope.replace(":", "-")}`,
    scopes: [scope],
  })),
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
  scopes: ["deadletters:read"],
  tenantId: "acme",
};

const tokens: ApiToken[] = [...CALLERS, BOUND, BOUND_READER].map((caller) => ({
  name: caller.name,
  token: caller.token,
  ...(caller.scopes === undefined ? {} : { scopes: caller.scopes }),
  ...(caller.tenantId === undefined ? {} : { tenantId: caller.tenantId }),
}));

/** Codes that mean the request did not get past the token's scopes or tenant. */
const STOPPED = ["unauthorized", "missing_scope", "tenant_not_found", "dead_letter_not_found"];

let h: DlqHarness;
let app: DlqApp;

beforeAll(async () => {
  h = await startDlqHarness({ prefix: "dlq_scopes" });
  await putEndpoint(h.kv, endpointId(1));
  await h.cache.waitForRevision(1);
  app = dlqAppOver(h, { tokens });
});
afterAll(async () => {
  await h?.close();
});

/** The event of the acme letter: the event routes find it through its dead letter. */
const ACME_EVENT = "evt_scopes_acme";
let acmeLetter: string;
let otherLetter: string;
beforeEach(async () => {
  await h.reset();
  acmeLetter = (
    await h.store(
      incomingLetter({ tenantId: "acme", endpointId: endpointId(1), eventId: ACME_EVENT }),
    )
  ).id;
  otherLetter = (await h.store(incomingLetter({ tenantId: "other", endpointId: endpointId(1) })))
    .id;
});

function call(
  route: string,
  token: string,
  letterId: string,
  overrides?: { query?: string; body?: unknown },
) {
  const [method = "", pattern = ""] = route.split(" ");
  const entry = ROUTES[route];
  const body = overrides?.body ?? entry?.body;
  const path =
    pattern.replace("{id}", letterId).replace("{eventId}", ACME_EVENT) +
    (overrides?.query ?? entry?.query ?? "");
  return app.request(path, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

async function answer(response: Response) {
  const text = await response.text();
  return {
    status: response.status,
    body: (text === "" ? {} : JSON.parse(text)) as Record<string, unknown>,
  };
}

describe("the scopes of every dlq route", () => {
  it("has a table entry for every route of the OpenAPI document, declaring the same scopes", async () => {
    const document = (await (await app.request("/openapi.json")).json()) as {
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
    expect(documented).toEqual(
      Object.fromEntries(Object.entries(ROUTES).map(([route, { scopes }]) => [route, scopes])),
    );
  });

  describe.each(Object.keys(ROUTES))("%s", (route) => {
    const required = ROUTES[route]?.scopes ?? [];
    it.each(CALLERS)("with $name: through exactly when it holds the scope", async (caller) => {
      const { status, body } = await answer(await call(route, caller.token, acmeLetter));
      const missing = required.find((scope) => !(caller.scopes ?? DLQ_SCOPES).includes(scope));
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
    });
  });
});

describe("a token bound to a tenant", () => {
  const letterRoutes = Object.keys(ROUTES).filter((route) => route.includes("{id}"));
  const filterRoutes = Object.keys(ROUTES).filter(
    (route) => !route.includes("{id}") && route !== RETRY_ROUTE,
  );

  it.each(letterRoutes)("%s: passes for its own tenant's letter", async (route) => {
    const { status, body } = await answer(await call(route, BOUND.token, acmeLetter));
    expect(status).not.toBe(403);
    expect(STOPPED).not.toContain(body.code);
  });

  it.each(letterRoutes)("%s: another tenant's letter is a 404 as a missing one", async (route) => {
    const other = await answer(await call(route, BOUND.token, otherLetter));
    expect(other.status).toBe(404);
    expect(other.body).toMatchObject({
      code: "dead_letter_not_found",
      detail: `no dead letter with id "${otherLetter}"`,
    });
    // The letter is untouched, and an unbound token still finds it.
    const found = await answer(
      await call("GET /v1/dead-letters/{id}", "token-all-scopes", otherLetter),
    );
    expect(found.body).toMatchObject({ id: otherLetter, status: "open", tenantId: "other" });
  });

  it.each(filterRoutes)(
    "%s: a filter naming another tenant is a 404 as an unknown tenant",
    async (route) => {
      const entry = ROUTES[route];
      const overrides = route.startsWith("GET")
        ? { query: "?tenantId=other" }
        : { body: { ...(entry?.body as object), filter: { tenantId: "other" } } };
      const { status, body } = await answer(await call(route, BOUND.token, "", overrides));
      expect(status).toBe(404);
      expect(body).toMatchObject({ code: "tenant_not_found", detail: 'no tenant with id "other"' });
      const own = route.startsWith("GET")
        ? { query: "?tenantId=acme" }
        : { body: { ...(entry?.body as object), filter: { tenantId: "acme" } } };
      expect((await call(route, BOUND.token, "", own)).status).toBe(200);
    },
  );

  it("retries now only its tenant's events: another tenant is a 404 as an unknown one", async () => {
    const other = await answer(
      await call(RETRY_ROUTE, BOUND.token, "", { query: "?tenantId=other" }),
    );
    expect(other.status).toBe(404);
    expect(other.body).toMatchObject({ code: "tenant_not_found" });
    // Its own event gets through (and, dead-lettered, is pointed to the replay).
    const own = await answer(await call(RETRY_ROUTE, BOUND.token, "", { query: "?tenantId=acme" }));
    expect(own.status).toBe(409);
    expect(own.body).toMatchObject({ code: "task_dead_lettered" });
    // Another tenant's event is unknown to it.
    await h.store(
      incomingLetter({ tenantId: "other", endpointId: endpointId(1), eventId: "evt_o" }),
    );
    const foreign = await answer(
      await app.request("/v1/events/evt_o/retry", {
        method: "POST",
        headers: { authorization: `Bearer ${BOUND.token}` },
      }),
    );
    expect(foreign.status).toBe(404);
    expect(foreign.body).toMatchObject({ code: "event_not_found" });
  });

  it("lists and counts only its tenant's letters", async () => {
    const page = await bodyOf<{ data: PublicDeadLetter[] }>(
      await call("GET /v1/dead-letters", BOUND_READER.token, ""),
    );
    expect(page.data.map((letter) => letter.id)).toEqual([acmeLetter]);
    const stats = await bodyOf<{ byTenant: Record<string, number> }>(
      await call("GET /v1/dead-letters/stats", BOUND_READER.token, ""),
    );
    expect(stats.byTenant).toEqual({ acme: 1 });
    const all = await bodyOf<{ byTenant: Record<string, number> }>(
      await call("GET /v1/dead-letters/stats", "token-all-scopes", ""),
    );
    expect(all.byTenant).toEqual({ acme: 1, other: 1 });
  });

  it("replays and resolves in bulk only its tenant's letters", async () => {
    const replayed = await answer(
      await call("POST /v1/dead-letters/replay", BOUND.token, "", {
        body: { filter: {}, limit: 10 },
      }),
    );
    expect(replayed).toMatchObject({ status: 200, body: { matched: 1, done: 1 } });
    const resolved = await answer(
      await call("POST /v1/dead-letters/resolve", BOUND.token, "", {
        body: { filter: {}, limit: 10, note: "done" },
      }),
    );
    expect(resolved.status).toBe(200);
    const other = await bodyOf<PublicDeadLetter>(
      await call("GET /v1/dead-letters/{id}", "token-all-scopes", otherLetter),
    );
    expect(other.status).toBe("open");
  });

  it("still needs the route's scope: a bound reader may not replay its own letter", async () => {
    const { status, body } = await answer(
      await call("POST /v1/dead-letters/{id}/replay", BOUND_READER.token, acmeLetter),
    );
    expect(status).toBe(403);
    expect(body.detail).toBe("this token lacks the scope deadletters:write");
  });
});
