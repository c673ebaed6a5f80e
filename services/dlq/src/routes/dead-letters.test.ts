import { decodeTask, Header } from "@hookline/contracts";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { DeadLetterStatus } from "../db/schema";
import type { DeadLetterDetail, PublicAuditEntry, PublicDeadLetter } from "../http/letter-schemas";
import { createPageCursors } from "../http/page-cursors";
import { letterCursorCodec } from "../letters/cursor";
import type { LetterStats } from "../letters/stats";
import {
  bodyOf,
  type DlqHarness,
  startDlqHarness,
  TASK_DEADLINE_MS,
  TEST_ACTOR,
} from "../testing/dlq-harness";
import { endpointId, incomingLetter, putEndpoint } from "../testing/letters";

type Page = { data: PublicDeadLetter[]; nextCursor: string | null };
type Problem = { status: number; code: string; requestId?: string; detail?: string };

let h: DlqHarness;
beforeAll(async () => {
  h = await startDlqHarness({ prefix: "dlq_api" });
  for (const n of [1, 2, 3]) await putEndpoint(h.kv, endpointId(n));
  await h.cache.waitForRevision(3);
});
afterAll(async () => {
  await h?.close();
});
afterEach(async () => {
  await h.reset();
});

const base = Date.parse("2025-03-01T00:00:00.000Z");
const at = (minutes: number) => new Date(base + minutes * 60_000);

async function seed(
  overrides: Parameters<typeof incomingLetter>[0] & { status?: DeadLetterStatus } = {},
): Promise<string> {
  const { status, ...letter } = overrides;
  const result = await h.store(incomingLetter(letter));
  if (status !== undefined && status !== "open") {
    await h.database.db
      .updateTable("dead_letters")
      .set({ status, resolved_at: status === "replayed" ? null : new Date() })
      .where("id", "=", result.id)
      .execute();
  }
  return result.id;
}

async function list(query: string): Promise<Page> {
  const response = await h.call("GET", `/v1/dead-letters${query}`);
  expect(response.status).toBe(200);
  return bodyOf<Page>(response);
}

async function expectProblem(response: Response, status: number, code: string) {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toContain("application/problem+json");
  const problem = await bodyOf<Problem>(response);
  expect(problem).toMatchObject({ status, code });
  expect(problem.requestId).toBeTruthy();
  return problem;
}

describe("auth", () => {
  it("answers 401 without a token or with a wrong one", async () => {
    await expectProblem(
      await h.call("GET", "/v1/dead-letters", undefined, null),
      401,
      "unauthorized",
    );
    await expectProblem(
      await h.call("GET", "/v1/dead-letters/stats", undefined, "not-the-token"),
      401,
      "unauthorized",
    );
    await expectProblem(
      await h.call("POST", "/v1/dead-letters/replay", { filter: {} }, null),
      401,
      "unauthorized",
    );
  });
});

