import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  decodeTask,
  defaultProvisionOptions,
  encodeTask,
  passMsgId,
  provision,
  type TaskMeta,
  taskIdFor,
} from "@hookline/contracts";
import { type NatsServerHandle, startNatsServer } from "@hookline/testkit";
import {
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
} from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  attemptRow,
  deliveredRow,
  insertAttempts,
  startAttemptReadHarness,
  truncateAttemptLog,
} from "../testing/attempt-fixtures";
import type { DlqHarness } from "../testing/dlq-harness";
import { endpointId, incomingLetter } from "../testing/letters";
import type { RetryNowOutcome } from "./outcomes";
import { createEventRetrier, type EventRetrier } from "./retry-now";
import { findWaitingCopy } from "./waiting-copy";

let h: DlqHarness;
let retrier: EventRetrier;
const counted: RetryNowOutcome[] = [];
beforeAll(async () => {
  ({ h } = await startAttemptReadHarness("dlq_retry_now"));
  retrier = createEventRetrier({
    db: h.database.db,
    js: h.js,
    jsm: h.jsm,
    names: h.names,
    counted: (outcome) => counted.push(outcome),
    logger: h.logger,
    publishTimeoutMs: 1_000,
  });
}, 60_000);
afterAll(async () => {
  await h?.close();
});
beforeEach(async () => {
  await truncateAttemptLog(h.database.db);
  await h.reset();
  await h.jsm.streams.purge(h.names.streams.retry);
  await h.jsm.streams.purge(h.names.streams.dispatchRetry);
  counted.length = 0;
});

/** A task waiting for its second attempt, as the classifier writes it to a tier. */
function waitingTask(eventId: string, endpoint: string, overrides: Partial<TaskMeta> = {}) {
  const now = Date.now();
  return {
    taskId: taskIdFor(eventId, endpoint),
    eventId,
    eventType: "order.created",
    endpointId: endpoint,
    tenantId: "default",
    attempt: 1,
    deferrals: 0,
    createdAt: now - 2_000,
    deadline: now + 86_400_000,
    notBefore: now + 600_000,
    history: [{ n: 1, at: now - 1_000, result: "http_error" as const, status: 500, ms: 12 }],
    ...overrides,
  } satisfies TaskMeta;
}

const body = (eventId: string) => Buffer.from(`{"type":"order.created","data":"${eventId}"}`);

let outcomeSeq = 0;

/**
 * Publishes a task's copy to a tier, as the classifier does (its id names the outcome it came
 * from, a new one each time: RETRY's duplicate window outlives the purges); its stream sequence.
 */
async function parkInTier(task: TaskMeta, tier = "10m"): Promise<number> {
  outcomeSeq++;
  const ack = await h.js.publish(
    h.names.subjects.retry(tier, task.endpointId),
    body(task.eventId),
    {
      headers: encodeTask(task, passMsgId(task, outcomeSeq)),
    },
  );
  return ack.seq;
}

/** The attempt log's row for the task's failed first attempt, retried. */
const retryingRow = (eventId: string, endpoint: string) =>
  attemptRow({
    event_id: eventId,
    endpoint_id: endpoint,
    attempted_at: new Date(Date.now() - 1_000),
  });

const retryMessage = (seq: number) =>
  h.jsm.streams.getMessage(h.names.streams.retry, { seq }).catch(() => null);

async function dispatched(endpoint: string) {
  const info = await h.jsm.streams.info(h.names.streams.dispatchRetry, {
    subjects_filter: h.names.subjects.dispatchRetry(endpoint),
  });
  const count = info.state.subjects?.[h.names.subjects.dispatchRetry(endpoint)] ?? 0;
  const last =
    count === 0
      ? null
      : await h.jsm.streams.getMessage(h.names.streams.dispatchRetry, {
          last_by_subj: h.names.subjects.dispatchRetry(endpoint),
        });
  return { count, last };
}

