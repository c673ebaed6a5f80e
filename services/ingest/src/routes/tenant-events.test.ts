import { tenantKvKey } from "@hookline/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { countsBySubject, lastTaskOn } from "../testing/dispatch-stream";
import { type IngestHarness, startIngestHarness } from "../testing/ingest-harness";

let h: IngestHarness;

beforeAll(async () => {
  h = await startIngestHarness({ prefix: "ingest_tenant_events" });
});
afterAll(async () => {
  await h?.close();
});

async function json(response: Response): Promise<Record<string, unknown>> {
  return (await response.json()) as Record<string, unknown>;
}

async function createTenant(id: string) {
  expect((await h.call("POST", "/v1/tenants", { id, name: id })).status).toBe(201);
}

async function createEndpoint(tenantId: string, eventTypes: string[]): Promise<string> {
  const response = await h.call("POST", `/v1/tenants/${tenantId}/endpoints`, {
    url: "https://example.com/hook",
    eventTypes,
  });
  expect(response.status).toBe(201);
  return String((await json(response)).id);
}

const tasksOn = async (endpointId: string) =>
  (await countsBySubject(h.jsm, h.names.streams.dispatch))[
    h.names.subjects.dispatchFresh(endpointId)
  ] ?? 0;

/** The same request with and without the fast path: both must keep tenants apart. */
const routeModes = [
  ["fast path", {}],
  ["validated route", { "content-type": "application/json; charset=utf-8; x=1" }],
] as const;

describe("events under /v1/tenants/{tenantId}", () => {
  it("fan out only to the tenant's own endpoints subscribed to the type", async () => {
    await createTenant("iso-a");
    await createTenant("iso-b");
    const a = await createEndpoint("iso-a", ["invoice.paid"]);
    const b = await createEndpoint("iso-b", ["invoice.paid"]);
    const byDefault = await createEndpoint("default", ["invoice.paid"]);
    for (const [mode, headers] of routeModes) {
      const before = [await tasksOn(a), await tasksOn(b), await tasksOn(byDefault)];
      const response = await h.call(
        "POST",
        "/v1/tenants/iso-a/events",
        { eventType: "invoice.paid", payload: { n: 1 } },
        headers,
      );
      expect(response.status, mode).toBe(202);
      expect(await json(response)).toMatchObject({ tasks: 1, duplicate: false });
      expect([await tasksOn(a), await tasksOn(b), await tasksOn(byDefault)], mode).toEqual([
        (before[0] ?? 0) + 1,
        before[1],
        before[2],
      ]);
      const task = await lastTaskOn(
        h.jsm,
        h.names.streams.dispatch,
        h.names.subjects.dispatchFresh(a),
      );
      expect(task.meta).toMatchObject({ ok: true, value: { tenantId: "iso-a", endpointId: a } });
    }

    const batch = await h.call("POST", "/v1/tenants/iso-b/events/batch", {
      events: [
        { eventType: "invoice.paid", payload: 1 },
        { eventType: "invoice.paid", payload: 2 },
      ],
    });
    expect(batch.status).toBe(202);
    expect(await tasksOn(b)).toBe(2);
    expect(await tasksOn(a)).toBe(2);

    // The paths without a tenant reach only the default tenant's endpoints.
    const legacy = await h.call("POST", "/v1/events", { eventType: "invoice.paid", payload: 3 });
    expect(await json(legacy)).toMatchObject({ tasks: 1 });
    expect(await tasksOn(byDefault)).toBe(1);
    expect([await tasksOn(a), await tasksOn(b)]).toEqual([2, 2]);
  });

  it("let endpointIds name only the tenant's own endpoints", async () => {
    await createTenant("ids-a");
    await createTenant("ids-b");
    const a = await createEndpoint("ids-a", ["x.y"]);
    const b = await createEndpoint("ids-b", ["x.y"]);
    for (const [mode, headers] of routeModes) {
      const response = await h.call(
        "POST",
        "/v1/tenants/ids-a/events",
        { eventType: "x.y", payload: 1, endpointIds: [b] },
        headers,
      );
      expect(await json(response), mode).toMatchObject({ tasks: 0 });
    }
    expect(await tasksOn(b)).toBe(0);
    expect(await tasksOn(a)).toBe(0);
  });

  it("keep event ids and idempotency keys per tenant: the same id to two tenants is two events", async () => {
    await createTenant("dup-a");
    await createTenant("dup-b");
    await createEndpoint("dup-a", ["dup.t"]);
    await createEndpoint("dup-b", ["dup.t"]);
    for (const tenant of ["dup-a", "dup-b"]) {
      const byId = await h.call("POST", `/v1/tenants/${tenant}/events`, {
        id: "same-id",
        eventType: "dup.t",
        payload: 1,
      });
      expect(await json(byId), tenant).toEqual({ eventId: "same-id", tasks: 1, duplicate: false });
      const byKey = await h.call(
        "POST",
        `/v1/tenants/${tenant}/events`,
        { eventType: "dup.t", payload: 1 },
        { "idempotency-key": "same-key" },
      );
      expect(await json(byKey), tenant).toEqual({
        eventId: "same-key",
        tasks: 1,
        duplicate: false,
      });
    }
    // Within one tenant a repeat is still a duplicate.
    const again = await h.call("POST", "/v1/tenants/dup-b/events", {
      id: "same-id",
      eventType: "dup.t",
      payload: 1,
    });
    expect(await json(again)).toEqual({ eventId: "same-id", tasks: 1, duplicate: true });
  });

  it("answer 404 naming an unknown tenant, 409 for one being deleted, 400 for a malformed id", async () => {
    const at = new Date().toISOString();
    const revision = await h.tenantsKv.create(
      tenantKvKey("leaving"),
      JSON.stringify({ id: "leaving", name: "L", createdAt: at, updatedAt: at, deleting: true }),
    );
    expect(await h.tenants.waitForRevision(revision)).toBe(true);
    const event = { eventType: "a.b", payload: 1 };
    for (const [suffix, body] of [
      ["events", event],
      ["events/batch", { events: [event] }],
    ] as const) {
      for (const [mode, headers] of routeModes) {
        const unknown = await h.call("POST", `/v1/tenants/nobody/${suffix}`, body, headers);
        expect(unknown.status, `${mode} ${suffix}`).toBe(404);
        expect(await json(unknown)).toMatchObject({
          code: "tenant_not_found",
          detail: 'no tenant with id "nobody"',
        });
        const leaving = await h.call("POST", `/v1/tenants/leaving/${suffix}`, body, headers);
        expect(leaving.status, `${mode} ${suffix}`).toBe(409);
        expect(await json(leaving)).toMatchObject({ code: "tenant_deleting" });
        const malformed = await h.call("POST", `/v1/tenants/a%20b/${suffix}`, body, headers);
        expect(malformed.status).toBe(400);
        expect(JSON.stringify((await json(malformed)).errors)).toContain('"path":"tenantId"');
      }
    }
    // No endpoints for it either.
    const refused = await h.call("POST", "/v1/tenants/leaving/endpoints", {
      url: "https://example.com/x",
    });
    expect(refused.status).toBe(409);
  });
});

