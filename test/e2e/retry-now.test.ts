import { hooklineNames } from "@hookline/contracts";
import { pollUntil, type Sink } from "@hookline/testkit";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DlqClient } from "../support/dlq-client";
import { type E2eStackWithDlq, startE2eStack } from "../support/e2e-stack";
import type { IngestClient } from "../support/ingest-client";

const prefix = "e2eretrynow";
const names = hooklineNames(prefix);
let e2e: E2eStackWithDlq;
let nc: NatsConnection;
let jsm: JetStreamManager;
let sink: Sink;
let ingest: IngestClient;
let dlq: DlqClient;

beforeAll(async () => {
  e2e = await startE2eStack({
    prefix,
    services: ["ingest", "delivery", "classifier", "dlq"],
    env: {
      // A retry 5 s away lands in the 5s tier, one 10 minutes away in the 10m tier.
      RETRY_SCHEDULE: "5s,10m",
      RETRY_TIERS: "5s,10m",
      RETRY_JITTER: "0",
    },
  });
  ({ sink, ingest, dlq } = e2e);
  nc = await connect({ servers: e2e.nats.url });
  jsm = await jetstreamManager(nc);
});

afterAll(async () => {
  await nc?.close();
  await e2e?.stop();
});

interface EventTask {
  taskId: string;
  endpointId: string;
  state: string;
  nextAttemptAt: string | null;
  deadLetterId: string | null;
}

interface RetriedTask {
  taskId: string;
  endpointId: string;
  outcome: string;
  retrySeq?: number;
}

/** An endpoint at `path` of the sink, subscribed to `eventType`, retrying on `schedule`. */
async function endpointAt(path: string, eventType: string, schedule?: string[]) {
  const endpoint = await ingest.createEndpoint({
    url: sink.url(path),
    eventTypes: [eventType],
    ...(schedule === undefined ? {} : { retrySchedule: schedule }),
  });
  sink.setSecrets(path, [endpoint.secret]);
  return endpoint.id;
}

async function postEvent(body: Record<string, unknown>): Promise<string> {
  const posted = await ingest.postEvent(body);
  expect(posted.status).toBe(202);
  return String(posted.json.eventId);
}

/** Polls the dlq's view of the event until every one of its tasks is in `state`. */
async function tasksOnceAll(eventId: string, count: number, state: string): Promise<EventTask[]> {
  let tasks: EventTask[] = [];
  await pollUntil(
    async () => {
      const response = await dlq.request(`/v1/events/${eventId}`);
      if (response.status !== 200) return false;
      tasks = ((await response.json()) as { tasks: EventTask[] }).tasks;
      return tasks.length === count && tasks.every((task) => task.state === state);
    },
    { timeoutMs: 20_000, intervalMs: 100, what: `${count} tasks of ${eventId} ${state}` },
  );
  return tasks;
}

