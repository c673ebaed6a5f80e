import {
  type EndpointPortPolicy,
  type EndpointRecord,
  endpointRecordSchema,
  MAX_ENDPOINT_URL_LENGTH,
} from "@hookline/contracts";
import {
  bearerAuth,
  createLogger,
  createServiceApp,
  createServiceMetrics,
  type KitEnv,
} from "@hookline/kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type IngestHarness, startIngestHarness, TEST_TOKEN } from "../testing/ingest-harness";
import { registerCreateEndpoint } from "./create-endpoint";
import { registerRoutes } from "./registration";
import { registerUpdateEndpoint } from "./update-endpoint";

let h: IngestHarness;

beforeAll(async () => {
  h = await startIngestHarness({ prefix: "ingest_endpoints" });
});
afterAll(async () => {
  await h?.close();
});

async function json(response: Response): Promise<Record<string, unknown>> {
  return (await response.json()) as Record<string, unknown>;
}

async function createEndpoint(body: Record<string, unknown> = {}) {
  const response = await h.call("POST", "/v1/endpoints", {
    url: "https://example.com/hook",
    ...body,
  });
  expect(response.status).toBe(201);
  return json(response);
}

async function storedRecord(id: string): Promise<EndpointRecord> {
  const entry = await h.kv.get(id);
  if (entry === null) throw new Error(`no KV entry for ${id}`);
  return endpointRecordSchema.parse(entry.json());
}

