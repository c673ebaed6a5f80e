import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_PAYLOAD_DEPTH } from "../events/payload-depth";
import { countsBySubject, lastTaskOn } from "../testing/dispatch-stream";
import { type IngestHarness, startIngestHarness, TEST_TOKEN } from "../testing/ingest-harness";

let h: IngestHarness;

beforeAll(async () => {
  h = await startIngestHarness({ prefix: "ingest_events" });
});
afterAll(async () => {
  await h?.close();
});

async function json(response: Response): Promise<Record<string, unknown>> {
  return (await response.json()) as Record<string, unknown>;
}

async function createEndpoint(body: Record<string, unknown>): Promise<string> {
  const response = await h.call("POST", "/v1/endpoints", { url: "https://example.com/h", ...body });
  expect(response.status).toBe(201);
  return String((await json(response)).id);
}

const subjectOf = (endpointId: string) => h.names.subjects.dispatchFresh(endpointId);
const counts = () => countsBySubject(h.jsm, h.names.streams.dispatch);

describe("POST /v1/events", () => {
  it("fans out to the 2 of 3 endpoints subscribed, storing header metadata and the envelope", async () => {
    const a = await createEndpoint({ eventTypes: ["order.created"] });
    const b = await createEndpoint({ eventTypes: ["order.created", "order.paid"] });
    const c = await createEndpoint({ eventTypes: ["invoice.paid"] });
    const before = Date.now();

    const response = await h.call("POST", "/v1/events", {
      eventType: "order.created",
      payload: { orderId: "o_1", total: 42, note: "ünïcödé" },
    });
    expect(response.status).toBe(202);
    const accepted = await json(response);
    expect(accepted).toEqual({ eventId: expect.any(String), tasks: 2, duplicate: false });
    const eventId = String(accepted.eventId);
    expect(eventId).toMatch(/^evt_[0-9A-HJKMNP-TV-Z]{26}$/);

    const stored = await counts();
    expect(stored[subjectOf(a)]).toBe(1);
    expect(stored[subjectOf(b)]).toBe(1);
    expect(stored[subjectOf(c)]).toBeUndefined();

    const bodies = new Set<string>();
    for (const endpointId of [a, b]) {
      const task = await lastTaskOn(h.jsm, h.names.streams.dispatch, subjectOf(endpointId));
      expect(task.meta.ok).toBe(true);
      if (!task.meta.ok) continue;
      expect(task.meta.value).toMatchObject({
        taskId: `${eventId}:${endpointId}`,
        eventId,
        eventType: "order.created",
        endpointId,
        attempt: 0,
        deferrals: 0,
      });
      const { createdAt, deadline } = task.meta.value;
      expect(createdAt).toBeGreaterThanOrEqual(before);
      expect(createdAt).toBeLessThanOrEqual(Date.now());
      expect(deadline - createdAt).toBe(3 * 86_400_000);
      const envelope = JSON.parse(task.body) as Record<string, unknown>;
      expect(envelope).toEqual({
        type: "order.created",
        timestamp: new Date(createdAt).toISOString(),
        data: { orderId: "o_1", total: 42, note: "ünïcödé" },
      });
      expect(Object.keys(envelope)).toEqual(["type", "timestamp", "data"]);
      bodies.add(task.body);
    }
    expect(bodies.size).toBe(1);
  });

  it("answers tasks 0 when nothing subscribes", async () => {
    const response = await h.call("POST", "/v1/events", { eventType: "nobody.cares", payload: 1 });
    expect(response.status).toBe(202);
    expect(await json(response)).toMatchObject({ tasks: 0, duplicate: false });
  });

  it("includes endpoints with no event types (every type) and disabled ones", async () => {
    const every = await createEndpoint({ eventTypes: [] });
    const off = await createEndpoint({ eventTypes: ["user.deleted"] });
    expect((await h.call("PATCH", `/v1/endpoints/${off}`, { disabled: true })).status).toBe(200);
    try {
      const response = await h.call("POST", "/v1/events", {
        eventType: "user.deleted",
        payload: null,
      });
      expect(await json(response)).toMatchObject({ tasks: 2 });
      const stored = await counts();
      expect(stored[subjectOf(every)]).toBe(1);
      expect(stored[subjectOf(off)]).toBe(1);
    } finally {
      // An every-type endpoint would add a task to every later event in this file.
      expect((await h.call("DELETE", `/v1/endpoints/${every}`)).status).toBe(204);
    }
  });

  it("dead-letters tasks past an endpoint's own backlogQuota as backlog_full", async () => {
    const limited = await createEndpoint({ eventTypes: ["quota.test"], backlogQuota: 3 });
    for (let n = 0; n < 5; n++) {
      const response = await h.call("POST", "/v1/events", { eventType: "quota.test", payload: n });
      expect(response.status).toBe(202);
      expect(await json(response)).toMatchObject({ tasks: 1 });
    }
    expect((await counts())[subjectOf(limited)]).toBe(3);
    const letters = await countsBySubject(h.jsm, h.names.streams.deadletter);
    expect(letters[h.names.subjects.deadletter(limited)]).toBe(2);
    const letter = await h.jsm.streams.getMessage(h.names.streams.deadletter, {
      last_by_subj: h.names.subjects.deadletter(limited),
    });
    expect(letter?.header.get("Hookline-Reason")).toBe("backlog_full");
  });

  it("refuses a backlogQuota above ENDPOINT_BACKLOG_QUOTA, naming the field", async () => {
    const response = await h.call("POST", "/v1/endpoints", {
      url: "https://example.com/h",
      backlogQuota: 100_000_001,
    });
    expect(response.status).toBe(400);
    expect(response.headers.get("content-type")).toContain("application/problem+json");
    expect(JSON.stringify(await json(response))).toContain("backlogQuota");
    const tooMany = await h.call("POST", "/v1/endpoints", {
      url: "https://example.com/h",
      backlogQuota: 100_001,
    });
    expect(tooMany.status).toBe(400);
    expect((await json(tooMany)).detail).toBe(
      "backlogQuota: at most ENDPOINT_BACKLOG_QUOTA (100000)",
    );
  });

  it("narrows fan-out to endpointIds", async () => {
    const x = await createEndpoint({ eventTypes: ["narrow.me"] });
    const y = await createEndpoint({ eventTypes: ["narrow.me"] });
    const response = await h.call("POST", "/v1/events", {
      eventType: "narrow.me",
      payload: {},
      endpointIds: [y, "ep_01JD0000000000000000000000"],
    });
    expect(await json(response)).toMatchObject({ tasks: 1 });
    const stored = await counts();
    expect(stored[subjectOf(x)]).toBeUndefined();
    expect(stored[subjectOf(y)]).toBe(1);
  });

  it("uses Idempotency-Key as the event id: a repeat is a duplicate and stores nothing new", async () => {
    const p = await createEndpoint({ eventTypes: ["payment.settled"] });
    const q = await createEndpoint({ eventTypes: ["payment.settled"] });
    const send = () =>
      h.call(
        "POST",
        "/v1/events",
        { eventType: "payment.settled", payload: { id: 7 } },
        { "idempotency-key": "pay-7-settled" },
      );
    const first = await json(await send());
    expect(first).toEqual({ eventId: "pay-7-settled", tasks: 2, duplicate: false });
    const second = await json(await send());
    expect(second).toEqual({ eventId: "pay-7-settled", tasks: 2, duplicate: true });
    const stored = await counts();
    expect(stored[subjectOf(p)]).toBe(1);
    expect(stored[subjectOf(q)]).toBe(1);
  });

  it("prefers the body id over Idempotency-Key", async () => {
    const response = await h.call(
      "POST",
      "/v1/events",
      { eventType: "x.y", payload: 1, id: "body-id-1" },
      { "idempotency-key": "header-id-1" },
    );
    expect((await json(response)).eventId).toBe("body-id-1");
  });

  it("answers 401 problem+json without a token or with a wrong one", async () => {
    const body = JSON.stringify({ eventType: "a.b", payload: 1 });
    const none = await h.app.request("/v1/events", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    expect(none.status).toBe(401);
    expect(none.headers.get("content-type")).toContain("application/problem+json");
    const wrong = await h.app.request("/v1/events", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${TEST_TOKEN}x` },
      body,
    });
    expect(wrong.status).toBe(401);
    expect((await json(wrong)).code).toBe("unauthorized");
  });

  it("answers 413 problem+json naming the limit for a body over INGEST_MAX_BODY_BYTES", async () => {
    const response = await h.call("POST", "/v1/events", {
      eventType: "big.one",
      payload: "x".repeat(300_000),
    });
    expect(response.status).toBe(413);
    expect(response.headers.get("content-type")).toContain("application/problem+json");
    const problem = await json(response);
    expect(problem.code).toBe("payload_too_large");
    expect(problem.detail).toContain("262144 bytes");
    expect(problem.detail).toContain("INGEST_MAX_BODY_BYTES");
  });

  it("answers 400 problem+json naming an invalid field", async () => {
    const response = await h.call("POST", "/v1/events", { eventType: "has spaces", payload: 1 });
    expect(response.status).toBe(400);
    expect(response.headers.get("content-type")).toContain("application/problem+json");
    const problem = await json(response);
    expect(problem.code).toBe("invalid_request");
    expect(problem.errors).toEqual([{ path: "eventType", message: expect.any(String) }]);
    expect(problem.detail).toMatch(/^eventType: /);
  });

  it("answers 400 when the payload is missing or the Idempotency-Key is not an event id", async () => {
    const missing = await h.call("POST", "/v1/events", { eventType: "a.b" });
    expect(missing.status).toBe(400);
    expect(JSON.stringify(await json(missing))).toContain("payload");
    const badKey = await h.call(
      "POST",
      "/v1/events",
      { eventType: "a.b", payload: 1 },
      { "idempotency-key": "no spaces allowed" },
    );
    expect(badKey.status).toBe(400);
    expect(JSON.stringify(await json(badKey))).toContain("idempotency-key");
  });

  it("answers 400 problem+json for malformed JSON", async () => {
    const response = await h.app.request("/v1/events", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${TEST_TOKEN}` },
      body: '{"eventType": "a.b", "payload": ',
    });
    expect(response.status).toBe(400);
    expect(response.headers.get("content-type")).toContain("application/problem+json");
    expect((await json(response)).title).toMatch(/malformed json/i);
  });
});

