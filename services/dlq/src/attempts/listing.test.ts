import type { Kysely } from "kysely";
import { sql } from "kysely";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Database, NewAttemptRow } from "../db/schema";
import { createPageCursors, cursorKey } from "../http/page-cursors";
import {
  attemptRow,
  deliveredRow,
  insertAttempts,
  startAttemptLogDatabase,
  truncateAttemptLog,
} from "../testing/attempt-fixtures";
import { endpointId } from "../testing/letters";
import type { AttemptPosition } from "./cursor";
import { attemptCursorCodec } from "./cursor";
import type { AttemptFilter } from "./filter";
import { type AttemptPage, attemptPageQuery, listAttempts, listEventAttempts } from "./listing";

let database: Awaited<ReturnType<typeof startAttemptLogDatabase>>;
let db: Kysely<Database>;
const cursors = attemptCursorCodec(createPageCursors(cursorKey("a-long-enough-secret", [])));

beforeAll(async () => {
  database = await startAttemptLogDatabase();
  db = database.db;
  // Two day partitions beside the default one, to see the time bounds prune.
  await sql`
    create table attempts_d20250301 partition of attempts
      for values from ('2025-03-01T00:00:00Z') to ('2025-03-02T00:00:00Z')
  `.execute(db);
  await sql`
    create table attempts_d20250302 partition of attempts
      for values from ('2025-03-02T00:00:00Z') to ('2025-03-03T00:00:00Z')
  `.execute(db);
}, 60_000);
afterAll(async () => {
  await database?.close();
});
beforeEach(async () => {
  await truncateAttemptLog(db);
});

const day1 = Date.parse("2025-03-01T00:00:00.000Z");
const day2 = Date.parse("2025-03-02T00:00:00.000Z");
const ids = (page: AttemptPage) =>
  page.outcome === "page" ? page.attempts.map((a) => a.attempt_id) : [];

