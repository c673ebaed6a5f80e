import { tenantKvKey, tenantRecordSchema } from "@hookline/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type IngestHarness, startIngestHarness } from "../testing/ingest-harness";

let h: IngestHarness;

beforeAll(async () => {
  h = await startIngestHarness({ prefix: "ingest_tenants" });
});
afterAll(async () => {
  await h?.close();
});

async function json(response: Response): Promise<Record<string, unknown>> {
  return (await response.json()) as Record<string, unknown>;
}

async function expectProblem(response: Response, status: number, code: string) {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toBe("application/problem+json");
  const problem = await json(response);
  expect(problem.code).toBe(code);
  return problem;
}

async function createTenant(body: Record<string, unknown>) {
  const response = await h.call("POST", "/v1/tenants", body);
  expect(response.status).toBe(201);
  return json(response);
}

describe("POST /v1/tenants", () => {
  it("creates a tenant with a caller-chosen id, stored under an encoding of it", async () => {
    const created = await createTenant({
      id: "acme.eu-1_",
      name: "Acme",
      metadata: { plan: "pro" },
    });
    expect(created).toEqual({
      id: "acme.eu-1_",
      name: "Acme",
      metadata: { plan: "pro" },
      deleting: false,
      createdAt: expect.any(String),
      updatedAt: created.createdAt,
    });
    const entry = await h.tenantsKv.get(tenantKvKey("acme.eu-1_"));
    expect(tenantRecordSchema.parse(entry?.json())).toMatchObject({ id: "acme.eu-1_" });
  });

  it("takes ids that are not KV keys as they are: leading, trailing and double dots", async () => {
    for (const id of [".hidden", "trailing.", "a..b", "-", "_"]) {
      expect((await createTenant({ id, name: id })).id).toBe(id);
      expect((await h.call("GET", `/v1/tenants/${id}`)).status).toBe(200);
    }
  });

  it("generates ten_ + ULID when no id is given", async () => {
    const created = await createTenant({ name: "Generated" });
    expect(created.id).toMatch(/^ten_[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(created.metadata).toBeNull();
  });

  it("answers 409 for an id that exists, the default tenant's included", async () => {
    await createTenant({ id: "twice", name: "Once" });
    const again = await expectProblem(
      await h.call("POST", "/v1/tenants", { id: "twice", name: "Twice" }),
      409,
      "tenant_exists",
    );
    expect(again.detail).toContain('"twice"');
    await expectProblem(
      await h.call("POST", "/v1/tenants", { id: "default", name: "Mine" }),
      409,
      "tenant_exists",
    );
  });

  it.each([
    [{ id: "has space", name: "x" }, "id"],
    [{ id: "a/b", name: "x" }, "id"],
    [{ id: ".", name: "x" }, "id"],
    [{ id: "..", name: "x" }, "id"],
    [{ id: "x".repeat(65), name: "x" }, "id"],
    [{ id: "ok" }, "name"],
    [{ id: "ok", name: "" }, "name"],
    [{ id: "ok", name: "x".repeat(201) }, "name"],
    [{ id: "ok", name: "x", metadata: { k: 1 } }, "metadata.k"],
    [{ id: "ok", name: "x", metadata: { k: "v".repeat(513) } }, "metadata.k"],
    [{ id: "ok", name: "x", metadata: { ["k".repeat(65)]: "v" } }, "metadata"],
    [
      {
        id: "ok",
        name: "x",
        metadata: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, "v"])),
      },
      "metadata",
    ],
    [{ id: "ok", name: "x", surprise: true }, "surprise"],
  ])("answers 400 for %j naming %s", async (body, field) => {
    const problem = await expectProblem(
      await h.call("POST", "/v1/tenants", body),
      400,
      "invalid_request",
    );
    expect(JSON.stringify(problem.errors)).toContain(field);
  });
});