describe("findWaitingCopy", () => {
  it("finds the task's copy on any tier of its endpoint, from the time given on", async () => {
    const ep = endpointId(1);
    const other = endpointId(2);
    const before = await parkInTier(waitingTask("evt_early", ep), "5s");
    await new Promise((resolve) => setTimeout(resolve, 50));
    const since = new Date();
    for (let n = 0; n < 20; n++) await parkInTier(waitingTask(`evt_other_${n}`, other), "5s");
    await parkInTier(waitingTask("evt_near", ep), "5s");
    const seq = await parkInTier(waitingTask("evt_1", ep), "2h");

    const found = await findWaitingCopy(h.jsm, h.names, {
      taskId: taskIdFor("evt_1", ep),
      endpointId: ep,
      since,
    });
    expect(found.outcome).toBe("found");
    expect(found.outcome === "found" && found.copy.seq).toBe(seq);
    expect(found.outcome === "found" && found.copy.subject).toBe(h.names.subjects.retry("2h", ep));

    // Written before `since`: the search starts after it.
    const early = await findWaitingCopy(h.jsm, h.names, {
      taskId: taskIdFor("evt_early", ep),
      endpointId: ep,
      since,
    });
    expect(early).toEqual({ outcome: "absent" });
    const fromStart = await findWaitingCopy(h.jsm, h.names, {
      taskId: taskIdFor("evt_early", ep),
      endpointId: ep,
      since: new Date(0),
    });
    expect(fromStart.outcome === "found" && fromStart.copy.seq).toBe(before);

    // Only the endpoint's own messages count towards the limit.
    const limited = await findWaitingCopy(h.jsm, h.names, {
      taskId: taskIdFor("evt_1", ep),
      endpointId: ep,
      since,
      maxScanned: 1,
    });
    expect(limited).toEqual({ outcome: "too_many", scanned: 1 });
  });
});

