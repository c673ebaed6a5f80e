import {
  appendAttempt,
  encodeOutcome,
  endpointRecordSchema,
  Header,
  type OutcomeMeta,
} from "@hookline/contracts";
import { type ConsumerPump, createEndpointWriter, startConsumerPump } from "@hookline/kit";
import { type NatsServerHandle, startNatsServer } from "@hookline/testkit";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ClassifierHarness,
  consumerBacklog,
  decodedDeadLetter,
  decodedTask,
  failedOutcome,
  lastOn,
  putEndpoint,
  randomEndpointId,
  startClassifierHarness,
  waitForLastOn,
  waitUntil,
} from "../testing/classifier-harness";
import { createEndpointHealth, type EndpointHealth } from "./endpoint-health";
import { createOutcomeHandler, GONE_DISABLED_REASON } from "./outcome-handler";

let nats: NatsServerHandle;
let h: ClassifierHarness;
let pump: ConsumerPump;
const body = new TextEncoder().encode('{"type":"order.created","timestamp":"x","data":{"id":1}}');

let health: EndpointHealth;
const DISABLE_AFTER_MS = 5 * 86_400_000;

beforeAll(async () => {
  nats = await startNatsServer();
  h = await startClassifierHarness({ natsUrl: nats.url, prefix: "oc" });
  health = createEndpointHealth({
    writer: createEndpointWriter({ kv: h.kv, endpoints: h.endpoints }),
    disableAfterMs: DISABLE_AFTER_MS,
    metrics: h.metrics,
    logger: h.logger,
  });
  // Only the outcome consumer runs here, so what it puts on RETRY stays there to be read.
  pump = startConsumerPump({
    js: h.js,
    stream: h.names.streams.outcomes,
    consumer: h.names.consumers.classifier,
    concurrency: 8,
    logger: h.logger,
    handle: createOutcomeHandler({ ...h.classifierOptions(), random: () => 0.5, health }),
  });
});

afterAll(async () => {
  await pump?.stop();
  await h?.close();
  await nats?.stop();
});

async function publishOutcome(outcome: OutcomeMeta): Promise<number> {
  const ack = await h.js.publish(h.names.subjects.outcomeFailed(outcome.endpointId), body, {
    headers: encodeOutcome(outcome, `${outcome.taskId}#${outcome.attempt}@${Math.random()}`),
  });
  return ack.seq;
}

async function deadLetterOf(endpointId: string) {
  const stored = await waitForLastOn(
    h.jsm,
    h.names.streams.deadletter,
    h.names.subjects.deadletter(endpointId),
  );
  return { stored, meta: decodedDeadLetter(stored) };
}

async function outcomesSettled() {
  await waitUntil("outcomes acked", async () => {
    const backlog = await consumerBacklog(h.jsm, h.names.streams.outcomes, "classifier");
    return backlog.pending === 0 && backlog.ackPending === 0;
  });
}