describe("GET /v1/dead-letters", () => {
  it("filters by status, reason, endpoint, event type and time, newest first", async () => {
    const a = await seed({ deadAt: at(1), endpointId: endpointId(1), reason: "exhausted" });
    const b = await seed({ deadAt: at(2), endpointId: endpointId(2), reason: "endpoint_gone" });
    const c = await seed({
      deadAt: at(3),
      endpointId: endpointId(2),
      eventType: "invoice.paid",
      status: "resolved",
    });
    const d = await seed({ deadAt: at(4), endpointId: endpointId(3), status: "replayed" });
    const e = await seed({ deadAt: at(5), eventType: "invoice.paid", status: "discarded" });

    const ids = async (query: string) => (await list(query)).data.map((letter) => letter.id);
    expect(await ids("")).toEqual([e, d, c, b, a]);
    expect(await ids("?status=open")).toEqual([b, a]);
    expect(await ids("?status=resolved")).toEqual([c]);
    expect(await ids("?status=replayed")).toEqual([d]);
    expect(await ids("?status=discarded")).toEqual([e]);
    expect(await ids("?reason=endpoint_gone")).toEqual([b]);
    expect(await ids(`?endpointId=${endpointId(2)}`)).toEqual([c, b]);
    expect(await ids("?eventType=invoice.paid")).toEqual([e, c]);
    // from is inclusive, to exclusive.
    expect(await ids(`?from=${at(2).toISOString()}&to=${at(4).toISOString()}`)).toEqual([c, b]);
    expect(await ids(`?from=${encodeURIComponent("2025-03-01T01:04:00+01:00")}`)).toEqual([e, d]);
    expect(await ids(`?status=open&endpointId=${endpointId(2)}&eventType=order.created`)).toEqual([
      b,
    ]);
    expect(await ids("?reason=poison")).toEqual([]);

    const [letter] = (await list(`?endpointId=${endpointId(3)}`)).data;
    expect(letter).toMatchObject({
      id: d,
      endpointId: endpointId(3),
      endpointUrl: null,
      eventType: "order.created",
      reason: "exhausted",
      status: "replayed",
      attemptCount: 1,
      lastStatus: 503,
      lastError: null,
      deadAt: at(4).toISOString(),
      createdAt: new Date(at(4).getTime() - 60_000).toISOString(),
      replayCount: 0,
      resolvedBy: null,
      note: null,
    });
    expect(letter).not.toHaveProperty("body");
  });

  it("pages with an opaque cursor and ends with nextCursor null", async () => {
    const ids: string[] = [];
    for (let minute = 0; minute < 7; minute++) ids.unshift(await seed({ deadAt: at(minute) }));
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await list(`?limit=3${cursor === null ? "" : `&cursor=${cursor}`}`);
      seen.push(...page.data.map((letter) => letter.id));
      cursor = page.nextCursor;
      pages++;
    } while (cursor !== null);
    expect(pages).toBe(3);
    expect(seen).toEqual(ids);
    expect((await list("")).nextCursor).toBeNull();
  });

  it("rejects a tampered or foreign cursor with 400", async () => {
    await seed({ deadAt: at(1) });
    const first = await seed({ deadAt: at(2) });
    const { nextCursor } = await list("?limit=1");
    if (nextCursor === null) throw new Error("expected a next page");
    const [payload, signature] = nextCursor.split(".");
    const forged = Buffer.from(
      JSON.stringify({ deadAt: at(9).toISOString(), id: first }),
      "utf8",
    ).toString("base64url");
    const foreign = letterCursorCodec(createPageCursors(Buffer.alloc(32, 7))).encode({
      deadAt: at(2),
      id: first,
    });
    for (const cursor of [
      `${forged}.${signature}`,
      `${payload}.${Buffer.alloc(16).toString("base64url")}`,
      String(payload),
      foreign,
      "not a cursor",
      "x".repeat(2_000),
    ]) {
      const problem = await expectProblem(
        await h.call("GET", `/v1/dead-letters?cursor=${encodeURIComponent(cursor)}`),
        400,
        "invalid_cursor",
      );
      expect(problem.detail).toContain("cursor");
    }
  });

  it("rejects bad filter values with 400, never 500", async () => {
    for (const query of [
      "status=lost",
      "reason=because",
      "endpointId=ep_nope",
      `endpointId=${encodeURIComponent("ep_x; drop table dead_letters")}`,
      "eventType=has%20space",
      "from=yesterday",
      "to=2025-13-01T00:00:00Z",
      `from=${at(5).toISOString()}&to=${at(1).toISOString()}`,
      "limit=0",
      "limit=201",
      "limit=ten",
    ]) {
      await expectProblem(await h.call("GET", `/v1/dead-letters?${query}`), 400, "invalid_request");
    }
    await expectProblem(
      await h.call("GET", "/v1/dead-letters/stats?status=x"),
      400,
      "invalid_request",
    );
  });
});