describe("listing attempts", () => {
  it("applies each filter, newest first", async () => {
    const rows: NewAttemptRow[] = [
      attemptRow({ attempt_id: "a", attempted_at: new Date(day1 + 1_000), tenant_id: "acme" }),
      deliveredRow({ attempt_id: "b", attempted_at: new Date(day1 + 2_000), tenant_id: "acme" }),
      attemptRow({
        attempt_id: "c",
        attempted_at: new Date(day2 + 1_000),
        event_id: "evt_2",
        endpoint_id: endpointId(2),
        result: "timeout",
        status: null,
      }),
      attemptRow({ attempt_id: "d", attempted_at: new Date(day2 + 2_000), status: 429 }),
    ];
    await insertAttempts(db, rows);
    const list = (filter: Parameters<typeof listAttempts>[2]["filter"]) =>
      listAttempts(db, cursors, { filter, limit: 10 }).then(ids);

    expect(await list({})).toEqual(["d", "c", "b", "a"]);
    expect(await list({ tenantId: "acme" })).toEqual(["b", "a"]);
    expect(await list({ eventId: "evt_2" })).toEqual(["c"]);
    expect(await list({ endpointId: endpointId(2) })).toEqual(["c"]);
    expect(await list({ result: "delivered" })).toEqual(["b"]);
    expect(await list({ status: 429 })).toEqual(["d"]);
    expect(await list({ since: new Date(day2) })).toEqual(["d", "c"]);
    expect(await list({ until: new Date(day2) })).toEqual(["b", "a"]);
    // since inclusive, until exclusive
    expect(await list({ since: new Date(day1 + 2_000), until: new Date(day2 + 2_000) })).toEqual([
      "c",
      "b",
    ]);
    expect(await list({ tenantId: "acme", result: "http_error" })).toEqual(["a"]);
  });

  it("reads only the day partitions the time bounds and the cursor allow", async () => {
    const partitionsRead = async (filter: AttemptFilter, after?: AttemptPosition) => {
      const { sql: text, parameters } = attemptPageQuery(db, filter, after, 51).compile();
      // The values inlined, as the planner sees them when pg sends them with the query.
      const inlined = text.replace(/\$(\d+)/g, (_match, n: string) => {
        const value = parameters[Number(n) - 1];
        if (value instanceof Date) return `'${value.toISOString()}'::timestamptz`;
        return typeof value === "number" ? String(value) : `'${String(value)}'`;
      });
      const plan = await sql<{ "QUERY PLAN": string }>`explain ${sql.raw(inlined)}`.execute(db);
      const planText = plan.rows.map((row) => row["QUERY PLAN"]).join("\n");
      return ["attempts_d20250301", "attempts_d20250302", "attempts_default"].filter((name) =>
        planText.includes(name),
      );
    };
    expect(await partitionsRead({})).toEqual([
      "attempts_d20250301",
      "attempts_d20250302",
      "attempts_default",
    ]);
    expect(
      await partitionsRead({ since: new Date(day2), until: new Date(day2 + 3_600_000) }),
    ).toEqual(["attempts_d20250302"]);
    expect(
      await partitionsRead(
        { tenantId: "acme", since: new Date(day1) },
        { attemptedAt: new Date(day1 + 5_000), attemptId: "x" },
      ),
    ).toEqual(["attempts_d20250301"]);
  });

  it("pages through every attempt exactly once, ties on the time broken by id", async () => {
    // Ten attempts share each millisecond, over both days.
    const rows = Array.from({ length: 1_200 }, (_, i) =>
      attemptRow({
        attempt_id: `task_${String(i).padStart(5, "0")}#1@${i}`,
        attempted_at: new Date((i < 600 ? day1 : day2) + Math.floor(i / 10)),
        tenant_id: i % 3 === 0 ? "acme" : "default",
      }),
    );
    await insertAttempts(db, rows);

    const walk = async (filter: { tenantId?: string }, limit: number) => {
      const seen: string[] = [];
      let cursor: string | undefined;
      for (let pages = 0; pages < 100; pages++) {
        const page = await listAttempts(db, cursors, { filter, cursor, limit });
        if (page.outcome !== "page") throw new Error(page.outcome);
        seen.push(...page.attempts.map((a) => a.attempt_id));
        if (page.nextCursor === null) return seen;
        cursor = page.nextCursor;
      }
      throw new Error("too many pages");
    };
    const newestFirst = (subset: NewAttemptRow[]) =>
      [...subset]
        .sort(
          (a, b) =>
            (b.attempted_at as Date).getTime() - (a.attempted_at as Date).getTime() ||
            (a.attempt_id < b.attempt_id ? 1 : -1),
        )
        .map((row) => row.attempt_id);

    expect(await walk({}, 97)).toEqual(newestFirst(rows));
    expect(await walk({ tenantId: "acme" }, 50)).toEqual(
      newestFirst(rows.filter((row) => row.tenant_id === "acme")),
    );
    // A page of exactly the remaining rows says there is no next one.
    const all = await listAttempts(db, cursors, { filter: {}, limit: 1_200 });
    expect(all).toMatchObject({ outcome: "page", nextCursor: null });
  });

  it("refuses a cursor it did not issue", async () => {
    expect(await listAttempts(db, cursors, { filter: {}, cursor: "abc.def", limit: 5 })).toEqual({
      outcome: "invalid_cursor",
    });
  });
});

describe("an event's attempts", () => {
  it("lists every task's attempts oldest first, within a tenant or across tenants, up to a cap", async () => {
    await insertAttempts(db, [
      attemptRow({ attempt_id: "e1-2", attempted_at: new Date(day1 + 3_000), attempt: 2 }),
      attemptRow({ attempt_id: "e1-1", attempted_at: new Date(day1 + 1_000) }),
      deliveredRow({
        attempt_id: "e1-other-endpoint",
        attempted_at: new Date(day1 + 2_000),
        endpoint_id: endpointId(2),
      }),
      attemptRow({ attempt_id: "e1-acme", attempted_at: new Date(day2), tenant_id: "acme" }),
      attemptRow({ attempt_id: "e2", event_id: "evt_2" }),
    ]);
    const listed = async (event: { eventId: string; tenantId?: string }, cap?: number) => {
      const found = await listEventAttempts(db, event, cap);
      return { ids: found.attempts.map((a) => a.attempt_id), truncated: found.truncated };
    };
    expect(await listed({ eventId: "evt_1", tenantId: "default" })).toEqual({
      ids: ["e1-1", "e1-other-endpoint", "e1-2"],
      truncated: false,
    });
    expect(await listed({ eventId: "evt_1" })).toEqual({
      ids: ["e1-1", "e1-other-endpoint", "e1-2", "e1-acme"],
      truncated: false,
    });
    expect(await listed({ eventId: "evt_1" }, 2)).toEqual({
      ids: ["e1-1", "e1-other-endpoint"],
      truncated: true,
    });
    expect(await listed({ eventId: "evt_1" }, 4)).toEqual({
      ids: ["e1-1", "e1-other-endpoint", "e1-2", "e1-acme"],
      truncated: false,
    });
    expect(await listed({ eventId: "evt_none" })).toEqual({ ids: [], truncated: false });
  });
});