describe("POST /v1/endpoints", () => {
  it("creates an endpoint with a generated secret and answers 201", async () => {
    const created = await createEndpoint({
      eventTypes: ["order.created"],
      description: "orders",
      headers: { "x-tenant": "acme" },
      rateLimitPerSecond: 5,
      timeoutMs: 2_000,
      retrySchedule: ["1s", "10s"],
      maxInFlight: 4,
    });
    expect(created).toMatchObject({
      url: "https://example.com/hook",
      description: "orders",
      eventTypes: ["order.created"],
      // Header values are write-only: the answer names the header, the bucket holds the value.
      headers: { "x-tenant": "<redacted>" },
      disabled: false,
      disabledReason: null,
      rateLimitPerSecond: 5,
      timeoutMs: 2_000,
      retrySchedule: ["1s", "10s"],
      maxInFlight: 4,
    });
    expect(created.id).toMatch(/^ep_[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    expect(Buffer.from(String(created.secret).slice(6), "base64")).toHaveLength(24);
    const stored = await storedRecord(String(created.id));
    expect(stored.secrets).toEqual([{ value: created.secret, createdAt: expect.any(String) }]);
    expect(stored.headers).toEqual({ "x-tenant": "acme" });
  });

  it("shows absent optionals as null and defaults eventTypes to every type", async () => {
    const created = await createEndpoint();
    expect(created).toMatchObject({
      eventTypes: [],
      description: null,
      headers: null,
      rateLimitPerSecond: null,
      timeoutMs: null,
      retrySchedule: null,
      maxInFlight: null,
      disabledReason: null,
    });
  });

  it("uses a given secret", async () => {
    const secret = `whsec_${Buffer.alloc(32, 7).toString("base64")}`;
    const created = await createEndpoint({ secret });
    expect(created.secret).toBe(secret);
  });

  it.each([
    [{ url: "ftp://example.com" }, "url"],
    [{ url: "https://example.com", eventTypes: ["bad type"] }, "eventTypes.0"],
    [{ url: "https://example.com", secret: "whsec_c2hvcnQ=" }, "secret"],
    [{ url: "https://example.com", timeoutMs: 60_000 }, "timeoutMs"],
    [{ url: "https://example.com", retrySchedule: ["soon"] }, "retrySchedule.0"],
    [{ url: "https://example.com", maxInFlight: 0 }, "maxInFlight"],
    [{ url: "https://example.com", headers: { "webhook-id": "x" } }, "headers.webhook-id"],
    [{ url: "https://example.com", surprise: true }, "surprise"],
  ])("rejects %j naming %s", async (body, field) => {
    const response = await h.call("POST", "/v1/endpoints", body);
    expect(response.status).toBe(400);
    expect(response.headers.get("content-type")).toContain("application/problem+json");
    const problem = await json(response);
    expect(problem.code).toBe("invalid_request");
    expect(JSON.stringify(problem.errors)).toContain(field);
  });
});

describe("custom headers", () => {
  it.each([
    ["Connection", "close"],
    ["keep-alive", "timeout=5"],
    ["proxy-connection", "keep-alive"],
    ["transfer-encoding", "chunked"],
    ["upgrade", "h2c"],
    ["te", "trailers"],
    ["trailer", "x-sum"],
    ["expect", "100-continue"],
    ["host", "example.org"],
    ["content-length", "1"],
    ["x bad", "v"],
    ["x-ctl", "a\u0001b"],
    ["x-crlf", "a\r\nx-evil: 1"],
    ["x-non-ascii", "café"],
  ])("answers 400 naming %j on create and on update", async (name, value) => {
    const expectNamed = async (response: Response) => {
      expect(response.status).toBe(400);
      expect(response.headers.get("content-type")).toBe("application/problem+json");
      const problem = await json(response);
      expect(problem.errors).toEqual([
        { path: `headers.${name}`, message: expect.stringContaining(JSON.stringify(name)) },
      ]);
    };
    await expectNamed(
      await h.call("POST", "/v1/endpoints", {
        url: "https://example.com/hook",
        headers: { "x-fine": "yes", [name]: value },
      }),
    );
    const created = await createEndpoint({ headers: { "x-fine": "yes" } });
    await expectNamed(
      await h.call("PATCH", `/v1/endpoints/${created.id}`, { headers: { [name]: value } }),
    );
    expect((await storedRecord(String(created.id))).headers).toEqual({ "x-fine": "yes" });
  });

  it("keeps serving and editing a record stored with a header the API now refuses", async () => {
    const created = await createEndpoint({ headers: { "x-fine": "yes" } });
    const id = String(created.id);
    const record = await storedRecord(id);
    const revision = await h.kv.put(id, JSON.stringify({ ...record, headers: { te: "trailers" } }));
    // The API reads the cache: let its watch see the write first.
    expect(await h.cache.waitForRevision(revision)).toBe(true);
    const shown = await h.call("GET", `/v1/endpoints/${id}`);
    expect(shown.status).toBe(200);
    expect((await json(shown)).headers).toEqual({ te: "<redacted>" });
    const edited = await h.call("PATCH", `/v1/endpoints/${id}`, { description: "legacy" });
    expect(edited.status).toBe(200);
    const cleared = await h.call("PATCH", `/v1/endpoints/${id}`, { headers: null });
    expect((await json(cleared)).headers).toBeNull();
  });
});

describe("endpoint URLs", () => {
  /** A 400 problem+json with one error on `url`; its message. */
  const urlRefusal = async (response: Response) => {
    expect(response.status).toBe(400);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
    const problem = await json(response);
    expect(problem.code).toBe("invalid_request");
    const errors = problem.errors as { path: string; message: string }[];
    expect(errors.map((error) => error.path)).toEqual(["url"]);
    expect(problem.detail).toBe(`url: ${errors[0]?.message}`);
    return String(errors[0]?.message);
  };

  it.each([
    "https://alice:s3cr3t@example.com/hook",
    "https://alice@example.com/hook",
    "https://:s3cr3t@example.com/hook",
  ])("refuses credentials in %s on create and on update, never echoing them", async (url) => {
    const created = await h.call("POST", "/v1/endpoints", { url });
    const message = await urlRefusal(created);
    expect(message).toMatch(/credentials in URLs .* not accepted/);
    expect(message).toMatch(/header/);
    expect(message).not.toMatch(/alice|s3cr3t/);
    const endpoint = await createEndpoint();
    const updated = await h.call("PATCH", `/v1/endpoints/${endpoint.id}`, { url });
    expect(await urlRefusal(updated)).toBe(message);
    expect((await storedRecord(String(endpoint.id))).url).toBe("https://example.com/hook");
  });

  it(`refuses a URL longer than ${MAX_ENDPOINT_URL_LENGTH} characters, naming the limit`, async () => {
    const base = "https://example.com/";
    const longest = base + "a".repeat(MAX_ENDPOINT_URL_LENGTH - base.length);
    expect((await createEndpoint({ url: longest })).url).toBe(longest);
    const tooLong = await h.call("POST", "/v1/endpoints", { url: `${longest}a` });
    expect(await urlRefusal(tooLong)).toBe("longer than 2048 characters");
    const endpoint = await createEndpoint();
    const updated = await h.call("PATCH", `/v1/endpoints/${endpoint.id}`, { url: `${longest}a` });
    expect(await urlRefusal(updated)).toBe("longer than 2048 characters");
  });

  it.each([22, 25, 4222, 5432, 6379])(
    "refuses port %i on create and on update, naming it",
    async (port) => {
      const url = `https://example.com:${port}/hook`;
      const message = await urlRefusal(await h.call("POST", "/v1/endpoints", { url }));
      expect(message).toBe(`port ${port} is not allowed for endpoints in this deployment`);
      const endpoint = await createEndpoint();
      const updated = await h.call("PATCH", `/v1/endpoints/${endpoint.id}`, { url });
      expect(await urlRefusal(updated)).toBe(message);
    },
  );

  it("takes the default ports and an allowed explicit one", async () => {
    for (const url of [
      "http://example.com/hook",
      "https://example.com:443/hook",
      "https://example.com:8443/hook",
      "http://127.0.0.1:3000/hook",
    ]) {
      const created = await h.call("POST", "/v1/endpoints", { url });
      expect(created.status, url).toBe(201);
      const endpoint = await createEndpoint();
      const updated = await h.call("PATCH", `/v1/endpoints/${endpoint.id}`, { url });
      expect(updated.status, url).toBe(200);
      expect((await json(updated)).url).toBe(url);
    }
  });

  it("keeps serving and editing a record stored with credentials in its URL", async () => {
    const created = await createEndpoint();
    const id = String(created.id);
    const record = await storedRecord(id);
    const legacyUrl = "https://alice:s3cr3t@example.com/hook";
    const revision = await h.kv.put(id, JSON.stringify({ ...record, url: legacyUrl }));
    expect(await h.cache.waitForRevision(revision)).toBe(true);
    expect(h.cache.get(id)?.record.url).toBe(legacyUrl);
    // Never sent and never shown: reads leave the credentials out.
    const read = await h.call("GET", `/v1/endpoints/${id}`);
    expect(read.status).toBe(200);
    const readText = await read.text();
    expect(readText).not.toContain("s3cr3t");
    expect(JSON.parse(readText)).toMatchObject({ url: "https://example.com/hook" });
    const listed = await (await h.call("GET", "/v1/endpoints")).text();
    expect(listed).not.toContain("s3cr3t");
    const edited = await h.call("PATCH", `/v1/endpoints/${id}`, { description: "legacy" });
    expect(edited.status).toBe(200);
    expect(await edited.text()).not.toContain("s3cr3t");
    const fixed = await h.call("PATCH", `/v1/endpoints/${id}`, {
      url: "https://example.com/hook",
      headers: { authorization: "Basic YWxpY2U6czNjcjN0" },
    });
    expect(fixed.status).toBe(200);
    expect(await json(fixed)).toMatchObject({ url: "https://example.com/hook" });
  });

  it("follows the deployment's policy: an allow-list, and blocked ports within it", async () => {
    const policy: EndpointPortPolicy = {
      blocked: [{ from: 8222, to: 8222 }],
      allowed: [
        { from: 443, to: 443 },
        { from: 8000, to: 8999 },
      ],
    };
    const app = createServiceApp<KitEnv>({
      logger: createLogger({ service: "ingest", level: "silent", pretty: false }),
      metrics: createServiceMetrics("ingest"),
      readiness: {},
    });
    app.use("/v1/*", bearerAuth([{ name: "tester", token: TEST_TOKEN }]));
    const register = registerRoutes(app, { tenants: h.tenants });
    registerCreateEndpoint(register, {
      registry: h.registry,
      tenants: h.tenants,
      endpointPorts: policy,
    });
    registerUpdateEndpoint(register, { registry: h.registry, endpointPorts: policy });
    const call = (method: string, path: string, body: unknown) =>
      app.request(path, {
        method,
        headers: { authorization: `Bearer ${TEST_TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });

    const created = await call("POST", "/v1/endpoints", { url: "https://example.com:8443/hook" });
    expect(created.status).toBe(201);
    const id = String((await json(created)).id);
    expect((await call("POST", "/v1/endpoints", { url: "https://example.com/hook" })).status).toBe(
      201,
    );
    expect(
      await urlRefusal(await call("PATCH", `/v1/endpoints/${id}`, { url: "http://x.test/" })),
    ).toBe("port 80 is not allowed for endpoints in this deployment (allowed: 443,8000-8999)");
    expect(
      await urlRefusal(await call("POST", "/v1/endpoints", { url: "https://x.test:8222/" })),
    ).toBe("port 8222 is not allowed for endpoints in this deployment");
  });
});

describe("GET /v1/endpoints", () => {
  it("pages through every endpoint in id order with an opaque cursor", async () => {
    const mine = [];
    for (let i = 0; i < 5; i++) mine.push(String((await createEndpoint()).id));
    const expected = h.cache
      .all()
      .map((cached) => cached.record.id)
      .sort();

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = cursor === null ? "" : `&cursor=${cursor}`;
      const response = await h.call("GET", `/v1/endpoints?limit=2${query}`);
      expect(response.status).toBe(200);
      const page = (await response.json()) as {
        data: Record<string, unknown>[];
        nextCursor: string | null;
      };
      expect(page.data.length).toBeLessThanOrEqual(2);
      for (const endpoint of page.data) {
        expect(endpoint).not.toHaveProperty("secret");
        expect(endpoint).not.toHaveProperty("secrets");
        seen.push(String(endpoint.id));
      }
      cursor = page.nextCursor;
      if (cursor !== null) expect(cursor).not.toContain("ep_");
      pages++;
    } while (cursor !== null);

    expect(pages).toBeGreaterThanOrEqual(3);
    expect(pages).toBe(Math.ceil(expected.length / 2));
    expect(seen).toEqual(expected);
    expect(seen).toEqual(expect.arrayContaining(mine));
  });

  it("defaults to 50 a page and caps the limit at 200", async () => {
    expect((await h.call("GET", "/v1/endpoints")).status).toBe(200);
    const tooMany = await h.call("GET", "/v1/endpoints?limit=201");
    expect(tooMany.status).toBe(400);
    expect((await json(tooMany)).detail).toContain("limit");
    expect((await h.call("GET", "/v1/endpoints?limit=0")).status).toBe(400);
  });

  it("rejects a cursor it did not issue", async () => {
    const response = await h.call("GET", "/v1/endpoints?cursor=not-a-cursor");
    expect(response.status).toBe(400);
    expect((await json(response)).code).toBe("invalid_cursor");
  });
});

describe("GET /v1/endpoints/{id}", () => {
  it("returns the endpoint without secrets", async () => {
    const created = await createEndpoint({ description: "read me" });
    const response = await h.call("GET", `/v1/endpoints/${created.id}`);
    expect(response.status).toBe(200);
    const { secret: _secret, ...expected } = created;
    const body = await json(response);
    expect(body).toEqual(expected);
    expect(JSON.stringify(body)).not.toContain("whsec_");
  });

  it("answers 404 problem+json for an unknown or malformed id", async () => {
    for (const id of ["ep_01JD0000000000000000000000", "nope"]) {
      const response = await h.call("GET", `/v1/endpoints/${id}`);
      expect(response.status).toBe(404);
      expect(response.headers.get("content-type")).toContain("application/problem+json");
      expect((await json(response)).code).toBe("endpoint_not_found");
    }
  });
});

describe("PATCH /v1/endpoints/{id}", () => {
  it("changes given fields, clears nulls and keeps the rest", async () => {
    const created = await createEndpoint({ description: "before", timeoutMs: 1_000 });
    const response = await h.call("PATCH", `/v1/endpoints/${created.id}`, {
      url: "https://example.org/other",
      eventTypes: ["a.b"],
      description: null,
      rateLimitPerSecond: 10,
    });
    expect(response.status).toBe(200);
    const updated = await json(response);
    expect(updated).toMatchObject({
      id: created.id,
      url: "https://example.org/other",
      eventTypes: ["a.b"],
      description: null,
      rateLimitPerSecond: 10,
      timeoutMs: 1_000,
      createdAt: created.createdAt,
    });
    expect(Date.parse(String(updated.updatedAt))).toBeGreaterThanOrEqual(
      Date.parse(String(created.updatedAt)),
    );
    // Read-your-write through the cache.
    expect(await json(await h.call("GET", `/v1/endpoints/${created.id}`))).toEqual(updated);
  });

  it("disables with a reason and re-enabling clears it", async () => {
    const created = await createEndpoint();
    const disabled = await json(
      await h.call("PATCH", `/v1/endpoints/${created.id}`, { disabled: true }),
    );
    expect(disabled.disabled).toBe(true);
    expect(disabled.disabledReason).toContain("tester");
    const enabled = await json(
      await h.call("PATCH", `/v1/endpoints/${created.id}`, { disabled: false }),
    );
    expect(enabled).toMatchObject({ disabled: false, disabledReason: null });
    expect((await storedRecord(String(created.id))).disabledReason).toBeUndefined();
  });

  it("clears a reason set by another writer (the classifier's auto-disable)", async () => {
    const created = await createEndpoint();
    const id = String(created.id);
    const entry = await h.kv.get(id);
    const record = endpointRecordSchema.parse(entry?.json());
    await h.kv.update(
      id,
      JSON.stringify({ ...record, disabled: true, disabledReason: "endpoint answered 410" }),
      entry?.revision ?? 0,
    );
    const enabled = await json(await h.call("PATCH", `/v1/endpoints/${id}`, { disabled: false }));
    expect(enabled).toMatchObject({ disabled: false, disabledReason: null });
  });

  it("keeps both of two concurrent updates (compare-and-set retries)", async () => {
    const created = await createEndpoint();
    const [a, b] = await Promise.all([
      h.call("PATCH", `/v1/endpoints/${created.id}`, { description: "first" }),
      h.call("PATCH", `/v1/endpoints/${created.id}`, { timeoutMs: 3_000 }),
    ]);
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    const stored = await storedRecord(String(created.id));
    expect(stored).toMatchObject({ description: "first", timeoutMs: 3_000 });
  });

  it("answers 404 for an unknown id and 400 for an unknown field", async () => {
    const missing = await h.call("PATCH", "/v1/endpoints/ep_01JD0000000000000000000000", {
      disabled: true,
    });
    expect(missing.status).toBe(404);
    const created = await createEndpoint();
    const typo = await h.call("PATCH", `/v1/endpoints/${created.id}`, { disable: true });
    expect(typo.status).toBe(400);
  });
});

describe("DELETE /v1/endpoints/{id}", () => {
  it("deletes and answers 204, then 404", async () => {
    const created = await createEndpoint();
    const response = await h.call("DELETE", `/v1/endpoints/${created.id}`);
    expect(response.status).toBe(204);
    expect(await response.text()).toBe("");
    expect((await h.call("GET", `/v1/endpoints/${created.id}`)).status).toBe(404);
    expect((await h.call("DELETE", `/v1/endpoints/${created.id}`)).status).toBe(404);
  });
});

describe("secrets", () => {
  it("GET …/secret answers the newest secret", async () => {
    const created = await createEndpoint();
    const response = await h.call("GET", `/v1/endpoints/${created.id}/secret`);
    expect(response.status).toBe(200);
    expect(await json(response)).toEqual({ secret: created.secret });
  });

  it("rotation puts the new secret first and keeps the old one for 24 hours", async () => {
    const created = await createEndpoint();
    const before = Date.now();
    const response = await h.call("POST", `/v1/endpoints/${created.id}/rotate-secret`);
    expect(response.status).toBe(200);
    const { secret } = (await response.json()) as { secret: string };
    expect(secret).toMatch(/^whsec_/);
    expect(secret).not.toBe(created.secret);

    const stored = await storedRecord(String(created.id));
    expect(stored.secrets).toHaveLength(2);
    expect(stored.secrets[0]).toEqual({ value: secret, createdAt: expect.any(String) });
    expect(stored.secrets[1]?.value).toBe(created.secret);
    const expiresAt = Date.parse(stored.secrets[1]?.expiresAt ?? "");
    expect(expiresAt).toBeGreaterThanOrEqual(before + 24 * 3_600_000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 24 * 3_600_000);

    expect(await json(await h.call("GET", `/v1/endpoints/${created.id}/secret`))).toEqual({
      secret,
    });
    const shown = JSON.stringify(await json(await h.call("GET", `/v1/endpoints/${created.id}`)));
    expect(shown).not.toContain("whsec_");
  });

  it("answers 404 for secrets of an unknown endpoint", async () => {
    const id = "ep_01JD0000000000000000000000";
    expect((await h.call("GET", `/v1/endpoints/${id}/secret`)).status).toBe(404);
    expect((await h.call("POST", `/v1/endpoints/${id}/rotate-secret`)).status).toBe(404);
  });
});

describe("auth and docs", () => {
  it("answers 401 problem+json without or with a wrong token", async () => {
    const none = await h.app.request("/v1/endpoints");
    expect(none.status).toBe(401);
    expect(none.headers.get("content-type")).toContain("application/problem+json");
    const wrong = await h.app.request("/v1/endpoints", {
      headers: { authorization: "Bearer not-the-token" },
    });
    expect(wrong.status).toBe(401);
    expect((await json(wrong)).code).toBe("unauthorized");
  });

  it("serves the OpenAPI document and docs without a token", async () => {
    const response = await h.app.request("/openapi.json");
    expect(response.status).toBe(200);
    const doc = (await response.json()) as {
      paths: Record<string, Record<string, unknown>>;
      components: { schemas: Record<string, unknown>; responses: Record<string, unknown> };
    };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        "/v1/endpoints",
        "/v1/endpoints/{id}",
        "/v1/endpoints/{id}/secret",
        "/v1/endpoints/{id}/rotate-secret",
        "/v1/events",
        "/v1/events/batch",
      ]),
    );
    expect(Object.keys(doc.components.schemas)).toEqual(
      expect.arrayContaining(["Endpoint", "CreateEndpoint", "Event", "Problem"]),
    );
    expect(Object.keys(doc.components.responses)).toContain("Unavailable");
    expect((await h.app.request("/docs")).status).toBe(200);
  });

  it("reports endpoint counts by state in /metrics", async () => {
    const text = await (await h.app.request("/metrics")).text();
    expect(text).toMatch(/hookline_endpoints\{state="enabled",service="ingest"\} \d+/);
    expect(text).toMatch(/hookline_endpoints\{state="disabled",service="ingest"\} \d+/);
  });
});