describe("outcome consumer", () => {
  it("schedules a retryable failure into the tier for its delay, due after schedule[attempt-1]", async () => {
    const endpointId = randomEndpointId();
    const outcome = failedOutcome({ endpointId, attempt: 1, status: 500 });
    const before = Date.now();
    const seq = await publishOutcome(outcome);
    const stored = await waitForLastOn(
      h.jsm,
      h.names.streams.retry,
      h.names.subjects.retry("5s", endpointId),
    );
    const after = Date.now();
    const task = decodedTask(stored);

    expect(task).toMatchObject({
      taskId: outcome.taskId,
      eventId: outcome.eventId,
      attempt: 1,
      deferrals: 0,
      createdAt: outcome.createdAt,
      deadline: outcome.deadline,
      history: outcome.history,
    });
    expect(task.notBefore).toBeGreaterThanOrEqual(before + 5_000);
    expect(task.notBefore).toBeLessThanOrEqual(after + 5_000);
    expect(stored.header.get(Header.msgId)).toBe(`${outcome.taskId}#1@${seq}`);
    expect(stored.data).toEqual(body);
    await outcomesSettled();
  });

  it("keeps the tenant on the retry and on the dead letter", async () => {
    const endpointId = randomEndpointId();
    await publishOutcome(failedOutcome({ endpointId, tenantId: "acme", status: 500 }));
    const retried = await waitForLastOn(
      h.jsm,
      h.names.streams.retry,
      h.names.subjects.retry("5s", endpointId),
    );
    expect(retried.header.get(Header.tenantId)).toBe("acme");
    expect(decodedTask(retried).tenantId).toBe("acme");

    await publishOutcome(failedOutcome({ endpointId, tenantId: "acme", status: 400 }));
    const { stored, meta } = await deadLetterOf(endpointId);
    expect(stored.header.get(Header.tenantId)).toBe("acme");
    expect(meta).toMatchObject({ tenantId: "acme", reason: "non_retryable" });
    await outcomesSettled();
  });

  it("dead-letters a 400 as non_retryable, history kept", async () => {
    const endpointId = randomEndpointId();
    const outcome = failedOutcome({ endpointId, attempt: 1, status: 400, error: "bad request" });
    const seq = await publishOutcome(outcome);
    const { stored, meta } = await deadLetterOf(endpointId);
    expect(meta).toMatchObject({ reason: "non_retryable", attempt: 1, taskId: outcome.taskId });
    expect(meta.history).toEqual(outcome.history);
    expect(stored.header.get(Header.msgId)).toBe(`${outcome.taskId}#dead1@${seq}`);
    expect(stored.data).toEqual(body);
    expect(
      await lastOn(h.jsm, h.names.streams.retry, h.names.subjects.retry("5s", endpointId)),
    ).toBeUndefined();
  });

  it("dead-letters as expired when the next try would pass the deadline", async () => {
    const endpointId = randomEndpointId();
    const now = Date.now();
    await publishOutcome(failedOutcome({ endpointId, status: 503, deadline: now + 2_000 }, now));
    const { meta } = await deadLetterOf(endpointId);
    expect(meta.reason).toBe("expired");
  });

  it("dead-letters as exhausted after the last schedule entry", async () => {
    const endpointId = randomEndpointId();
    // The harness's default schedule has 3 entries: the 4th attempt is the last.
    await publishOutcome(failedOutcome({ endpointId, attempt: 4, result: "network_error" }));
    const { meta } = await deadLetterOf(endpointId);
    expect(meta).toMatchObject({ reason: "exhausted", attempt: 4 });
  });

  it("defers rate_limited without using an attempt, after the limiter's wait", async () => {
    const endpointId = randomEndpointId();
    const outcome = failedOutcome({
      endpointId,
      attempt: 2,
      deferrals: 1,
      result: "rate_limited",
      retryAfterMs: 20_000,
    });
    const before = Date.now();
    const seq = await publishOutcome(outcome);
    // wait 20 s × 2^1 = 40 s: the 2m tier.
    const stored = await waitForLastOn(
      h.jsm,
      h.names.streams.retry,
      h.names.subjects.retry("2m", endpointId),
    );
    const task = decodedTask(stored);
    expect(task).toMatchObject({ attempt: 2, deferrals: 2 });
    expect(task.notBefore).toBeGreaterThanOrEqual(before + 40_000);
    expect(stored.header.get(Header.msgId)).toBe(`${outcome.taskId}#2d2@${seq}`);
  });

  it("dead-letters endpoint_disabled and endpoint_missing at once", async () => {
    const disabledEp = randomEndpointId();
    const missingEp = randomEndpointId();
    await publishOutcome(
      failedOutcome({ endpointId: disabledEp, attempt: 0, result: "endpoint_disabled" }),
    );
    await publishOutcome(
      failedOutcome({ endpointId: missingEp, attempt: 0, result: "endpoint_missing" }),
    );
    expect((await deadLetterOf(disabledEp)).meta.reason).toBe("endpoint_disabled");
    expect((await deadLetterOf(missingEp)).meta.reason).toBe("endpoint_deleted");
  });

  it("on 410 disables the endpoint by compare-and-set and dead-letters endpoint_gone", async () => {
    const { record, revision } = await putEndpoint(h.kv, h.endpoints);
    const disabledBefore = (await h.metrics.endpointsDisabled.get()).values[0]?.value ?? 0;
    await publishOutcome(failedOutcome({ endpointId: record.id, status: 410 }));
    const { meta } = await deadLetterOf(record.id);
    expect(meta.reason).toBe("endpoint_gone");

    const entry = await h.kv.get(record.id);
    expect(entry?.revision).toBeGreaterThan(revision);
    const stored = endpointRecordSchema.parse(entry?.json());
    expect(stored).toMatchObject({ disabled: true, disabledReason: GONE_DISABLED_REASON });
    expect(stored.secrets).toEqual(record.secrets);
    expect(Date.parse(stored.updatedAt)).toBeGreaterThanOrEqual(Date.parse(record.updatedAt));
    const disabledAfter = (await h.metrics.endpointsDisabled.get()).values[0]?.value ?? 0;
    expect(disabledAfter).toBe(disabledBefore + 1);

    // A second 410 finds it disabled already: dead-lettered, not written again.
    const second = failedOutcome({ endpointId: record.id, status: 410 });
    await publishOutcome(second);
    await waitUntil("second dead letter", async () => {
      const last = await lastOn(
        h.jsm,
        h.names.streams.deadletter,
        h.names.subjects.deadletter(record.id),
      );
      return last !== undefined && decodedDeadLetter(last).taskId === second.taskId;
    });
    expect((await h.kv.get(record.id))?.revision).toBe(entry?.revision);
  });

  it("on 410 wins over a stale cache by re-reading the revision", async () => {
    const { record } = await putEndpoint(h.kv, h.endpoints);
    // Someone else writes; the classifier may still hold the older revision in its cache.
    const edited = await h.kv.put(record.id, JSON.stringify({ ...record, description: "edited" }));
    await publishOutcome(failedOutcome({ endpointId: record.id, status: 410 }));
    await deadLetterOf(record.id);
    const entry = await h.kv.get(record.id);
    expect(entry?.revision).toBeGreaterThan(edited);
    expect(endpointRecordSchema.parse(entry?.json())).toMatchObject({
      description: "edited",
      disabled: true,
    });
  });

  it("on 410 for an endpoint that no longer exists only dead-letters", async () => {
    const endpointId = randomEndpointId();
    await publishOutcome(failedOutcome({ endpointId, status: 410 }));
    expect((await deadLetterOf(endpointId)).meta.reason).toBe("endpoint_gone");
    expect(await h.kv.get(endpointId)).toBeNull();
  });

  it("uses the endpoint's own retrySchedule from the cache", async () => {
    const { record } = await putEndpoint(h.kv, h.endpoints, { retrySchedule: ["1m", "3m"] });
    await publishOutcome(failedOutcome({ endpointId: record.id, attempt: 2, status: 502 }));
    const stored = await waitForLastOn(
      h.jsm,
      h.names.streams.retry,
      h.names.subjects.retry("5m", record.id),
    );
    expect(decodedTask(stored).attempt).toBe(2);
    await publishOutcome(failedOutcome({ endpointId: record.id, attempt: 3, status: 502 }));
    expect((await deadLetterOf(record.id)).meta.reason).toBe("exhausted");
  });

  it("dead-letters an undecodable outcome raw to deadletter.invalid", async () => {
    const endpointId = randomEndpointId();
    const headers = natsHeaders();
    headers.set(Header.msgId, `broken-${endpointId}`);
    headers.set(Header.taskId, "x");
    await h.js.publish(h.names.subjects.outcomeFailed(endpointId), body, { headers });
    let found = false;
    await waitUntil("invalid dead letter", async () => {
      const last = await lastOn(
        h.jsm,
        h.names.streams.deadletter,
        h.names.subjects.deadletterInvalid,
      );
      found =
        last?.header.get(Header.msgId).startsWith("invalid:") === true &&
        last.header.get("Hookline-Original-Subject") === h.names.subjects.outcomeFailed(endpointId);
      return found;
    });
    const last = await lastOn(
      h.jsm,
      h.names.streams.deadletter,
      h.names.subjects.deadletterInvalid,
    );
    expect(last?.header.get(Header.reason)).toBe("invalid_message");
    expect(last?.data).toEqual(body);
  });

  it("keeps up to ten history entries on the retry", async () => {
    const endpointId = randomEndpointId();
    let history = failedOutcome({ endpointId }).history;
    for (let n = 2; n <= 12; n++) {
      history = appendAttempt(history, { n, at: Date.now(), result: "timeout", ms: 30_000 });
    }
    await publishOutcome(failedOutcome({ endpointId, attempt: 1, result: "timeout", history }));
    const stored = await waitForLastOn(
      h.jsm,
      h.names.streams.retry,
      h.names.subjects.retry("2m", endpointId),
    );
    expect(decodedTask(stored).history).toEqual(history);
    expect(history).toHaveLength(10);
  });

  it("marks when an endpoint starts failing, and disables it after ENDPOINT_DISABLE_AFTER", async () => {
    const fresh = await putEndpoint(h.kv, h.endpoints);
    await publishOutcome(failedOutcome({ endpointId: fresh.record.id, status: 500 }));
    await waitUntil("failingSince marked", async () => {
      const stored = endpointRecordSchema.parse((await h.kv.get(fresh.record.id))?.json());
      return stored.failingSince !== undefined && !stored.disabled;
    });

    const longAgo = new Date(Date.now() - DISABLE_AFTER_MS - 60_000).toISOString();
    const failing = await putEndpoint(h.kv, h.endpoints, { failingSince: longAgo });
    await publishOutcome(failedOutcome({ endpointId: failing.record.id, status: 500 }));
    await waitUntil("disabled after five days of failures", async () => {
      const stored = endpointRecordSchema.parse((await h.kv.get(failing.record.id))?.json());
      return (
        stored.disabled && stored.disabledReason === `failing without a success since ${longAgo}`
      );
    });
    // The failure itself is still retried; later tasks dead-letter as endpoint_disabled.
    await waitForLastOn(
      h.jsm,
      h.names.streams.retry,
      h.names.subjects.retry("5s", failing.record.id),
    );
  });
});
