import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { DlqApp } from "../app";
import type { PublicAttempt } from "../http/attempt-schemas";
import { createPageCursors, cursorKey } from "../http/page-cursors";
import { letterCursorCodec } from "../letters/cursor";
import {
  ACME_TOKEN,
  ATTEMPT_READER_TOKENS,
  attemptRow,
  deliveredRow,
  EVENT_CREATED_AT,
  getJson,
  insertAttempts,
  OPS_TOKEN,
  secondsAfterEvent,
  startAttemptReadHarness,
  truncateAttemptLog,
} from "../testing/attempt-fixtures";
import type { DlqHarness } from "../testing/dlq-harness";
import { endpointId } from "../testing/letters";

const OPS = OPS_TOKEN;
const ACME = ACME_TOKEN;

let h: DlqHarness;
let app: DlqApp;
beforeAll(async () => {
  ({ h, app } = await startAttemptReadHarness("dlq_list_attempts"));
}, 60_000);
afterAll(async () => {
  await h?.close();
});
beforeEach(async () => {
  await truncateAttemptLog(h.database.db);
});

const at = secondsAfterEvent;
type Page = { data: PublicAttempt[]; nextCursor: string | null };
const list = (query: string, token = OPS) => getJson<Page>(app, `/v1/attempts${query}`, token);
const ids = async (query: string, token = OPS) =>
  (await list(query, token)).body.data.map((a) => a.id);