async function retryNow(eventId: string, body: Record<string, unknown> = {}) {
  const response = await dlq.request(`/v1/events/${eventId}/retry`, {
    method: "POST",
    body: JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

/** Messages waiting in RETRY for one endpoint, on any tier. */
async function waitingIn(endpointId: string): Promise<number> {
  const subject = names.subjects.retry("*", endpointId);
  const info = await jsm.streams.info(names.streams.retry, { subjects_filter: subject });
  return Object.values(info.state.subjects ?? {}).reduce((sum, n) => sum + n, 0);
}

/** Failed attempts of one endpoint the classifier has recorded in ATTEMPTS (with its decision). */
async function classifiedFor(endpointId: string): Promise<number> {
  const subject = names.subjects.outcomeClassified(endpointId);
  const info = await jsm.streams.info(names.streams.attempts, { subjects_filter: subject });
  return Object.values(info.state.subjects ?? {}).reduce((sum, n) => sum + n, 0);
}

/**
 * Polls the streams, quickly, until the classifier has done its part for each endpoint: its
 * retry copies are in RETRY and its records of them in ATTEMPTS (published right after).
 */
async function retriesStored(expected: Record<string, number>): Promise<void> {
  await pollUntil(
    async () => {
      for (const [endpointId, count] of Object.entries(expected)) {
        if ((await waitingIn(endpointId)) !== count) return false;
        if ((await classifiedFor(endpointId)) !== count) return false;
      }
      return true;
    },
    { timeoutMs: 20_000, intervalMs: 25, what: `retries stored: ${JSON.stringify(expected)}` },
  );
}

/** Waits for the first successful send of `webhookId` to `path`, and returns it. */
async function success(path: string, webhookId: string, timeoutMs = 10_000) {
  const find = () =>
    sink
      .deliveries(path)
      .find((delivery) => delivery.webhookId === webhookId && delivery.answeredStatus === 200);
  await pollUntil(async () => find() !== undefined, {
    timeoutMs,
    intervalMs: 50,
    what: `a successful send of ${webhookId} to ${path}`,
  });
  return find();
}

/** Successful sends to `path`, counted per webhook-id. */
function successesByWebhookId(path: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const delivery of sink.deliveries(path)) {
    if (delivery.answeredStatus !== 200 || delivery.webhookId === undefined) continue;
    counts[delivery.webhookId] = (counts[delivery.webhookId] ?? 0) + 1;
  }
  return counts;
}

describe("retry now", () => {
  it("sends retries 5 s and 10 minutes away at once, each exactly once", async () => {
    const soon = await endpointAt("/soon", "invoice.retried", ["5s"]);
    const later = await endpointAt("/later", "invoice.retried", ["10m"]);
    // Each endpoint fails its first request with 500 and answers 200 after.
    sink.script("/soon", [{ status: 500 }]);
    sink.script("/later", [{ status: 500 }]);
    const eventId = await postEvent({ eventType: "invoice.retried", payload: { n: 1 } });
    // The main event's /soon copy is classified first, so the control below comes due after it.
    await retriesStored({ [soon]: 1 });
    // A control on the 5 s endpoint, left to its tier: when it is released, so would the
    // retried one's copy have been, had it stayed.
    sink.script("/soon", [{ status: 500 }]);
    const control = await postEvent({
      eventType: "invoice.retried",
      payload: { n: 2 },
      endpointIds: [soon],
    });
    await retriesStored({ [soon]: 2, [later]: 1 });
    // The classifier alone releases tier copies: frozen, the 5 s tier cannot release the copy
    // before the call however slow this machine is (the log, the call and the sends take
    // seconds under load). Resumed before the control's release is awaited.
    const classifier = e2e.stack.pid("classifier");
    process.kill(classifier, "SIGSTOP");
    let soonDue: number;
    try {
      const waiting = await tasksOnceAll(eventId, 2, "retrying");
      const dueAt = (endpointId: string) =>
        Date.parse(waiting.find((task) => task.endpointId === endpointId)?.nextAttemptAt ?? "");
      soonDue = dueAt(soon);
      const laterDue = dueAt(later);
      expect(laterDue - soonDue).toBeGreaterThan(9 * 60_000);
      expect(await waitingIn(soon)).toBe(2);
      expect(await waitingIn(later)).toBe(1);

      const retried = await retryNow(eventId);

      expect(retried.status).toBe(200);
      const tasks = retried.json.tasks as RetriedTask[];
      expect(tasks.map((task) => [task.endpointId, task.outcome]).sort()).toEqual(
        [
          [soon, "sent"],
          [later, "sent"],
        ].sort(),
      );
      const soonSent = await success("/soon", eventId);
      const laterSent = await success("/later", eventId);
      // Sent by the call: both arrived while the classifier, the only releaser of tier copies,
      // was frozen (a clock check on the 5 s one would fail on a machine slower than 5 s here).
      expect(laterSent?.receivedAt).toBeLessThan(laterDue);
      expect(soonSent?.verified && laterSent?.verified).toBe(true);

      // The 10-minute copy is gone from its tier: it can never come due.
      expect(await waitingIn(later)).toBe(0);
      const laterSeq = tasks.find((task) => task.endpointId === later)?.retrySeq ?? 0;
      expect(await jsm.streams.getMessage(names.streams.retry, { seq: laterSeq })).toBeNull();
      // Only the control waits in the 5 s tier.
      expect(await waitingIn(soon)).toBe(1);
      await tasksOnceAll(control, 1, "retrying");
    } finally {
      process.kill(classifier, "SIGCONT");
    }

    // The 5 s tier releases the control; the retried copy's due time has passed by then.
    await success("/soon", control, 20_000);
    expect(Date.now()).toBeGreaterThan(soonDue);
    expect(await waitingIn(soon)).toBe(0);
    await tasksOnceAll(eventId, 2, "delivered");
    expect(successesByWebhookId("/soon")).toEqual({ [eventId]: 1, [control]: 1 });
    expect(successesByWebhookId("/later")).toEqual({ [eventId]: 1 });

    // Called again: nothing is waiting, nothing more is sent.
    const again = await retryNow(eventId);
    expect(again.status).toBe(200);
    expect((again.json.tasks as RetriedTask[]).map((task) => task.outcome)).toEqual([
      "not_waiting",
      "not_waiting",
    ]);
  }, 60_000);

  it("answers 409 for a dead-lettered task, pointing to its replay", async () => {
    const refusing = await endpointAt("/refuses", "invoice.refused");
    sink.setDefault("/refuses", { status: 400 });
    const eventId = await postEvent({ eventType: "invoice.refused", payload: { n: 3 } });
    const [dead] = await tasksOnceAll(eventId, 1, "dead_lettered");
    await pollUntil(async () => (await dlq.list({ endpointId: refusing })).json.data.length === 1, {
      timeoutMs: 15_000,
      intervalMs: 100,
      what: "the dead letter",
    });
    const [letter] = (await dlq.list({ endpointId: refusing })).json.data;

    const refused = await retryNow(eventId);

    expect(refused.status).toBe(409);
    expect(refused.json).toMatchObject({
      code: "task_dead_lettered",
      deadLetters: [
        {
          taskId: dead?.taskId,
          endpointId: refusing,
          deadLetterId: letter?.id,
          replay: `/v1/dead-letters/${letter?.id}/replay`,
        },
      ],
    });
    expect(sink.count("/refuses")).toBe(1);
  });
});
