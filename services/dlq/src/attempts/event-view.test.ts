import { taskIdFor } from "@hookline/contracts";
import type { Kysely } from "kysely";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Database } from "../db/schema";
import { recordAudit } from "../letters/audit";
import { storeLetter } from "../store/store-letter";
import {
  attemptRow,
  deliveredRow,
  EVENT_CREATED_AT,
  insertAttempts,
  insertEventBody,
  secondsAfterEvent,
  startAttemptLogDatabase,
  truncateAttemptLog,
} from "../testing/attempt-fixtures";
import { endpointId, incomingLetter } from "../testing/letters";
import { type EventView, MAX_EVENT_TASKS, viewEvent } from "./event-view";

let database: Awaited<ReturnType<typeof startAttemptLogDatabase>>;
let db: Kysely<Database>;

beforeAll(async () => {
  database = await startAttemptLogDatabase();
  db = database.db;
}, 60_000);
afterAll(async () => {
  await database?.close();
});
beforeEach(async () => {
  await truncateAttemptLog(db);
  await db.deleteFrom("dead_letters").execute();
});

const at = secondsAfterEvent;

/** Stores the dead letter of evt_1's task to endpoint n, as the dlq-store consumer would. */
async function storeDeadLetter(
  n: number,
  overrides: Parameters<typeof incomingLetter>[0] = {},
): Promise<string> {
  const stored = await storeLetter(
    db,
    incomingLetter({
      eventId: "evt_1",
      endpointId: endpointId(n),
      tenantId: "default",
      createdAt: EVENT_CREATED_AT,
      ...overrides,
    }),
    { endpointUrl: null, now: new Date() },
  );
  return stored.id;
}

async function found(request: { eventId: string; tenantId?: string }): Promise<EventView> {
  const lookup = await viewEvent(db, request);
  if (lookup.outcome !== "found") throw new Error(`expected found, got ${lookup.outcome}`);
  return lookup.event;
}