describe("GET /v1/dead-letters/{id}", () => {
  it("returns the body, headers and attempts", async () => {
    const id = await seed({
      deadAt: at(1),
      headers: { "Hookline-Reason": "exhausted", "Hookline-Attempt": "1" },
    });
    const response = await h.call("GET", `/v1/dead-letters/${id}`);
    expect(response.status).toBe(200);
    const detail = await bodyOf<DeadLetterDetail>(response);
    expect(detail).toMatchObject({
      id,
      bodyEncoding: "utf8",
      headers: { "Hookline-Reason": "exhausted", "Hookline-Attempt": "1" },
      attempts: [
        {
          n: 1,
          at: new Date(at(1).getTime() - 500).toISOString(),
          result: "http_error",
          status: 503,
          error: null,
          durationMs: 20,
        },
      ],
    });
    expect(JSON.parse(detail.body)).toMatchObject({ type: "order.created" });
  });

  it("answers 404 for an unknown id on every letter route", async () => {
    for (const [method, path, body] of [
      ["GET", "/v1/dead-letters/dl_01JD8Z6Q3V4W5X6Y7Z8A9B0C1D", undefined],
      ["GET", "/v1/dead-letters/nothing-like-an-id/audit", undefined],
      ["POST", "/v1/dead-letters/dl_01JD8Z6Q3V4W5X6Y7Z8A9B0C1D/replay", {}],
      ["POST", "/v1/dead-letters/dl_01JD8Z6Q3V4W5X6Y7Z8A9B0C1D/resolve", { note: "n" }],
      ["POST", "/v1/dead-letters/%27%3B--/discard", { note: "n" }],
    ] as const) {
      await expectProblem(await h.call(method, path, body), 404, "dead_letter_not_found");
    }
  });
});

describe("POST /v1/dead-letters/{id}/replay", () => {
  it("publishes a fresh task to dispatch.retry and marks the letter replayed", async () => {
    const letter = incomingLetter({
      deadAt: at(1),
      endpointId: endpointId(2),
      attemptCount: 8,
      attempts: [
        { n: 1, at: at(0).getTime(), result: "timeout", ms: 15_000 },
        { n: 2, at: at(1).getTime() - 1, result: "http_error", status: 502, ms: 30 },
      ],
    });
    const { id } = await h.store(letter);
    const before = Date.now();
    const response = await h.call("POST", `/v1/dead-letters/${id}/replay`, { note: "fixed" });
    const after = Date.now();
    expect(response.status).toBe(202);
    expect(await bodyOf<PublicDeadLetter>(response)).toMatchObject({
      id,
      status: "replayed",
      replayCount: 1,
      note: "fixed",
    });

    const msg = await h.jsm.streams.getMessage(h.names.streams.dispatchRetry, {
      last_by_subj: h.names.subjects.dispatchRetry(endpointId(2)),
    });
    if (msg === null) throw new Error("no replayed task");
    expect(Buffer.from(msg.data)).toEqual(letter.body);
    expect(msg.header.get(Header.msgId)).toBe(`${letter.taskId}#replay1`);
    const task = decodeTask(msg.header);
    if (!task.ok) throw new Error(task.error);
    expect(task.value).toMatchObject({
      taskId: letter.taskId,
      eventId: letter.eventId,
      eventType: letter.eventType,
      endpointId: endpointId(2),
      attempt: 0,
      deferrals: 0,
      createdAt: letter.createdAt.getTime(),
      replayOf: id,
      history: letter.attempts,
    });
    expect(task.value.deadline).toBeGreaterThanOrEqual(before + TASK_DEADLINE_MS);
    expect(task.value.deadline).toBeLessThanOrEqual(after + TASK_DEADLINE_MS);

    const audit = await bodyOf<{ data: PublicAuditEntry[] }>(
      await h.call("GET", `/v1/dead-letters/${id}/audit`),
    );
    expect(audit.data.at(-1)).toMatchObject({
      action: "replayed",
      actor: TEST_ACTOR,
      note: "fixed",
      details: { replay: 1, subject: h.names.subjects.dispatchRetry(endpointId(2)) },
    });

    // Re-replaying waits until the replay dies again and reopens the letter.
    await expectProblem(
      await h.call("POST", `/v1/dead-letters/${id}/replay`),
      409,
      "invalid_status",
    );
    const metrics = await (await h.app.request("/metrics")).text();
    expect(metrics).toMatch(/hookline_dlq_actions_total\{action="replayed",service="dlq"\} [1-9]/);
  });

  it("answers 409 for resolved and discarded letters and for invalid messages", async () => {
    const resolved = await seed({ status: "resolved" });
    const discarded = await seed({ status: "discarded" });
    const invalid = await seed({
      reason: "invalid_message",
      endpointId: null,
      eventId: null,
      eventType: null,
      taskId: "invalid:17",
    });
    await expectProblem(
      await h.call("POST", `/v1/dead-letters/${resolved}/replay`),
      409,
      "invalid_status",
    );
    await expectProblem(
      await h.call("POST", `/v1/dead-letters/${discarded}/replay`, {}),
      409,
      "invalid_status",
    );
    const problem = await expectProblem(
      await h.call("POST", `/v1/dead-letters/${invalid}/replay`),
      409,
      "not_replayable",
    );
    expect(problem.detail).toContain("invalid message");
    const stats = await bodyOf<LetterStats>(await h.call("GET", "/v1/dead-letters/stats"));
    expect(stats.byStatus).toEqual({ open: 1, replayed: 0, resolved: 1, discarded: 1 });
  });
});