describe("retryNow", () => {
  it("sends a waiting retry at once under the release's message id, and deletes its copy", async () => {
    const ep = endpointId(1);
    const task = waitingTask("evt_1", ep);
    const seq = await parkInTier(task);
    await insertAttempts(h.database.db, [retryingRow("evt_1", ep)]);
    const before = Date.now();

    const result = await retrier.retryNow({ eventId: "evt_1" });

    expect(result).toEqual({
      outcome: "done",
      tenantId: "default",
      eventId: "evt_1",
      tasks: [{ taskId: task.taskId, endpointId: ep, outcome: "sent", retrySeq: seq }],
    });
    expect(await retryMessage(seq)).toBeNull();
    const { count, last } = await dispatched(ep);
    expect(count).toBe(1);
    expect(last?.header.get("Nats-Msg-Id")).toBe(passMsgId(task, seq));
    expect(Buffer.from(last?.data ?? []).toString()).toBe(body("evt_1").toString());
    const sent = decodeTask(last?.header);
    expect(sent.ok && sent.value).toMatchObject({ ...task, notBefore: expect.any(Number) });
    expect(sent.ok && sent.value.notBefore).toBeGreaterThanOrEqual(before);
    expect(sent.ok && sent.value.notBefore).toBeLessThanOrEqual(Date.now());
    expect(counted).toEqual(["sent"]);

    // Called again: the copy is gone, nothing more is sent.
    const again = await retrier.retryNow({ eventId: "evt_1" });
    expect(again.outcome === "done" && again.tasks[0]?.outcome).toBe("already_released");
    expect((await dispatched(ep)).count).toBe(1);
  });

  it("sends nothing more when the tier released the copy at the same moment", async () => {
    const ep = endpointId(1);
    const task = waitingTask("evt_1", ep);
    const seq = await parkInTier(task);
    await insertAttempts(h.database.db, [retryingRow("evt_1", ep)]);
    // The classifier's release of that copy got there first (and has not acked it yet).
    await h.js.publish(h.names.subjects.dispatchRetry(ep), body("evt_1"), {
      headers: encodeTask(task, passMsgId(task, seq)),
    });

    const result = await retrier.retryNow({ eventId: "evt_1" });

    expect(result.outcome === "done" && result.tasks).toEqual([
      { taskId: task.taskId, endpointId: ep, outcome: "already_released" },
    ]);
    expect((await dispatched(ep)).count).toBe(1);
    expect(await retryMessage(seq)).toBeNull();
  });

  it("reports a retry already released, and delivered tasks, without sending", async () => {
    const [ep1, ep2] = [endpointId(1), endpointId(2)];
    await insertAttempts(h.database.db, [
      retryingRow("evt_1", ep1),
      attemptRow({
        event_id: "evt_1",
        endpoint_id: ep2,
        attempted_at: new Date(Date.now() - 9_000),
      }),
      deliveredRow({ event_id: "evt_1", endpoint_id: ep2, attempt: 2, attempted_at: new Date() }),
    ]);
    // Another event's copy on the same endpoint is not this task's.
    await parkInTier(waitingTask("evt_2", ep1));

    const result = await retrier.retryNow({ eventId: "evt_1" });

    expect(result.outcome === "done" && result.tasks).toEqual([
      { taskId: taskIdFor("evt_1", ep1), endpointId: ep1, outcome: "already_released" },
      {
        taskId: taskIdFor("evt_1", ep2),
        endpointId: ep2,
        outcome: "not_waiting",
        state: "delivered",
      },
    ]);
    expect((await dispatched(ep1)).count).toBe(0);
    expect(counted.sort()).toEqual(["already_released", "not_waiting"]);
  });

  it("refuses a dead-lettered task, naming its letter, and does nothing", async () => {
    const [ep1, ep3] = [endpointId(1), endpointId(3)];
    const seq = await parkInTier(waitingTask("evt_1", ep1));
    await insertAttempts(h.database.db, [
      retryingRow("evt_1", ep1),
      attemptRow({
        event_id: "evt_1",
        endpoint_id: ep3,
        attempted_at: new Date(Date.now() - 5_000),
        status: 400,
        decision: "deadletter",
        next_attempt_at: null,
        reason: "non_retryable",
      }),
    ]);
    const letter = await h.store(
      incomingLetter({ eventId: "evt_1", endpointId: ep3, deadAt: new Date() }),
    );
    const letterId = letter.id;

    const result = await retrier.retryNow({ eventId: "evt_1" });

    expect(result).toEqual({
      outcome: "dead_lettered",
      letters: [{ taskId: taskIdFor("evt_1", ep3), endpointId: ep3, deadLetterId: letterId }],
    });
    expect(await retryMessage(seq)).not.toBeNull();
    expect((await dispatched(ep1)).count).toBe(0);

    // Naming the waiting task's endpoint retries that one alone.
    const one = await retrier.retryNow({ eventId: "evt_1", endpointId: ep1 });
    expect(one.outcome === "done" && one.tasks.map((task) => task.outcome)).toEqual(["sent"]);
  });

  it("answers an unknown event, and an endpoint the event has no task to", async () => {
    expect(await retrier.retryNow({ eventId: "evt_missing" })).toEqual({ outcome: "not_found" });
    await insertAttempts(h.database.db, [retryingRow("evt_1", endpointId(1))]);
    expect(await retrier.retryNow({ eventId: "evt_1", endpointId: endpointId(9) })).toEqual({
      outcome: "task_not_found",
      endpointId: endpointId(9),
    });
  });
});

/**
 * A NATS user that may do all but delete messages: the delete after a successful publish fails
 * every try, the one failure publish-then-delete leaves.
 */
const NO_DELETE_CONFIG = `authorization {
  users = [
    { user: admin, password: admin }
    {
      user: nodelete
      password: nodelete
      permissions: { publish: { deny: ["$JS.API.STREAM.MSG.DELETE.>"] } }
    }
  ]
}
`;

