import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { DlqApp } from "../app";
import type { PublicEventView } from "../http/attempt-schemas";
import {
  ACME_TOKEN,
  attemptRow,
  deliveredRow,
  EVENT_CREATED_AT,
  getJson,
  insertAttempts,
  insertEventBody,
  OPS_TOKEN,
  secondsAfterEvent,
  startAttemptReadHarness,
  truncateAttemptLog,
} from "../testing/attempt-fixtures";
import type { DlqHarness } from "../testing/dlq-harness";
import { endpointId, incomingLetter, putEndpoint } from "../testing/letters";

const OPS = OPS_TOKEN;
const ACME = ACME_TOKEN;

let h: DlqHarness;
let app: DlqApp;
beforeAll(async () => {
  ({ h, app } = await startAttemptReadHarness("dlq_get_event", async (started) => {
    for (const n of [1, 2, 3]) await putEndpoint(started.kv, endpointId(n));
    await started.cache.waitForRevision(3);
  }));
}, 60_000);
afterAll(async () => {
  await h?.close();
});
beforeEach(async () => {
  await truncateAttemptLog(h.database.db);
  await h.reset();
});

const at = secondsAfterEvent;
const view = (path: string, token = OPS) => getJson<PublicEventView>(app, path, token);

describe("GET /v1/events/{eventId}", () => {
  it("answers the event with its body and each task's state, a replay included", async () => {
    await insertAttempts(h.database.db, [
      attemptRow({ endpoint_id: endpointId(1), attempted_at: at(1) }),
      deliveredRow({ endpoint_id: endpointId(1), attempted_at: at(9), attempt: 2 }),
      attemptRow({ endpoint_id: endpointId(2), attempted_at: at(1), next_attempt_at: at(61) }),
      attemptRow({
        endpoint_id: endpointId(3),
        attempted_at: at(1),
        status: 400,
        decision: "deadletter",
        next_attempt_at: null,
        reason: "non_retryable",
      }),
    ]);
    await insertEventBody(h.database.db, {
      eventId: "evt_1",
      bytes: Buffer.from('{"type":"order.created","data":{"n":1}}'),
    });
    const letter = await h.store(
      incomingLetter({
        eventId: "evt_1",
        endpointId: endpointId(3),
        createdAt: EVENT_CREATED_AT,
        deadAt: at(2),
        reason: "non_retryable",
      }),
    );

    const before = await view("/v1/events/evt_1");
    expect(before.status).toBe(200);
    expect(before.body).toMatchObject({
      tenantId: "default",
      eventId: "evt_1",
      eventType: "order.created",
      createdAt: EVENT_CREATED_AT.toISOString(),
      body: { type: "order.created", data: { n: 1 } },
      bodyEncoding: "json",
      tasksTruncated: false,
    });
    expect(before.body.tasks).toEqual([
      {
        taskId: `evt_1:${endpointId(1)}`,
        endpointId: endpointId(1),
        state: "delivered",
        attempts: 2,
        lastAttemptAt: at(9).toISOString(),
        lastResult: "delivered",
        lastStatus: 200,
        nextAttemptAt: null,
        deadLetterId: null,
        deadLetterStatus: null,
        reason: null,
        replayedAt: null,
      },
      {
        taskId: `evt_1:${endpointId(2)}`,
        endpointId: endpointId(2),
        state: "retrying",
        attempts: 1,
        lastAttemptAt: at(1).toISOString(),
        lastResult: "http_error",
        lastStatus: 503,
        nextAttemptAt: at(61).toISOString(),
        deadLetterId: null,
        deadLetterStatus: null,
        reason: null,
        replayedAt: null,
      },
      {
        taskId: `evt_1:${endpointId(3)}`,
        endpointId: endpointId(3),
        state: "dead_lettered",
        attempts: 1,
        lastAttemptAt: at(1).toISOString(),
        lastResult: "http_error",
        lastStatus: 400,
        nextAttemptAt: null,
        deadLetterId: letter.id,
        deadLetterStatus: "open",
        reason: "non_retryable",
        replayedAt: null,
      },
    ]);

    // Replaying the letter through the API makes its task replayed.
    const replay = await app.request(`/v1/dead-letters/${letter.id}/replay`, {
      method: "POST",
      headers: { authorization: `Bearer ${OPS}`, "content-type": "application/json" },
      body: "{}",
    });
    expect(replay.status).toBe(202);
    const after = await view("/v1/events/evt_1");
    expect(after.body.tasks[2]).toMatchObject({
      state: "replayed",
      deadLetterId: letter.id,
      deadLetterStatus: "replayed",
    });
    expect(Date.parse(after.body.tasks[2]?.replayedAt ?? "")).not.toBeNaN();
  });

  it("answers an event known only by a dead letter (backlog_full), with the letter's body", async () => {
    const letter = await h.store(
      incomingLetter({
        eventId: "evt_full",
        endpointId: endpointId(1),
        reason: "backlog_full",
        body: Buffer.from("not json"),
      }),
    );
    const { status, body } = await view("/v1/events/evt_full");
    expect(status).toBe(200);
    expect(body).toMatchObject({ body: "not json", bodyEncoding: "utf8" });
    expect(body.tasks).toMatchObject([
      { state: "dead_lettered", attempts: 0, deadLetterId: letter.id, reason: "backlog_full" },
    ]);
  });

  it("shows a body that is not UTF-8 as base64, and none when none is stored", async () => {
    await insertAttempts(h.database.db, [attemptRow(), attemptRow({ event_id: "evt_2" })]);
    await insertEventBody(h.database.db, { eventId: "evt_1", bytes: Buffer.from([0xff, 0xfe]) });
    expect((await view("/v1/events/evt_1")).body).toMatchObject({
      body: "//4=",
      bodyEncoding: "base64",
    });
    expect((await view("/v1/events/evt_2")).body).toMatchObject({ body: null, bodyEncoding: null });
  });

  it("answers 404 event_not_found for an event nothing is known of", async () => {
    await insertAttempts(h.database.db, [attemptRow({ tenant_id: "acme" })]);
    for (const path of ["/v1/events/evt_none", "/v1/events/evt_1?tenantId=default"]) {
      const answer = await view(path);
      expect(answer.status).toBe(404);
      expect(answer.contentType).toBe("application/problem+json");
      expect(answer.body).toMatchObject({ code: "event_not_found" });
    }
  });

  it("asks for a tenant when the event id is known in several, with a 400 problem", async () => {
    await insertAttempts(h.database.db, [
      attemptRow({ tenant_id: "acme" }),
      attemptRow({ tenant_id: "globex", attempted_at: at(2) }),
    ]);
    const answer = await view("/v1/events/evt_1");
    expect(answer.status).toBe(400);
    expect(answer.contentType).toBe("application/problem+json");
    expect(answer.body).toMatchObject({
      code: "ambiguous_event",
      detail: "the event id is known in 2 tenants; name one with tenantId",
    });
    expect((await view("/v1/events/evt_1?tenantId=globex")).body.tenantId).toBe("globex");
  });

  it("answers a tenant-bound token with its own tenant's event only", async () => {
    await insertAttempts(h.database.db, [
      attemptRow({ tenant_id: "acme" }),
      attemptRow({ tenant_id: "globex", attempted_at: at(2) }),
      attemptRow({ event_id: "evt_globex", tenant_id: "globex" }),
    ]);
    // Not ambiguous for it: its tenant is the one asked about.
    const own = await view("/v1/events/evt_1", ACME);
    expect(own.status).toBe(200);
    expect(own.body.tenantId).toBe("acme");
    const other = await view("/v1/events/evt_globex", ACME);
    expect(other.status).toBe(404);
    expect(other.body).toMatchObject({ code: "event_not_found" });
    const named = await view("/v1/events/evt_1?tenantId=globex", ACME);
    expect(named.status).toBe(404);
    expect(named.body).toMatchObject({ code: "tenant_not_found" });
  });

  it.each([
    ["/v1/events/%20bad", "eventId"],
    ["/v1/events/evt_1?tenantId=..", "tenantId"],
  ])("answers %s with a 400 problem naming %s", async (path, field) => {
    const answer = await getJson<{ code: string; errors: { path: string }[] }>(app, path, OPS);
    expect(answer.status).toBe(400);
    expect(answer.contentType).toBe("application/problem+json");
    expect(answer.body.errors.map((error) => error.path)).toContain(field);
  });
});

describe("the OpenAPI document", () => {
  it("describes the attempt routes with their answers' schemas", async () => {
    const document = (await (await app.request("/openapi.json")).json()) as {
      paths: Record<
        string,
        {
          get: {
            responses: Record<
              string,
              { content?: { "application/json"?: { schema: { $ref: string } } } }
            >;
          };
        }
      >;
      components: { schemas: Record<string, unknown> };
    };
    const schemaOf = (path: string) =>
      document.paths[path]?.get.responses["200"]?.content?.["application/json"]?.schema.$ref;
    expect(schemaOf("/v1/attempts")).toBe("#/components/schemas/AttemptPage");
    expect(schemaOf("/v1/events/{eventId}/attempts")).toBe("#/components/schemas/EventAttempts");
    expect(schemaOf("/v1/events/{eventId}")).toBe("#/components/schemas/Event");
    for (const name of ["AttemptLogEntry", "AttemptPage", "EventAttempts", "Event", "EventTask"]) {
      expect(document.components.schemas).toHaveProperty(name);
    }
    expect(Object.keys(document.paths["/v1/events/{eventId}"]?.get?.responses ?? {})).toEqual(
      expect.arrayContaining(["200", "400", "401", "403", "404", "503"]),
    );
  });
});