describe("resolve and discard", () => {
  it("record the note and the actor, and refuse to settle a settled letter", async () => {
    const open = await seed();
    const replayed = await seed({ status: "replayed" });

    const resolved = await h.call("POST", `/v1/dead-letters/${open}/resolve`, {
      note: "sent by hand",
    });
    expect(resolved.status).toBe(200);
    const body = await bodyOf<PublicDeadLetter>(resolved);
    expect(body).toMatchObject({
      status: "resolved",
      resolvedBy: TEST_ACTOR,
      note: "sent by hand",
    });
    expect(Date.parse(body.resolvedAt ?? "")).toBeGreaterThan(Date.now() - 60_000);

    const discarded = await h.call("POST", `/v1/dead-letters/${replayed}/discard`, {
      note: "test traffic",
    });
    expect(discarded.status).toBe(200);
    expect(await bodyOf<PublicDeadLetter>(discarded)).toMatchObject({
      status: "discarded",
      resolvedBy: TEST_ACTOR,
      note: "test traffic",
    });

    await expectProblem(
      await h.call("POST", `/v1/dead-letters/${open}/resolve`, { note: "again" }),
      409,
      "invalid_status",
    );
    await expectProblem(
      await h.call("POST", `/v1/dead-letters/${open}/discard`, { note: "again" }),
      409,
      "invalid_status",
    );
    const audit = await bodyOf<{ data: PublicAuditEntry[] }>(
      await h.call("GET", `/v1/dead-letters/${open}/audit`),
    );
    expect(audit.data.map((entry) => [entry.action, entry.actor, entry.note])).toEqual([
      ["stored", "dlq-store", null],
      ["resolved", TEST_ACTOR, "sent by hand"],
    ]);
  });

  it("require a note", async () => {
    const id = await seed();
    for (const body of [{}, { note: "" }, { note: "   " }, { note: 5 }, { note: "x", extra: 1 }]) {
      await expectProblem(
        await h.call("POST", `/v1/dead-letters/${id}/resolve`, body),
        400,
        "invalid_request",
      );
    }
    await expectProblem(
      await h.call("POST", `/v1/dead-letters/${id}/discard`),
      400,
      "invalid_request",
    );
  });
});