describe("the event view", () => {
  it("knows nothing of an event without attempts or letters", async () => {
    await insertAttempts(db, [attemptRow({ event_id: "evt_other" })]);
    expect(await viewEvent(db, { eventId: "evt_1" })).toEqual({ outcome: "not_found" });
    expect(await viewEvent(db, { eventId: "evt_other", tenantId: "acme" })).toEqual({
      outcome: "not_found",
    });
  });

  it("gives each task its state from its latest attempt and its dead letter", async () => {
    // endpoint 1: failed, retried, then delivered
    // endpoint 2: failed twice, retrying
    // endpoint 3: dead-lettered by the classifier, letter stored
    // endpoint 4: dead-lettered before any attempt (backlog_full)
    // endpoint 5: dead, then replayed; no attempt since
    // endpoint 6: dead, replayed, delivered afterwards
    await insertAttempts(db, [
      attemptRow({ endpoint_id: endpointId(1), attempted_at: at(1) }),
      deliveredRow({ endpoint_id: endpointId(1), attempted_at: at(10), attempt: 2 }),
      attemptRow({ endpoint_id: endpointId(2), attempted_at: at(1) }),
      attemptRow({
        endpoint_id: endpointId(2),
        attempted_at: at(11),
        attempt: 2,
        status: 500,
        next_attempt_at: at(71),
      }),
      attemptRow({
        endpoint_id: endpointId(3),
        attempted_at: at(1),
        status: 400,
        decision: "deadletter",
        next_attempt_at: null,
        reason: "non_retryable",
      }),
      attemptRow({
        endpoint_id: endpointId(5),
        attempted_at: at(1),
        decision: "deadletter",
        next_attempt_at: null,
        reason: "non_retryable",
      }),
      attemptRow({
        endpoint_id: endpointId(6),
        attempted_at: at(1),
        decision: "deadletter",
        next_attempt_at: null,
        reason: "non_retryable",
      }),
    ]);
    const letter3 = await storeDeadLetter(3, { deadAt: at(2), reason: "non_retryable" });
    const letter4 = await storeDeadLetter(4, { deadAt: at(0.5), reason: "backlog_full" });
    const letter5 = await storeDeadLetter(5, { deadAt: at(2), reason: "non_retryable" });
    const letter6 = await storeDeadLetter(6, { deadAt: at(2), reason: "non_retryable" });
    for (const id of [letter5, letter6]) {
      await db
        .updateTable("dead_letters")
        .set({ status: "replayed" })
        .where("id", "=", id)
        .execute();
      await recordAudit(db, [{ deadLetterId: id, action: "replayed", actor: "alice", at: at(30) }]);
    }
    await insertAttempts(db, [
      deliveredRow({
        endpoint_id: endpointId(6),
        attempted_at: at(31),
        replay_of: letter6,
        attempt: 1,
      }),
    ]);

    const event = await found({ eventId: "evt_1" });
    expect(event).toMatchObject({
      tenantId: "default",
      eventId: "evt_1",
      eventType: "order.created",
      createdAt: EVENT_CREATED_AT,
      tasksTruncated: false,
    });
    const task = (n: number) => ({
      taskId: taskIdFor("evt_1", endpointId(n)),
      endpointId: endpointId(n),
    });
    expect(event.tasks).toEqual([
      {
        ...task(1),
        state: "delivered",
        attempts: 2,
        lastAttemptAt: at(10),
        lastResult: "delivered",
        lastStatus: 200,
        nextAttemptAt: null,
        deadLetterId: null,
        deadLetterStatus: null,
        reason: null,
        replayedAt: null,
      },
      {
        ...task(2),
        state: "retrying",
        attempts: 2,
        lastAttemptAt: at(11),
        lastResult: "http_error",
        lastStatus: 500,
        nextAttemptAt: at(71),
        deadLetterId: null,
        deadLetterStatus: null,
        reason: null,
        replayedAt: null,
      },
      {
        ...task(3),
        state: "dead_lettered",
        attempts: 1,
        lastAttemptAt: at(1),
        lastResult: "http_error",
        lastStatus: 400,
        nextAttemptAt: null,
        deadLetterId: letter3,
        deadLetterStatus: "open",
        reason: "non_retryable",
        replayedAt: null,
      },
      {
        ...task(4),
        state: "dead_lettered",
        attempts: 0,
        lastAttemptAt: null,
        lastResult: null,
        lastStatus: null,
        nextAttemptAt: null,
        deadLetterId: letter4,
        deadLetterStatus: "open",
        reason: "backlog_full",
        replayedAt: null,
      },
      {
        ...task(5),
        state: "replayed",
        attempts: 1,
        lastAttemptAt: at(1),
        lastResult: "http_error",
        lastStatus: 503,
        nextAttemptAt: null,
        deadLetterId: letter5,
        deadLetterStatus: "replayed",
        reason: "non_retryable",
        replayedAt: at(30),
      },
      {
        ...task(6),
        state: "delivered",
        attempts: 2,
        lastAttemptAt: at(31),
        lastResult: "delivered",
        lastStatus: 200,
        nextAttemptAt: null,
        deadLetterId: letter6,
        deadLetterStatus: "replayed",
        reason: "non_retryable",
        replayedAt: at(30),
      },
    ]);
  });

  it("takes the body from the attempt log, else from a dead letter, else none", async () => {
    await insertAttempts(db, [attemptRow()]);
    expect((await found({ eventId: "evt_1" })).body).toBeNull();

    const letterBody = Buffer.from('{"from":"letter"}');
    await storeDeadLetter(2, { body: letterBody });
    expect((await found({ eventId: "evt_1" })).body).toEqual(letterBody);

    // As the log kept bodies before migration 0005.
    const logged = Buffer.from('{"from":"log"}');
    await insertEventBody(db, { eventId: "evt_1", bytes: logged });
    expect((await found({ eventId: "evt_1" })).body).toEqual(logged);

    // On the row that brought it, as the log keeps them now.
    const inline = Buffer.from('{"from":"attempt row"}');
    await insertAttempts(db, [
      attemptRow({ attempted_at: at(60), attempt: 1, endpoint_id: endpointId(3), body: inline }),
    ]);
    expect((await found({ eventId: "evt_1" })).body).toEqual(inline);
  });

  it("needs a tenant when the event id is known in several, and finds the one that knows it", async () => {
    await insertAttempts(db, [
      attemptRow({ tenant_id: "acme" }),
      attemptRow({ tenant_id: "acme", attempted_at: at(5), attempt: 2 }),
    ]);
    expect((await found({ eventId: "evt_1" })).tenantId).toBe("acme");
    expect(await viewEvent(db, { eventId: "evt_1", tenantId: "default" })).toEqual({
      outcome: "not_found",
    });

    // A dead letter alone makes a second tenant know it.
    await storeDeadLetter(1, { tenantId: "globex" });
    expect(await viewEvent(db, { eventId: "evt_1" })).toEqual({
      outcome: "ambiguous",
      tenantCount: 2,
    });
    expect((await found({ eventId: "evt_1", tenantId: "globex" })).tasks).toMatchObject([
      { state: "dead_lettered", attempts: 0 },
    ]);
    expect((await found({ eventId: "evt_1", tenantId: "acme" })).tasks).toMatchObject([
      { state: "retrying", attempts: 2 },
    ]);
  });

  it(`lists at most ${MAX_EVENT_TASKS} tasks, saying so`, async () => {
    await insertAttempts(
      db,
      Array.from({ length: MAX_EVENT_TASKS + 1 }, (_, i) =>
        deliveredRow({
          endpoint_id: endpointId(i),
          task_id: `evt_1:task_${String(i).padStart(5, "0")}`,
        }),
      ),
    );
    const event = await found({ eventId: "evt_1" });
    expect(event.tasks).toHaveLength(MAX_EVENT_TASKS);
    expect(event.tasksTruncated).toBe(true);
    expect(event.tasks[0]?.taskId).toBe("evt_1:task_00000");
  });
});