describe("retryNow when NATS fails it", () => {
  let dir: string;
  let server: NatsServerHandle;
  const connections: NatsConnection[] = [];
  let admin: { js: JetStreamClient; jsm: JetStreamManager };

  const retrierAs = async (user: string) => {
    const nc = await connect({ servers: server.url, user, pass: user });
    connections.push(nc);
    const jsm = await jetstreamManager(nc, { timeout: 1_000 });
    const js = jetstream(nc, { timeout: 1_000 });
    return {
      nc,
      js,
      jsm,
      retrier: createEventRetrier({
        db: h.database.db,
        js,
        jsm,
        names: h.names,
        counted: (outcome) => counted.push(outcome),
        logger: h.logger,
        publishTimeoutMs: 1_000,
        pause: () => Promise.resolve(),
      }),
    };
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "retry-now-"));
    await writeFile(join(dir, "nats.conf"), NO_DELETE_CONFIG);
    server = await startNatsServer({ configFile: join(dir, "nats.conf") });
    const connection = await retrierAs("admin");
    await provision(connection.nc, connection.jsm, { ...defaultProvisionOptions, names: h.names });
    admin = connection;
  }, 30_000);
  afterAll(async () => {
    await Promise.all(connections.map((nc) => nc.close()));
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("finds nothing in a RETRY stream that never held a message", async () => {
    expect((await admin.jsm.streams.info(h.names.streams.retry)).state.first_seq).toBe(0);
    const search = await findWaitingCopy(admin.jsm, h.names, {
      taskId: taskIdFor("evt_1", endpointId(1)),
      endpointId: endpointId(1),
      since: new Date(0),
    });
    expect(search).toEqual({ outcome: "absent" });
  });

  it("reports a sent task whose copy stays (copy_kept); a second call removes it, sending nothing", async () => {
    const ep = endpointId(1);
    const task = waitingTask("evt_1", ep);
    const { seq } = await admin.js.publish(h.names.subjects.retry("10m", ep), body("evt_1"), {
      headers: encodeTask(task, passMsgId(task, 1)),
    });
    await insertAttempts(h.database.db, [retryingRow("evt_1", ep)]);
    const dispatchedThere = async () =>
      (await admin.jsm.streams.info(h.names.streams.dispatchRetry)).state.messages;

    const { retrier: noDelete } = await retrierAs("nodelete");
    const first = await noDelete.retryNow({ eventId: "evt_1" });

    expect(first.outcome === "done" && first.tasks).toEqual([
      { taskId: task.taskId, endpointId: ep, outcome: "copy_kept", retrySeq: seq },
    ]);
    expect(await dispatchedThere()).toBe(1);
    expect(await admin.jsm.streams.getMessage(h.names.streams.retry, { seq })).not.toBeNull();

    // Within the duplicate window a second call publishes the same id (dropped) and deletes.
    const { retrier } = await retrierAs("admin");
    const second = await retrier.retryNow({ eventId: "evt_1" });
    expect(second.outcome === "done" && second.tasks.map((t) => t.outcome)).toEqual([
      "already_released",
    ]);
    expect(await dispatchedThere()).toBe(1);
    expect(
      await admin.jsm.streams.getMessage(h.names.streams.retry, { seq }).catch(() => null),
    ).toBeNull();
  });

  it("sends nothing and says so when NATS is gone before the search", async () => {
    const ep = endpointId(1);
    await insertAttempts(h.database.db, [retryingRow("evt_1", ep)]);
    const { nc, retrier } = await retrierAs("admin");
    await nc.close();

    const result = await retrier.retryNow({ eventId: "evt_1" });

    expect(result.outcome === "done" && result.tasks).toEqual([
      { taskId: taskIdFor("evt_1", ep), endpointId: ep, outcome: "unavailable", stage: "search" },
    ]);
  });
});
