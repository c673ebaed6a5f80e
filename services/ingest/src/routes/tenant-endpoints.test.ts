import { endpointRecordSchema } from "@hookline/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type IngestHarness, startIngestHarness } from "../testing/ingest-harness";

let h: IngestHarness;

beforeAll(async () => {
  h = await startIngestHarness({ prefix: "ingest_tenant_endpoints" });
  for (const id of ["acme", "globex"]) {
    expect((await h.call("POST", "/v1/tenants", { id, name: id })).status).toBe(201);
  }
});
afterAll(async () => {
  await h?.close();
});

async function json(response: Response): Promise<Record<string, unknown>> {
  return (await response.json()) as Record<string, unknown>;
}

async function createIn(base: string, body: Record<string, unknown> = {}) {
  const response = await h.call("POST", `${base}/endpoints`, {
    url: "https://example.com/hook",
    ...body,
  });
  expect(response.status).toBe(201);
  return json(response);
}

/** Every endpoint route, as [method, path under the base, body]. */
const routesOf = (id: string): [string, string, unknown][] => [
  ["GET", `/endpoints/${id}`, undefined],
  ["PATCH", `/endpoints/${id}`, { description: "x" }],
  ["GET", `/endpoints/${id}/secret`, undefined],
  ["POST", `/endpoints/${id}/rotate-secret`, undefined],
  ["DELETE", `/endpoints/${id}`, undefined],
];

describe("endpoints under /v1/tenants/{tenantId}", () => {
  it("creates one that belongs to the tenant, stored with its tenantId", async () => {
    const created = await createIn("/v1/tenants/acme", { eventTypes: ["invoice.paid"] });
    expect(created.tenantId).toBe("acme");
    const entry = await h.kv.get(String(created.id));
    expect(endpointRecordSchema.parse(entry?.json()).tenantId).toBe("acme");
  });

  it("serves every route for the tenant's own endpoint", async () => {
    const created = await createIn("/v1/tenants/acme");
    for (const [method, path, body] of routesOf(String(created.id))) {
      const response = await h.call(method, `/v1/tenants/acme${path}`, body);
      expect(response.status, `${method} ${path}`).toBeLessThan(300);
    }
  });

  it("answers 404 for another tenant's endpoint on every route, exactly as for a missing one", async () => {
    const theirs = String((await createIn("/v1/tenants/globex")).id);
    const missing = `ep_${"0".repeat(26)}`;
    for (const base of ["/v1/tenants/acme", "/v1"]) {
      for (const [method, path, body] of routesOf(theirs)) {
        const answer = await h.call(method, `${base}${path}`, body);
        const absent = await h.call(method, `${base}${path.replace(theirs, missing)}`, body);
        expect(answer.status, `${method} ${base}${path}`).toBe(404);
        const [problem, expected] = [await json(answer), await json(absent)];
        expect(problem.code).toBe("endpoint_not_found");
        expect(problem.code).toBe(expected.code);
        expect(problem.title).toBe(expected.title);
        expect(problem.detail).toBe(String(expected.detail).replace(missing, theirs));
      }
    }
    // Untouched by all of that.
    const still = await h.call("GET", `/v1/tenants/globex/endpoints/${theirs}`);
    expect(await json(still)).toMatchObject({ id: theirs, description: null });
  });

  it("lists only the tenant's endpoints, paging with a cursor", async () => {
    await h.call("POST", "/v1/tenants", { id: "lister", name: "Lister" });
    const mine: string[] = [];
    for (let i = 0; i < 5; i++) mine.push(String((await createIn("/v1/tenants/lister")).id));
    await createIn("/v1/tenants/globex");
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor === null ? "" : `&cursor=${cursor}`;
      const response = await h.call("GET", `/v1/tenants/lister/endpoints?limit=2${query}`);
      const page = (await response.json()) as { data: { id: string }[]; nextCursor: string | null };
      seen.push(...page.data.map((endpoint) => endpoint.id));
      cursor = page.nextCursor;
    } while (cursor !== null);
    expect(seen).toEqual(mine);
  });

  it("answers 404 naming an unknown tenant and 400 naming a malformed one, on every route", async () => {
    const created = String((await createIn("/v1/tenants/acme")).id);
    const routes: [string, string, unknown][] = [
      ["POST", "/endpoints", { url: "https://example.com/x" }],
      ["GET", "/endpoints", undefined],
      ...routesOf(created),
    ];
    for (const [method, path, body] of routes) {
      const unknown = await h.call(method, `/v1/tenants/nobody${path}`, body);
      expect(unknown.status, `${method} ${path}`).toBe(404);
      expect(unknown.headers.get("content-type")).toBe("application/problem+json");
      expect(await json(unknown)).toMatchObject({
        code: "tenant_not_found",
        detail: 'no tenant with id "nobody"',
      });
      const malformed = await h.call(method, `/v1/tenants/no%20pe${path}`, body);
      expect(malformed.status, `${method} ${path}`).toBe(400);
      expect(JSON.stringify((await json(malformed)).errors)).toContain('"path":"tenantId"');
    }
  });
});