describe("GET /v1/attempts", () => {
  it("answers each attempt with every field", async () => {
    await insertAttempts(h.database.db, [
      attemptRow({
        attempt_id: "evt_1:ep#2@7",
        attempted_at: at(5),
        tenant_id: "acme",
        attempt: 2,
        error: null,
        replay_of: "dl_01JD8Z6Q3V4W5X6Y7Z8A9B0C1D",
        next_attempt_at: at(65),
      }),
    ]);
    const { status, body } = await list("");
    expect(status).toBe(200);
    const logged = body.data[0]?.loggedAt ?? "";
    expect(Date.parse(logged)).not.toBeNaN();
    expect(body).toEqual({
      data: [
        {
          id: "evt_1:ep#2@7",
          tenantId: "acme",
          eventId: "evt_1",
          eventType: "order.created",
          endpointId: endpointId(1),
          taskId: `evt_1:${endpointId(1)}`,
          attempt: 2,
          result: "http_error",
          status: 503,
          error: null,
          responseBody: "maintenance",
          durationMs: 25,
          attemptedAt: at(5).toISOString(),
          eventCreatedAt: EVENT_CREATED_AT.toISOString(),
          loggedAt: logged,
          replay: true,
          replayOf: "dl_01JD8Z6Q3V4W5X6Y7Z8A9B0C1D",
          decision: "retry",
          nextAttemptAt: at(65).toISOString(),
          reason: null,
        },
      ],
      nextCursor: null,
    });
  });

  it("filters by tenant, event, endpoint, result, status and time, newest first", async () => {
    await insertAttempts(h.database.db, [
      attemptRow({ attempt_id: "a", attempted_at: at(1), tenant_id: "acme" }),
      deliveredRow({ attempt_id: "b", attempted_at: at(2), tenant_id: "acme" }),
      attemptRow({
        attempt_id: "c",
        attempted_at: at(3),
        event_id: "evt_2",
        endpoint_id: endpointId(2),
        result: "timeout",
        status: null,
      }),
      attemptRow({ attempt_id: "d", attempted_at: at(4), status: 429 }),
    ]);
    expect(await ids("")).toEqual(["d", "c", "b", "a"]);
    expect(await ids("?tenantId=acme")).toEqual(["b", "a"]);
    expect(await ids("?eventId=evt_2")).toEqual(["c"]);
    expect(await ids(`?endpointId=${endpointId(2)}`)).toEqual(["c"]);
    expect(await ids("?result=delivered")).toEqual(["b"]);
    expect(await ids("?status=429")).toEqual(["d"]);
    expect(await ids(`?since=${at(2).toISOString()}&until=${at(4).toISOString()}`)).toEqual([
      "c",
      "b",
    ]);
    // an offset is an instant like any other
    expect(await ids("?since=2025-03-01T13:00:02%2B01:00")).toEqual(["d", "c", "b"]);
    expect(await ids("?tenantId=acme&result=http_error")).toEqual(["a"]);
  });

  it("pages with nextCursor, keeping the filters", async () => {
    await insertAttempts(
      h.database.db,
      Array.from({ length: 25 }, (_, i) =>
        attemptRow({
          attempt_id: `t${String(i).padStart(2, "0")}`,
          // three attempts per second: ties broken by id
          attempted_at: at(Math.floor(i / 3)),
          status: i % 2 === 0 ? 500 : 503,
        }),
      ),
    );
    const seen: string[] = [];
    let query = "?status=500&limit=4";
    for (let pages = 0; pages < 10; pages++) {
      const { body } = await list(query);
      seen.push(...body.data.map((a) => a.id));
      if (body.nextCursor === null) break;
      query = `?status=500&limit=4&cursor=${encodeURIComponent(body.nextCursor)}`;
    }
    const expected = Array.from({ length: 25 }, (_, i) => i)
      .filter((i) => i % 2 === 0)
      .map((i) => ({ id: `t${String(i).padStart(2, "0")}`, second: Math.floor(i / 3) }))
      .sort((a, b) => b.second - a.second || (a.id < b.id ? 1 : -1))
      .map((a) => a.id);
    expect(seen).toEqual(expected);
    expect(seen).toHaveLength(13);
    // default and largest page sizes
    expect((await list("")).body.data).toHaveLength(25);
    expect((await list("?limit=500")).body.nextCursor).toBeNull();
  });

  it("answers a tampered cursor, or a dead letter list's, with a 400 problem", async () => {
    await insertAttempts(h.database.db, [
      attemptRow({ attempt_id: "a", attempted_at: at(1) }),
      attemptRow({ attempt_id: "b", attempted_at: at(2) }),
    ]);
    const cursor = (await list("?limit=1")).body.nextCursor ?? "";
    expect(cursor).not.toBe("");
    const letterCursor = letterCursorCodec(
      createPageCursors(cursorKey(undefined, ATTEMPT_READER_TOKENS)),
    ).encode({
      deadAt: at(1),
      id: "dl_01JD8Z6Q3V4W5X6Y7Z8A9B0C1D",
    });
    for (const bad of [`${cursor.slice(0, -2)}xx`, `x${cursor}`, letterCursor, "nonsense"]) {
      const answer = await list(`?cursor=${encodeURIComponent(bad)}`);
      expect(answer.status, bad).toBe(400);
      expect(answer.contentType).toBe("application/problem+json");
      expect(answer.body).toMatchObject({ code: "invalid_cursor" });
    }
  });

  it.each([
    ["since=yesterday", "since"],
    ["until=2025-03-01", "until"],
    [`since=${at(5).toISOString()}&until=${at(1).toISOString()}`, "since"],
    ["limit=0", "limit"],
    ["limit=501", "limit"],
    ["limit=ten", "limit"],
    ["status=abc", "status"],
    ["status=99", "status"],
    ["status=600", "status"],
    ["status=200.5", "status"],
    ["result=exploded", "result"],
    ["endpointId=not-an-endpoint", "endpointId"],
    ["eventId=%20spaces", "eventId"],
    ["tenantId=..", "tenantId"],
  ])("answers ?%s with a 400 problem naming %s", async (query, field) => {
    const answer = await getJson<{ code: string; errors: { path: string }[] }>(
      app,
      `/v1/attempts?${query}`,
      OPS,
    );
    expect(answer.status).toBe(400);
    expect(answer.contentType).toBe("application/problem+json");
    expect(answer.body.code).toBe("invalid_request");
    expect(answer.body.errors.map((error) => error.path)).toContain(field);
  });
});

describe("GET /v1/attempts with a tenant-bound token", () => {
  beforeEach(async () => {
    await insertAttempts(h.database.db, [
      attemptRow({ attempt_id: "acme-1", attempted_at: at(1), tenant_id: "acme" }),
      attemptRow({ attempt_id: "other-1", attempted_at: at(2), tenant_id: "other" }),
      attemptRow({ attempt_id: "default-1", attempted_at: at(3) }),
    ]);
  });

  it("sees only its tenant's attempts, with or without naming it", async () => {
    expect(await ids("", ACME)).toEqual(["acme-1"]);
    expect(await ids("?tenantId=acme", ACME)).toEqual(["acme-1"]);
    expect(await ids("?eventId=evt_1", ACME)).toEqual(["acme-1"]);
    expect(await ids("", OPS)).toEqual(["default-1", "other-1", "acme-1"]);
  });

  it("is answered 404 tenant_not_found when naming another tenant", async () => {
    const answer = await list("?tenantId=other", ACME);
    expect(answer.status).toBe(404);
    expect(answer.contentType).toBe("application/problem+json");
    expect(answer.body).toMatchObject({
      code: "tenant_not_found",
      detail: 'no tenant with id "other"',
    });
  });
});