describe("bulk actions", () => {
  it("replays exactly the open letters of one endpoint out of three", async () => {
    const target = endpointId(2);
    const wanted: string[] = [];
    // More than one batch (100) per endpoint.
    for (let i = 0; i < 330; i++) {
      const endpoint = endpointId((i % 3) + 1);
      const id = await seed({ deadAt: at(i), endpointId: endpoint });
      if (endpoint === target) wanted.push(id);
    }
    // Not open, so not replayed even though they match the endpoint.
    await seed({ deadAt: at(200), endpointId: target, status: "resolved" });
    await seed({ deadAt: at(201), endpointId: target, status: "replayed" });

    const subjects = async () =>
      (await h.jsm.streams.info(h.names.streams.dispatchRetry, { subjects_filter: ">" })).state
        .subjects ?? {};
    const queuedBefore = await subjects();
    const response = await h.call("POST", "/v1/dead-letters/replay", {
      filter: { endpointId: target },
      note: "partner fixed their TLS",
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ matched: 110, done: 110 });

    const replayed = (await list("?status=replayed&limit=200")).data.filter(
      (letter) => letter.replayCount === 1,
    );
    expect(replayed.map((letter) => letter.id).sort()).toEqual([...wanted].sort());
    expect(replayed.every((letter) => letter.note === "partner fixed their TLS")).toBe(true);
    const stats = await bodyOf<LetterStats>(await h.call("GET", "/v1/dead-letters/stats"));
    expect(stats.byStatus).toEqual({ open: 220, replayed: 111, resolved: 1, discarded: 0 });
    const queuedAfter = await subjects();
    for (const n of [1, 2, 3]) {
      const subject = h.names.subjects.dispatchRetry(endpointId(n));
      const added = (queuedAfter[subject] ?? 0) - (queuedBefore[subject] ?? 0);
      expect(added).toBe(endpointId(n) === target ? 110 : 0);
    }

    const again = await h.call("POST", "/v1/dead-letters/replay", {
      filter: { endpointId: target },
    });
    expect(await again.json()).toEqual({ matched: 0, done: 0 });
    const limited = await h.call("POST", "/v1/dead-letters/replay", {
      filter: { endpointId: endpointId(1) },
      limit: 20,
    });
    expect(await limited.json()).toEqual({ matched: 20, done: 20 });
  });

  it("resolves by filter, and stats reflect it", async () => {
    for (let i = 0; i < 30; i++) {
      await seed({
        deadAt: at(i),
        endpointId: endpointId((i % 3) + 1),
        reason: i < 10 ? "endpoint_gone" : "exhausted",
        eventType: i % 2 === 0 ? "order.created" : "order.paid",
      });
    }
    const before = await bodyOf<LetterStats>(await h.call("GET", "/v1/dead-letters/stats"));
    expect(before).toMatchObject({
      byStatus: { open: 30, replayed: 0, resolved: 0, discarded: 0 },
      byReason: { endpoint_gone: 10, exhausted: 20, poison: 0 },
      byEndpoint: { [endpointId(1)]: 10, [endpointId(2)]: 10, [endpointId(3)]: 10 },
      byEventType: { "order.created": 15, "order.paid": 15 },
    });

    const response = await h.call("POST", "/v1/dead-letters/resolve", {
      filter: { reason: "endpoint_gone" },
      note: "endpoint retired",
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ matched: 10, done: 10 });

    const after = await bodyOf<LetterStats>(await h.call("GET", "/v1/dead-letters/stats"));
    expect(after.byStatus).toEqual({ open: 20, replayed: 0, resolved: 10, discarded: 0 });
    const openOnly = await bodyOf<LetterStats>(
      await h.call("GET", "/v1/dead-letters/stats?status=open"),
    );
    expect(openOnly.byReason).toMatchObject({ endpoint_gone: 0, exhausted: 20 });
    const resolved = await list("?status=resolved");
    expect(
      resolved.data.every((l) => l.resolvedBy === TEST_ACTOR && l.note === "endpoint retired"),
    ).toBe(true);
    const metrics = await (await h.app.request("/metrics")).text();
    expect(metrics).toMatch(/hookline_dead_letters\{status="resolved",service="dlq"\} 10\n/);
  });

  it("rejects bad bodies with 400", async () => {
    for (const body of [
      {},
      { filter: { status: "lost" } },
      { filter: {}, limit: 0 },
      { filter: {}, limit: 10_001 },
      { filter: { endpoint: "x" } },
      { filter: { from: "2025-03-02T00:00:00Z", to: "2025-03-01T00:00:00Z" } },
    ]) {
      await expectProblem(
        await h.call("POST", "/v1/dead-letters/resolve", body),
        400,
        "invalid_request",
      );
      await expectProblem(
        await h.call("POST", "/v1/dead-letters/replay", body),
        400,
        "invalid_request",
      );
    }
  });
});

describe("docs", () => {
  it("serves the OpenAPI document and its rendering", async () => {
    const doc = await bodyOf<{ paths: Record<string, unknown> }>(
      await h.app.request("/openapi.json"),
    );
    expect(Object.keys(doc.paths).sort()).toEqual([
      "/v1/attempts",
      "/v1/dead-letters",
      "/v1/dead-letters/replay",
      "/v1/dead-letters/resolve",
      "/v1/dead-letters/stats",
      "/v1/dead-letters/{id}",
      "/v1/dead-letters/{id}/audit",
      "/v1/dead-letters/{id}/discard",
      "/v1/dead-letters/{id}/replay",
      "/v1/dead-letters/{id}/resolve",
      "/v1/events/{eventId}",
      "/v1/events/{eventId}/attempts",
      "/v1/events/{eventId}/retry",
      "/v1/queues",
      "/v1/stats",
    ]);
    const docs = await h.app.request("/docs");
    expect(docs.status).toBe(200);
    expect(await docs.text()).toContain("swagger");
  });
});