describe("DELETE /v1/tenants/{tenantId}", () => {
  it("deletes every endpoint of the tenant and then the tenant, counting them", async () => {
    await createTenant("doomed");
    await createTenant("bystander");
    const doomed = [
      await createEndpoint("doomed", ["d.e"]),
      await createEndpoint("doomed", []),
      await createEndpoint("doomed", ["other"]),
    ];
    const kept = await createEndpoint("bystander", ["d.e"]);
    // A task queued before the deletion: delivery will find its endpoint gone and dead-letter
    // it as endpoint_deleted (test/e2e/tenants.test.ts follows it there).
    const queued = await h.call("POST", "/v1/tenants/doomed/events", {
      eventType: "d.e",
      payload: 1,
    });
    expect(await json(queued)).toMatchObject({ tasks: 2 });

    const deleted = await h.call("DELETE", "/v1/tenants/doomed");
    expect(deleted.status, await deleted.clone().text()).toBe(200);
    expect(await json(deleted)).toEqual({ id: "doomed", endpointsDeleted: 3 });

    for (const id of doomed) {
      expect(h.cache.get(id)).toBeUndefined();
      expect((await h.kv.get(id))?.operation).toBe("DEL");
    }
    expect(h.cache.get(kept)?.record.tenantId).toBe("bystander");
    expect(await h.tenantsKv.get(tenantKvKey("doomed"))).toMatchObject({ operation: "DEL" });
    // The queued tasks stay in the stream for delivery to settle; nothing is dropped here.
    expect(await tasksOn(doomed[0] ?? "")).toBe(1);
    expect(await tasksOn(doomed[1] ?? "")).toBe(1);

    expect((await h.call("GET", "/v1/tenants/doomed")).status).toBe(404);
    expect((await h.call("DELETE", "/v1/tenants/doomed")).status).toBe(404);
    const gone = await h.call("POST", "/v1/tenants/doomed/events", {
      eventType: "d.e",
      payload: 1,
    });
    expect(gone.status).toBe(404);
    // The id can be used again, for a new tenant with no endpoints.
    await createTenant("doomed");
    expect((await json(await h.call("GET", "/v1/tenants/doomed/endpoints"))).data).toEqual([]);
  });

  it("finishes a deletion that stopped half way when called again", async () => {
    await createTenant("halfway");
    const first = await createEndpoint("halfway", ["h.w"]);
    const second = await createEndpoint("halfway", ["h.w"]);
    // As if a deletion marked the tenant and removed one endpoint, then failed.
    const entry = await h.tenantsKv.get(tenantKvKey("halfway"));
    const record = { ...(entry?.json() as Record<string, unknown>), deleting: true };
    const revision = await h.tenantsKv.update(
      tenantKvKey("halfway"),
      JSON.stringify(record),
      entry?.revision ?? 0,
    );
    expect(await h.tenants.waitForRevision(revision)).toBe(true);
    expect(await h.registry.remove(first, "test", "halfway")).toEqual({ outcome: "deleted" });

    const shown = await json(await h.call("GET", "/v1/tenants/halfway"));
    expect(shown).toMatchObject({ deleting: true });
    expect((await h.call("PATCH", "/v1/tenants/halfway", { name: "n" })).status).toBe(409);
    // Its endpoints can still be read while it goes.
    expect((await h.call("GET", `/v1/tenants/halfway/endpoints/${second}`)).status).toBe(200);

    const resumed = await h.call("DELETE", "/v1/tenants/halfway");
    expect(await json(resumed)).toEqual({ id: "halfway", endpointsDeleted: 1 });
    expect(h.cache.get(second)).toBeUndefined();
    expect((await h.call("GET", "/v1/tenants/halfway")).status).toBe(404);
  });
});