describe("GET /v1/tenants", () => {
  it("pages through every tenant in id order, the default tenant included", async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor === null ? "" : `&cursor=${cursor}`;
      const response = await h.call("GET", `/v1/tenants?limit=2${query}`);
      expect(response.status).toBe(200);
      const page = (await response.json()) as { data: { id: string }[]; nextCursor: string | null };
      expect(page.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.data.map((tenant) => tenant.id));
      cursor = page.nextCursor;
    } while (cursor !== null);
    expect(seen).toContain("default");
    expect(seen).toContain("acme.eu-1_");
    expect(seen).toEqual([...seen].sort());
    expect(new Set(seen).size).toBe(seen.length);
  });

  it("rejects a cursor it did not issue", async () => {
    await expectProblem(await h.call("GET", "/v1/tenants?cursor=nope!"), 400, "invalid_cursor");
  });
});

describe("GET, PATCH /v1/tenants/{tenantId}", () => {
  it("shows the implicit default tenant", async () => {
    const response = await h.call("GET", "/v1/tenants/default");
    expect(response.status).toBe(200);
    expect(await json(response)).toMatchObject({ id: "default", deleting: false });
  });

  it("changes name and metadata; null clears metadata", async () => {
    await createTenant({ id: "patchy", name: "Before", metadata: { a: "1" } });
    const renamed = await h.call("PATCH", "/v1/tenants/patchy", { name: "After" });
    expect(await json(renamed)).toMatchObject({ name: "After", metadata: { a: "1" } });
    const cleared = await h.call("PATCH", "/v1/tenants/patchy", { metadata: null });
    expect(await json(cleared)).toMatchObject({ name: "After", metadata: null });
    expect(await json(await h.call("GET", "/v1/tenants/patchy"))).toMatchObject({
      name: "After",
      metadata: null,
    });
  });

  it("stores the default tenant on its first change", async () => {
    const response = await h.call("PATCH", "/v1/tenants/default", { name: "Us" });
    expect(response.status).toBe(200);
    expect(await json(await h.call("GET", "/v1/tenants/default"))).toMatchObject({ name: "Us" });
  });

  it("answers 404 naming an unknown tenant and 400 naming a malformed id", async () => {
    for (const [method, body] of [
      ["GET", undefined],
      ["PATCH", { name: "x" }],
      ["DELETE", undefined],
    ] as const) {
      const problem = await expectProblem(
        await h.call(method, "/v1/tenants/nobody", body),
        404,
        "tenant_not_found",
      );
      expect(problem.detail).toBe('no tenant with id "nobody"');
      const bad = await expectProblem(
        await h.call(method, "/v1/tenants/bad%20id", body),
        400,
        "invalid_request",
      );
      expect(JSON.stringify(bad.errors)).toContain("tenantId");
    }
  });
});

describe("DELETE /v1/tenants/{tenantId}", () => {
  it("refuses to delete the default tenant", async () => {
    await expectProblem(await h.call("DELETE", "/v1/tenants/default"), 409, "default_tenant");
  });
});

describe("OpenAPI", () => {
  it("documents the tenant paths and says the paths without a tenant act for the default one", async () => {
    const response = await h.app.request("/openapi.json");
    const document = (await response.json()) as {
      paths: Record<string, Record<string, { description?: string }>>;
    };
    for (const path of [
      "/v1/tenants",
      "/v1/tenants/{tenantId}",
      "/v1/tenants/{tenantId}/endpoints",
      "/v1/tenants/{tenantId}/endpoints/{id}",
      "/v1/tenants/{tenantId}/endpoints/{id}/secret",
      "/v1/tenants/{tenantId}/endpoints/{id}/rotate-secret",
      "/v1/tenants/{tenantId}/events",
      "/v1/tenants/{tenantId}/events/batch",
    ]) {
      expect(document.paths[path], path).toBeDefined();
    }
    for (const [path, operations] of Object.entries(document.paths)) {
      if (!path.startsWith("/v1/endpoints") && !path.startsWith("/v1/events")) continue;
      for (const [method, operation] of Object.entries(operations)) {
        expect(operation.description, `${method} ${path}`).toContain("default tenant");
      }
    }
  });
});