describe("the paths without a tenant", () => {
  it("act for the default tenant", async () => {
    const legacy = await createIn("/v1");
    expect(legacy.tenantId).toBe("default");
    const viaTenant = await h.call("GET", `/v1/tenants/default/endpoints/${legacy.id}`);
    expect(viaTenant.status).toBe(200);
    const created = await createIn("/v1/tenants/default");
    expect((await h.call("GET", `/v1/endpoints/${created.id}`)).status).toBe(200);
    const listed = (await json(await h.call("GET", "/v1/endpoints?limit=200"))).data as {
      tenantId: string;
    }[];
    expect(listed.length).toBeGreaterThan(0);
    expect(listed.every((endpoint) => endpoint.tenantId === "default")).toBe(true);
  });

  it("treat a record from before tenants (no tenantId) as the default tenant's", async () => {
    const created = await createIn("/v1");
    const id = String(created.id);
    const entry = await h.kv.get(id);
    const { tenantId: _, ...old } = endpointRecordSchema.parse(entry?.json());
    const revision = await h.kv.put(id, JSON.stringify(old));
    expect(await h.cache.waitForRevision(revision)).toBe(true);
    expect(await json(await h.call("GET", `/v1/endpoints/${id}`))).toMatchObject({
      tenantId: "default",
    });
    expect((await h.call("GET", `/v1/tenants/default/endpoints/${id}`)).status).toBe(200);
    expect((await h.call("GET", `/v1/tenants/acme/endpoints/${id}`)).status).toBe(404);
  });
});

describe("custom header values are write-only", () => {
  it("are masked on create, get, list and update, and stored as given", async () => {
    const created = await createIn("/v1/tenants/acme", {
      headers: { authorization: "Bearer s3cr3t", "x-plain": "visible?" },
    });
    const masked = { authorization: "<redacted>", "x-plain": "<redacted>" };
    expect(created.headers).toEqual(masked);
    const id = String(created.id);
    expect((await json(await h.call("GET", `/v1/tenants/acme/endpoints/${id}`))).headers).toEqual(
      masked,
    );
    const listed = (await json(await h.call("GET", "/v1/tenants/acme/endpoints?limit=200")))
      .data as { id: string; headers: unknown }[];
    expect(listed.find((endpoint) => endpoint.id === id)?.headers).toEqual(masked);
    const updated = await h.call("PATCH", `/v1/tenants/acme/endpoints/${id}`, {
      headers: { authorization: "Bearer n3w" },
    });
    const updatedBody = await json(updated);
    expect(updatedBody.headers).toEqual({ authorization: "<redacted>" });
    const stored = endpointRecordSchema.parse((await h.kv.get(id))?.json());
    expect(stored.headers).toEqual({ authorization: "Bearer n3w" });
    expect(JSON.stringify([created, updatedBody, listed])).not.toMatch(/s3cr3t|visible\?|n3w/);
  });

  it("refuses the mask as a value, so a read written back stores nothing wrong", async () => {
    const response = await h.call("POST", "/v1/tenants/acme/endpoints", {
      url: "https://example.com/hook",
      headers: { authorization: "<redacted>" },
    });
    expect(response.status).toBe(400);
    expect((await json(response)).errors).toEqual([
      { path: "headers.authorization", message: expect.stringContaining("<redacted>") },
    ]);
  });
});

describe("deleting an endpoint", () => {
  it("purges its key: no revision in the bucket's stream holds its secret or header value", async () => {
    const created = await createIn("/v1/tenants/acme", {
      headers: { authorization: "Bearer purge-me" },
    });
    const id = String(created.id);
    const rotated = await json(
      await h.call("POST", `/v1/tenants/acme/endpoints/${id}/rotate-secret`),
    );
    const secrets = [String(created.secret), String(rotated.secret)];
    const before = await historyOf(id);
    expect(before.some((value) => value.includes(secrets[0] ?? "?"))).toBe(true);

    expect((await h.call("DELETE", `/v1/tenants/acme/endpoints/${id}`)).status).toBe(204);
    const after = await historyOf(id);
    // Only the delete marker is left.
    expect(after).toEqual([""]);
    expect((await h.call("GET", `/v1/tenants/acme/endpoints/${id}`)).status).toBe(404);
    expect(h.cache.get(id)).toBeUndefined();
  });
});

/** Every value the bucket still holds for a key, oldest first (a purge marker is ""). */
async function historyOf(key: string): Promise<string[]> {
  const values: string[] = [];
  const history = await h.kv.history({ key });
  for await (const entry of history) values.push(entry.string());
  return values;
}