describe("payload depth", () => {
  /** A payload of `levels` nested arrays, as request JSON. */
  const nested = (levels: number) => `${"[".repeat(levels)}${"]".repeat(levels)}`;
  const post = (path: string, body: string) =>
    h.app.request(path, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${TEST_TOKEN}` },
      body,
    });

  it(`takes ${MAX_PAYLOAD_DEPTH} levels and answers 400 problem+json past them, never 500`, async () => {
    const ok = await post("/v1/events", `{"eventType":"deep.one","payload":${nested(64)}}`);
    expect(ok.status).toBe(202);
    // About 4,100 levels overflowed JSON.stringify's stack in the envelope (a 500).
    for (const levels of [MAX_PAYLOAD_DEPTH + 1, 4_100, 100_000]) {
      const response = await post(
        "/v1/events",
        `{"eventType":"deep.one","payload":${nested(levels)}}`,
      );
      expect(response.status).toBe(400);
      expect(response.headers.get("content-type")).toBe("application/problem+json");
      expect(await json(response)).toMatchObject({
        code: "invalid_request",
        errors: [
          { path: "payload", message: "nested deeper than 64 levels of arrays and objects" },
        ],
      });
    }
  });

  it("names the index of the too-deep event in a batch", async () => {
    const response = await post(
      "/v1/events/batch",
      `{"events":[{"eventType":"deep.one","payload":1},` +
        `{"eventType":"deep.one","payload":{"a":${nested(4_100)}}}]}`,
    );
    expect(response.status).toBe(400);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
    expect((await json(response)).errors).toEqual([
      { path: "events.1.payload", message: expect.stringContaining("64 levels") },
    ]);
  });
});

describe("POST /v1/events/batch", () => {
  it("accepts a batch of 3 and answers results in order", async () => {
    const e = await createEndpoint({ eventTypes: ["batch.one", "batch.two"] });
    const response = await h.call("POST", "/v1/events/batch", {
      events: [
        { eventType: "batch.one", payload: { n: 1 }, id: "batch-evt-1" },
        { eventType: "batch.two", payload: { n: 2 } },
        { eventType: "batch.none", payload: { n: 3 } },
      ],
    });
    expect(response.status).toBe(202);
    const { results } = (await response.json()) as { results: Record<string, unknown>[] };
    expect(results).toEqual([
      { eventId: "batch-evt-1", tasks: 1, duplicate: false },
      { eventId: expect.stringMatching(/^evt_/), tasks: 1, duplicate: false },
      { eventId: expect.stringMatching(/^evt_/), tasks: 0, duplicate: false },
    ]);
    expect((await counts())[subjectOf(e)]).toBe(2);

    const again = await h.call("POST", "/v1/events/batch", {
      events: [{ eventType: "batch.one", payload: { n: 1 }, id: "batch-evt-1" }],
    });
    expect(((await again.json()) as { results: unknown[] }).results).toEqual([
      { eventId: "batch-evt-1", tasks: 1, duplicate: true },
    ]);
    expect((await counts())[subjectOf(e)]).toBe(2);
  });

  it("takes batches larger than the single-event limit, up to INGEST_MAX_BATCH_BYTES", async () => {
    const events = Array.from({ length: 3 }, (_, n) => ({
      eventType: "batch.large",
      payload: "y".repeat(100_000 + n),
    }));
    const response = await h.call("POST", "/v1/events/batch", { events });
    expect(response.status).toBe(202);

    const tooBig = await h.call("POST", "/v1/events/batch", {
      events: [{ eventType: "batch.large", payload: "z".repeat(5 * 1024 * 1024) }],
    });
    expect(tooBig.status).toBe(413);
    expect((await json(tooBig)).detail).toContain("INGEST_MAX_BATCH_BYTES");
  });

  it("rejects an event in a batch that is over the single-event limit", async () => {
    const response = await h.call("POST", "/v1/events/batch", {
      events: [
        { eventType: "batch.large", payload: "ok" },
        { eventType: "batch.large", payload: "w".repeat(300_000) },
      ],
    });
    expect(response.status).toBe(413);
    expect((await json(response)).detail).toMatch(/^events\.1: /);
  });

  it("answers 400 for more than 500 events, none, or an invalid event naming its index", async () => {
    const event = { eventType: "a.b", payload: 1 };
    const tooMany = await h.call("POST", "/v1/events/batch", {
      events: Array.from({ length: 501 }, () => event),
    });
    expect(tooMany.status).toBe(400);
    expect(JSON.stringify(await json(tooMany))).toContain("events");
    expect((await h.call("POST", "/v1/events/batch", { events: [] })).status).toBe(400);
    const invalid = await h.call("POST", "/v1/events/batch", {
      events: [event, { eventType: "", payload: 1 }],
    });
    expect(invalid.status).toBe(400);
    expect((await json(invalid)).errors).toEqual([
      { path: "events.1.eventType", message: expect.any(String) },
    ]);
  });
});

describe("OpenAPI", () => {
  it("documents the 503 of each event route with the ids to resend, and the depth limit", async () => {
    const doc = (await (await h.app.request("/openapi.json")).json()) as {
      paths: Record<string, { post: { responses: Record<string, { $ref?: string }> } }>;
      components: {
        responses: Record<string, { content: Record<string, { schema: unknown }> }>;
        schemas: { Event: { properties: { payload: { description: string } } } };
      };
    };
    expect(doc.paths["/v1/events"]?.post.responses["503"]?.$ref).toBe(
      "#/components/responses/EventUnavailable",
    );
    expect(doc.paths["/v1/events/batch"]?.post.responses["503"]?.$ref).toBe(
      "#/components/responses/EventBatchUnavailable",
    );
    const schemaOf = (name: string) =>
      JSON.stringify(doc.components.responses[name]?.content["application/problem+json"]?.schema);
    expect(schemaOf("EventUnavailable")).toContain('"required":["eventId"]');
    expect(schemaOf("EventBatchUnavailable")).toContain('"required":["eventIds"]');
    expect(doc.components.schemas.Event.properties.payload.description).toContain("64 levels");
  });
});

describe("metrics", () => {
  it("counts events by outcome and stored tasks", async () => {
    const text = await (await h.app.request("/metrics")).text();
    const value = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? Number.NaN);
    expect(
      value(/hookline_ingest_events_total\{outcome="accepted",service="ingest"\} (\d+)/),
    ).toBeGreaterThan(0);
    expect(
      value(/hookline_ingest_events_total\{outcome="duplicate",service="ingest"\} (\d+)/),
    ).toBeGreaterThan(0);
    expect(
      value(/hookline_ingest_events_total\{outcome="rejected",service="ingest"\} (\d+)/),
    ).toBeGreaterThan(0);
    expect(
      value(/hookline_ingest_events_total\{outcome="unavailable",service="ingest"\} (\d+)/),
    ).toBe(0);
    expect(value(/hookline_ingest_tasks_total\{service="ingest"\} (\d+)/)).toBeGreaterThan(0);
  });
});
