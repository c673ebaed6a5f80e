import { randomBytes, randomInt } from "node:crypto";
import {
  decodeDeliveredOutcomes,
  decodeOutcome,
  defaultProvisionOptions,
  type EndpointRecord,
  encodeTask,
  Header,
  type HooklineNames,
  hooklineNames,
  type OutcomeMeta,
  type ProvisionOptions,
  provision,
  type TaskMeta,
  taskIdFor,
} from "@hookline/contracts";
import {
  createEndpointWriter,
  createLogger,
  createServiceMetrics,
  type EndpointCache,
  type ServiceMetrics,
  startEndpointCache,
} from "@hookline/kit";
import {
  type NatsServerHandle,
  pollUntil,
  type Sink,
  startNatsServer,
  startSink,
} from "@hookline/testkit";
import {
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  type StoredMsg,
} from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FairnessLimits, type RunningDelivery, startDelivery } from "./delivery";
import type { BreakerConfig } from "./guards/endpoint-breaker";
import { createEndpointGuards } from "./guards/endpoint-guards";
import { burstOf } from "./guards/token-bucket";
import { createWebhookClient, type WebhookClient } from "./http/webhook-client";
import { createDeliveryMetrics } from "./metrics";

const secretA = `whsec_${randomBytes(24).toString("base64")}`;
const secretB = `whsec_${randomBytes(32).toString("base64")}`;
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/** Production defaults, except a short reset so a test that opens a breaker sees it half-open. */
const testBreaker: BreakerConfig = {
  errorThresholdPercentage: 50,
  volumeThreshold: 10,
  resetTimeoutMs: 1_000,
  windowMs: 10_000,
};

let server: NatsServerHandle;
let nc: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;
let sink: Sink;
let client: WebhookClient;

beforeAll(async () => {
  server = await startNatsServer();
  sink = await startSink();
  nc = await connect({ servers: server.url });
  js = jetstream(nc);
  jsm = await jetstreamManager(nc);
  client = createWebhookClient({ connectTimeoutMs: 2_000, allowPrivateNetworks: true });
});

afterAll(async () => {
  await nc?.drain();
  await client?.close();
  await sink?.close();
  await server?.stop();
});

/** One deployment (its own prefix) on the shared server, with delivery running in-process. */
interface Harness {
  names: HooklineNames;
  provisionOptions: ProvisionOptions;
  kv: KV;
  cache: EndpointCache;
  serviceMetrics: ServiceMetrics;
  delivery: RunningDelivery;
  stop(): Promise<void>;
}

interface HarnessOptions {
  fairness?: FairnessLimits;
  /** Delivery's KV watch applies each change this much later. */
  watchDelayMs?: number;
}

async function startHarness(
  prefix: string,
  ackWaitMs: number,
  options: HarnessOptions = {},
): Promise<Harness> {
  const names = hooklineNames(prefix);
  const provisionOptions = { ...defaultProvisionOptions, names, deliveryAckWaitMs: ackWaitMs };
  const { endpoints: kv } = await provision(nc, jsm, provisionOptions);
  const logger = createLogger({ service: "delivery", level: "silent", pretty: false });
  const cache = await startEndpointCache(kv, logger, { applyDelayMs: options.watchDelayMs });
  const serviceMetrics = createServiceMetrics("delivery");
  const metrics = createDeliveryMetrics(serviceMetrics);
  const guards = createEndpointGuards({
    send: client.send,
    breaker: testBreaker,
    cacheSize: 100,
    metrics,
    logger,
  });
  const delivery = startDelivery({
    nc,
    js,
    jsm,
    names,
    provision: provisionOptions,
    endpoints: cache,
    endpointWriter: createEndpointWriter({ kv, endpoints: cache }),
    guards,
    serviceMetrics,
    metrics,
    logger,
    maxInFlight: 16,
    retryShare: 0.25,
    ackWaitMs,
    fairness: options.fairness,
    overflowSweepMs: 500,
  });
  return {
    names,
    provisionOptions,
    kv,
    cache,
    serviceMetrics,
    delivery,
    async stop() {
      await delivery.stop();
      guards.close();
      cache.stop();
    },
  };
}

function newEndpointId(): string {
  let id = "ep_";
  for (let i = 0; i < 26; i++) id += crockford[randomInt(32)];
  return id;
}

/** Stores an endpoint in KV and waits until delivery's cache holds it. */
async function putEndpoint(
  h: Harness,
  path: string,
  overrides: Partial<EndpointRecord> = {},
): Promise<EndpointRecord> {
  const now = new Date().toISOString();
  const record: EndpointRecord = {
    id: newEndpointId(),
    url: sink.url(path),
    eventTypes: [],
    secrets: [{ value: secretA, createdAt: now }],
    disabled: false,
    createdAt: now,
    updatedAt: now,
    ...overrides,
  };
  const revision = await h.kv.put(record.id, JSON.stringify(record));
  expect(await h.cache.waitForRevision(revision)).toBe(true);
  return record;
}

let eventCounter = 0;

async function publishTask(
  h: Harness,
  endpointId: string,
  options: { lane?: "fresh" | "retry"; meta?: Partial<TaskMeta> } = {},
): Promise<{ task: TaskMeta; body: Uint8Array }> {
  const eventId = `evt_test_${++eventCounter}_${randomBytes(4).toString("hex")}`;
  const now = Date.now();
  const task: TaskMeta = {
    taskId: taskIdFor(eventId, endpointId),
    eventId,
    eventType: "order.created",
    endpointId,
    attempt: 0,
    deferrals: 0,
    createdAt: now,
    deadline: now + 86_400_000,
    ...options.meta,
  };
  // Deliberately not canonical JSON, with non-ASCII, so any re-serialisation would show.
  const body = new TextEncoder().encode(
    `{"type":"order.created", "timestamp":"2025-01-01T00:00:00.000Z","data":{"id":"${eventId}","name":"Zoë 🚀"}}`,
  );
  const subject =
    options.lane === "retry"
      ? h.names.subjects.dispatchRetry(endpointId)
      : h.names.subjects.dispatchFresh(endpointId);
  const msgId = options.lane === "retry" ? `${task.taskId}#${task.attempt}` : task.taskId;
  await js.publish(subject, body, { headers: encodeTask(task, msgId) });
  return { task, body };
}

async function lastMessage(stream: string, subject: string): Promise<StoredMsg | null> {
  try {
    return await jsm.streams.getMessage(stream, { last_by_subj: subject });
  } catch {
    return null;
  }
}

async function waitForMessage(stream: string, subject: string): Promise<StoredMsg> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const found = await lastMessage(stream, subject);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no message on ${subject} within 15s`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** The stream a subject is stored in. */
function streamOf(h: Harness, subject: string): string {
  if (subject.includes(".outcome.delivered.")) return h.names.streams.attempts;
  if (subject.includes(".outcome.failed.")) return h.names.streams.outcomes;
  if (subject.includes(".dispatch.fresh.")) return h.names.streams.dispatch;
  return h.names.streams.dispatchRetry;
}

async function waitForOutcome(
  h: Harness,
  subject: string,
): Promise<{ meta: OutcomeMeta; msg: StoredMsg }> {
  const msg = await waitForMessage(streamOf(h, subject), subject);
  const decoded = decodeOutcome(msg.header);
  if (!decoded.ok) throw new Error(`outcome does not decode: ${decoded.error}`);
  return { meta: decoded.value, msg };
}

/** The task was acked: a workqueue stream removes it. */
async function waitUntilGone(h: Harness, subject: string): Promise<void> {
  await pollUntil(async () => (await lastMessage(streamOf(h, subject), subject)) === null, {
    timeoutMs: 10_000,
    intervalMs: 25,
    what: `the task on ${subject} to be acked`,
  });
}

/** The value of one Prometheus series, whatever the order of its labels. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`)) continue;
    const matches = Object.entries(labels).every(([key, value]) =>
      line.includes(`${key}="${value}"`),
    );
    if (matches) return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return undefined;
}

describe("delivery lanes", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness("dlvtest", defaultProvisionOptions.deliveryAckWaitMs);
  });
  afterAll(async () => {
    await h?.stop();
  });

  it("delivers one signed webhook with the event id and the body unchanged", async () => {
    const endpoint = await putEndpoint(h, "/ok", { headers: { "X-Tenant": "acme" } });
    sink.setSecrets("/ok", [secretA]);
    const { task, body } = await publishTask(h, endpoint.id, { meta: { tenantId: "acme" } });

    const [delivery] = await sink.waitFor(1, { path: "/ok" });
    expect(delivery?.verified).toBe(true);
    expect(delivery?.webhookId).toBe(task.eventId);
    expect(delivery?.body).toBe(new TextDecoder().decode(body));
    expect(delivery?.headers["content-type"]).toBe("application/json");
    expect(delivery?.headers["user-agent"]).toBe("Hookline/0.1");
    expect(delivery?.headers["x-tenant"]).toBe("acme");

    const { meta, msg } = await waitForOutcome(h, h.names.subjects.outcomeDelivered(endpoint.id));
    expect(meta).toMatchObject({
      taskId: task.taskId,
      result: "delivered",
      status: 200,
      attempt: 1,
    });
    expect(msg.header.get(Header.tenantId)).toBe("acme");
    expect(msg.header.get(Header.msgId)).toMatch(new RegExp(`^${task.taskId}#1@\\d+$`));
    // The sink answered with an empty body: no header for it.
    expect(msg.header.has(Header.responseBody)).toBe(false);
    await waitUntilGone(h, h.names.subjects.dispatchFresh(endpoint.id));
    const failed = h.names.subjects.outcomeFailed(endpoint.id);
    expect(await lastMessage(h.names.streams.outcomes, failed)).toBeNull();
    expect(sink.count("/ok")).toBe(1);
  });

  it("logs a success with the endpoint's answer, and the task body on the first attempt only", async () => {
    const first = await putEndpoint(h, "/answers");
    const later = await putEndpoint(h, "/answers");
    sink.setDefault("/answers", { status: 200, body: '{"received":\r\ntrue}' });
    const { task, body } = await publishTask(h, first.id);
    const retried = await publishTask(h, later.id, {
      lane: "retry",
      meta: { attempt: 2, history: [{ n: 2, at: Date.now() - 1_000, result: "timeout", ms: 300 }] },
    });

    const firstLogged = await waitForOutcome(h, h.names.subjects.outcomeDelivered(first.id));
    expect(firstLogged.meta).toMatchObject({
      taskId: task.taskId,
      attempt: 1,
      responseBody: '{"received": true}',
    });
    expect(firstLogged.msg.header.get(Header.responseBody)).toBe('{"received": true}');
    expect(Buffer.from(firstLogged.msg.data).equals(Buffer.from(body))).toBe(true);

    const laterLogged = await waitForOutcome(h, h.names.subjects.outcomeDelivered(later.id));
    expect(laterLogged.meta).toMatchObject({
      taskId: retried.task.taskId,
      attempt: 3,
      responseBody: '{"received": true}',
    });
    expect(laterLogged.msg.data).toHaveLength(0);

    // The attempt label: a task's first attempt, or one after an earlier attempt.
    const text = await h.serviceMetrics.registry.metrics();
    const delivered = { result: "delivered", status_class: "2xx" };
    const metric = "hookline_delivery_attempts_total";
    expect(sample(text, metric, { ...delivered, lane: "retry", attempt: "retry" })).toBe(1);
    expect(sample(text, metric, { ...delivered, lane: "retry", attempt: "first" })).toBeUndefined();
    expect(sample(text, metric, { ...delivered, lane: "fresh", attempt: "first" })).toBeGreaterThan(
      0,
    );
    expect(sample(text, metric, { ...delivered, lane: "fresh", attempt: "retry" })).toBeUndefined();
  });

  it("records a 500 as a failed outcome with the body, then acks the task", async () => {
    const endpoint = await putEndpoint(h, "/fails");
    sink.script("/fails", [{ status: 500, body: "upstream exploded" }]);
    const { task, body } = await publishTask(h, endpoint.id, { meta: { tenantId: "acme" } });

    const { meta, msg } = await waitForOutcome(h, h.names.subjects.outcomeFailed(endpoint.id));
    expect(meta).toMatchObject({
      taskId: task.taskId,
      eventId: task.eventId,
      tenantId: "acme",
      result: "http_error",
      status: 500,
      error: "upstream exploded",
      responseBody: "upstream exploded",
      attempt: 1,
      deferrals: 0,
      createdAt: task.createdAt,
      deadline: task.deadline,
    });
    expect(meta.history).toHaveLength(1);
    expect(meta.history[0]).toMatchObject({ n: 1, result: "http_error", status: 500 });
    expect(Buffer.from(msg.data).equals(Buffer.from(body))).toBe(true);
    await waitUntilGone(h, h.names.subjects.dispatchFresh(endpoint.id));
    expect(sink.count("/fails")).toBe(1);
  });

  it("signs with both secrets during a rotation, and each verifies", async () => {
    const later = new Date(Date.now() + 86_400_000).toISOString();
    const endpoint = await putEndpoint(h, "/rotating", {
      secrets: [
        { value: secretB, createdAt: new Date().toISOString() },
        { value: secretA, createdAt: new Date().toISOString(), expiresAt: later },
      ],
    });
    sink.setSecrets("/rotating", [secretA, secretB]);
    await publishTask(h, endpoint.id);

    const [delivery] = await sink.waitFor(1, { path: "/rotating" });
    expect(delivery?.signatures).toHaveLength(2);
    expect(delivery?.verifiedSecrets.sort()).toEqual([secretA, secretB].sort());
  });

  it("reports an unknown endpoint as endpoint_missing without calling anyone", async () => {
    const before = sink.count();
    const endpointId = newEndpointId();
    const { task, body } = await publishTask(h, endpointId);

    const { meta, msg } = await waitForOutcome(h, h.names.subjects.outcomeFailed(endpointId));
    expect(meta).toMatchObject({ taskId: task.taskId, result: "endpoint_missing", attempt: 0 });
    expect(meta.history.at(-1)).toMatchObject({ n: 0, result: "endpoint_missing" });
    expect(msg.header.get(Header.msgId)).toMatch(
      new RegExp(`^${task.taskId}#0\\.endpoint_missing@\\d+$`),
    );
    expect(Buffer.from(msg.data).equals(Buffer.from(body))).toBe(true);
    await waitUntilGone(h, h.names.subjects.dispatchFresh(endpointId));
    expect(sink.count()).toBe(before);
  });

  it("reports a disabled endpoint as endpoint_disabled, keeping the attempt count", async () => {
    const endpoint = await putEndpoint(h, "/disabled", {
      disabled: true,
      disabledReason: "answered 410 Gone",
    });
    const { task } = await publishTask(h, endpoint.id, {
      lane: "retry",
      meta: { attempt: 3, history: [{ n: 3, at: Date.now() - 1000, result: "timeout", ms: 300 }] },
    });

    const { meta } = await waitForOutcome(h, h.names.subjects.outcomeFailed(endpoint.id));
    expect(meta).toMatchObject({
      taskId: task.taskId,
      result: "endpoint_disabled",
      attempt: 3,
      error: "answered 410 Gone",
    });
    expect(meta.history).toHaveLength(2);
    await waitUntilGone(h, h.names.subjects.dispatchRetry(endpoint.id));
    expect(sink.count("/disabled")).toBe(0);
  });

  it("times out a receiver that never answers", async () => {
    const endpoint = await putEndpoint(h, "/hangs", { timeoutMs: 300 });
    sink.script("/hangs", [{ hang: true }]);
    await publishTask(h, endpoint.id);

    const { meta } = await waitForOutcome(h, h.names.subjects.outcomeFailed(endpoint.id));
    expect(meta).toMatchObject({ result: "timeout", attempt: 1 });
    expect(meta.status).toBeUndefined();
    expect(meta.durationMs).toBeGreaterThanOrEqual(250);
    await waitUntilGone(h, h.names.subjects.dispatchFresh(endpoint.id));
  });

  it("reports a connection reset as network_error", async () => {
    const endpoint = await putEndpoint(h, "/resets");
    sink.script("/resets", [{ reset: true }]);
    await publishTask(h, endpoint.id);

    const { meta } = await waitForOutcome(h, h.names.subjects.outcomeFailed(endpoint.id));
    expect(meta).toMatchObject({ result: "network_error", attempt: 1 });
    expect(meta.error).toBeTruthy();
  });

  it("counts the attempt on the retry lane and passes Retry-After on", async () => {
    const endpoint = await putEndpoint(h, "/busy");
    sink.script("/busy", [{ status: 429, retryAfter: "30" }]);
    const history = [{ n: 1, at: Date.now() - 5_000, result: "timeout" as const, ms: 15_000 }];
    await publishTask(h, endpoint.id, { lane: "retry", meta: { attempt: 1, history } });

    const { meta } = await waitForOutcome(h, h.names.subjects.outcomeFailed(endpoint.id));
    expect(meta).toMatchObject({
      result: "http_error",
      status: 429,
      attempt: 2,
      retryAfterMs: 30_000,
    });
    expect(meta.history.map((entry) => entry.n)).toEqual([1, 2]);
    await waitUntilGone(h, h.names.subjects.dispatchRetry(endpoint.id));

    const text = await h.serviceMetrics.registry.metrics();
    const attempts = { lane: "retry", result: "http_error", status_class: "4xx", attempt: "retry" };
    expect(sample(text, "hookline_delivery_attempts_total", attempts)).toBe(1);
    const endToEnd = sample(text, "hookline_delivery_end_to_end_seconds_count", { lane: "fresh" });
    expect(endToEnd).toBeGreaterThan(0);
  });

  it("dead-letters an undecodable task raw as invalid_message and acks it", async () => {
    const subject = h.names.subjects.dispatchFresh(newEndpointId());
    await js.publish(subject, new TextEncoder().encode("not a task"));

    const msg = await waitForMessage(
      h.names.streams.deadletter,
      h.names.subjects.deadletterInvalid,
    );
    expect(msg.header.get(Header.reason)).toBe("invalid_message");
    expect(msg.header.get("Hookline-Original-Subject")).toBe(subject);
    expect(new TextDecoder().decode(msg.data)).toBe("not a task");
    await waitUntilGone(h, subject);
    const text = await h.serviceMetrics.registry.metrics();
    expect(sample(text, "hookline_invalid_messages_total", { consumer: "delivery-fresh" })).toBe(1);
  });
});

describe("a call longer than half the ack wait", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness("dlvshort", 1_000);
  });
  afterAll(async () => {
    await h?.stop();
  });

  it("keeps the task with working() so it is not handed to another worker", async () => {
    const endpoint = await putEndpoint(h, "/slow", { timeoutMs: 10_000 });
    sink.script("/slow", [{ status: 200, delayMs: 2_500 }]);
    await publishTask(h, endpoint.id);

    await waitForOutcome(h, h.names.subjects.outcomeDelivered(endpoint.id));
    await waitUntilGone(h, h.names.subjects.dispatchFresh(endpoint.id));
    expect(sink.count("/slow")).toBe(1);
  });
});

describe("when outcomes cannot be stored", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness("dlvout", defaultProvisionOptions.deliveryAckWaitMs);
  });
  afterAll(async () => {
    await h?.stop();
  });

  it("keeps the task until its outcome is stored, without calling the endpoint again", async () => {
    const endpoint = await putEndpoint(h, "/unrecorded");
    sink.script("/unrecorded", [{ status: 500 }, { status: 500 }]);
    await jsm.streams.delete(h.names.streams.outcomes);
    const { task } = await publishTask(h, endpoint.id);

    await sink.waitFor(1, { path: "/unrecorded" });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    // Still there, and still in flight: the task was not acked without its outcome.
    const dispatch = h.names.subjects.dispatchFresh(endpoint.id);
    expect(await lastMessage(h.names.streams.dispatch, dispatch)).not.toBeNull();
    expect(h.delivery.inFlight().fresh).toBe(1);
    await provision(nc, jsm, h.provisionOptions);

    const { meta } = await waitForOutcome(h, h.names.subjects.outcomeFailed(endpoint.id));
    expect(meta).toMatchObject({ taskId: task.taskId, result: "http_error", attempt: 1 });
    await waitUntilGone(h, dispatch);
    expect(sink.count("/unrecorded")).toBe(1);
  });
});

/** Failed outcomes published for one endpoint from now on, decoded, with their message ids. */
function collectFailedOutcomes(h: Harness, endpointId: string) {
  const seen: { meta: OutcomeMeta; msgId: string | undefined }[] = [];
  const sub = nc.subscribe(h.names.subjects.outcomeFailed(endpointId), {
    callback: (error, msg) => {
      if (error) return;
      const decoded = decodeOutcome(msg.headers);
      if (decoded.ok) seen.push({ meta: decoded.value, msgId: msg.headers?.get(Header.msgId) });
    },
  });
  return { seen, stop: () => sub.unsubscribe() };
}

describe("circuit breaker and rate limit", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness("dlvguard", defaultProvisionOptions.deliveryAckWaitMs);
  });
  afterAll(async () => {
    await h?.stop();
  });

  it("stops calling an endpoint that keeps answering 500; each task spends its attempt", async () => {
    const endpoint = await putEndpoint(h, "/broken");
    sink.setDefault("/broken", { status: 500 });
    const outcomes = collectFailedOutcomes(h, endpoint.id);
    await nc.flush();
    const tasks = 40;
    await Promise.all(Array.from({ length: tasks }, () => publishTask(h, endpoint.id)));

    await pollUntil(async () => outcomes.seen.length >= tasks, {
      timeoutMs: 15_000,
      what: `${tasks} failed outcomes`,
    });
    outcomes.stop();
    // opossum counts a call into its window when the call starts, so it opens on a failure
    // once the window holds the volume threshold (10) and failures outnumber the calls still
    // in flight: by the max(10, slots)-th failure. By then at most slots - 1 other calls have
    // started, slots being the fresh lane's 12.
    const slots = h.delivery.concurrency.fresh;
    const sent = sink.count("/broken");
    expect(sent).toBeGreaterThanOrEqual(testBreaker.volumeThreshold);
    expect(sent).toBeLessThanOrEqual(Math.max(testBreaker.volumeThreshold, slots) + slots - 1);

    const deferred = outcomes.seen.filter((o) => o.meta.result === "circuit_open");
    const failed = outcomes.seen.filter((o) => o.meta.result === "http_error");
    expect(failed).toHaveLength(sent);
    expect(deferred).toHaveLength(tasks - sent);
    for (const { meta, msgId } of deferred) {
      // The attempt counts without a request, and the task follows its schedule.
      expect(meta.attempt).toBe(1);
      expect(meta.deferrals).toBe(0);
      expect(meta.retryAfterMs).toBeUndefined();
      expect(meta.history.at(-1)).toMatchObject({ n: 1, result: "circuit_open" });
      expect(msgId).toMatch(new RegExp(`^${meta.taskId}#1@\\d+$`));
    }

    const text = await h.serviceMetrics.registry.metrics();
    expect(sample(text, "hookline_circuit_breaker_transitions_total", { to: "open" })).toBe(1);
    expect(sample(text, "hookline_circuit_breakers", { state: "open" })).toBe(1);
    const circuitOpen = { lane: "fresh", result: "circuit_open", status_class: "none" };
    expect(sample(text, "hookline_delivery_attempts_total", circuitOpen)).toBe(tasks - sent);

    // Recovered: after the reset timeout one probe goes through and closes the breaker.
    sink.setDefault("/broken", { status: 200 });
    await pollUntil(
      async () => {
        await publishTask(h, endpoint.id);
        await new Promise((resolve) => setTimeout(resolve, 200));
        return sink.deliveries("/broken").some((d) => d.answeredStatus === 200);
      },
      { timeoutMs: 10_000, what: "a probe to reach the recovered endpoint" },
    );
    await waitForOutcome(h, h.names.subjects.outcomeDelivered(endpoint.id));
    const after = await h.serviceMetrics.registry.metrics();
    expect(sample(after, "hookline_circuit_breaker_transitions_total", { to: "closed" })).toBe(1);
    expect(sample(after, "hookline_circuit_breakers", { state: "closed" })).toBe(1);
  });

  it("paces a rate-limited endpoint in delivery: every task sent, none cycled back", async () => {
    const rate = 3;
    const endpoint = await putEndpoint(h, "/limited", { rateLimitPerSecond: rate });
    const outcomes = collectFailedOutcomes(h, endpoint.id);
    const grants: number[] = [];
    const delivered = nc.subscribe(h.names.subjects.outcomeDelivered(endpoint.id), {
      callback: (error, msg) => {
        const decoded = error ? undefined : decodeDeliveredOutcomes(msg);
        // A pass records its start (`at`) in the same tick as it takes the token.
        for (const outcome of decoded?.ok ? decoded.value : []) {
          grants.push(outcome.history.at(-1)?.at ?? 0);
        }
      },
    });
    await nc.flush();
    const tasks = 10;
    await Promise.all(Array.from({ length: tasks }, () => publishTask(h, endpoint.id)));

    const received = await sink.waitFor(tasks, { path: "/limited", timeoutMs: 15_000 });
    await pollUntil(async () => grants.length >= tasks, { timeoutMs: 5_000, what: "outcomes" });
    outcomes.stop();
    delivered.unsubscribe();
    expect(outcomes.seen).toHaveLength(0);
    expect(new Set(received.map((d) => d.webhookId)).size).toBe(tasks);
    // A full bucket grants its burst at once, then one token every 1/rate s: the i-th grant
    // (0-based) comes no sooner than (i + 1 - burst) / rate s after the first (+1 ms of
    // rounding, as `at` is whole milliseconds).
    grants.sort((a, b) => a - b);
    const first = grants[0] ?? 0;
    const burst = burstOf(rate);
    grants.forEach((at, i) => {
      expect(at - first).toBeGreaterThanOrEqual(((i + 1 - burst) / rate) * 1_000 - 1);
    });
    await waitUntilGone(h, h.names.subjects.dispatchFresh(endpoint.id));
  });
});

/** The most requests a path had open at once, from when each arrived and how long it took. */
function peakConcurrency(path: string, answerMs: number): number {
  const edges = sink
    .deliveries(path)
    .flatMap((d) => [
      { at: d.receivedAt, step: 1 },
      { at: d.receivedAt + answerMs, step: -1 },
    ])
    .sort((a, b) => a.at - b.at || a.step - b.step);
  let open = 0;
  let peak = 0;
  for (const edge of edges) {
    open += edge.step;
    peak = Math.max(peak, open);
  }
  return peak;
}

describe("fairness between endpoints", () => {
  let h: Harness;
  const fairness: FairnessLimits = {
    endpointMaxInFlight: 2,
    endpointMaxHeld: 3,
    maxHeld: 100,
    endpointLookupTimeoutMs: 5_000,
  };
  beforeAll(async () => {
    // A short ack_wait: tasks that wait here longer than it must be kept alive, not resent.
    h = await startHarness("dlvfair", 2_000, { fairness });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it("gives a slow endpoint its cap only; the tasks behind it and other endpoints go on", async () => {
    const slowMs = 600;
    const slow = await putEndpoint(h, "/fair-slow");
    sink.setDefault("/fair-slow", { status: 200, delayMs: slowMs });
    const fast = await putEndpoint(h, "/fair-fast");
    const slowTasks = 30;
    await Promise.all(Array.from({ length: slowTasks }, () => publishTask(h, slow.id)));
    await sink.waitFor(2, { path: "/fair-slow" });

    const published: number[] = [];
    for (let i = 0; i < 10; i++) {
      published.push(Date.now());
      await publishTask(h, fast.id);
    }
    const fastDeliveries = await sink.waitFor(10, { path: "/fair-fast", timeoutMs: 5_000 });
    // Sent while 28 slow tasks were still queued ahead of them in the stream.
    expect(sink.count("/fair-slow")).toBeLessThan(slowTasks);
    const lastPublished = published.at(-1) ?? 0;
    for (const delivery of fastDeliveries) {
      expect(delivery.receivedAt - lastPublished).toBeLessThan(1_500);
    }

    const slowDeliveries = await sink.waitFor(slowTasks, {
      path: "/fair-slow",
      timeoutMs: 30_000,
    });
    // Each sent once: tasks that waited past ack_wait were kept alive, not handed out again.
    expect(new Set(slowDeliveries.map((d) => d.webhookId)).size).toBe(slowTasks);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(sink.count("/fair-slow")).toBe(slowTasks);
    expect(peakConcurrency("/fair-slow", slowMs)).toBeLessThanOrEqual(fairness.endpointMaxInFlight);

    // More than cap + held arrived at once: the rest went to the endpoint's own consumer.
    const text = await h.serviceMetrics.registry.metrics();
    expect(sample(text, "hookline_delivery_moved_total", { lane: "fresh" })).toBeGreaterThan(0);
    await waitUntilGone(h, h.names.subjects.dispatchFresh(slow.id));
    await waitUntilGone(h, h.names.subjects.dispatchOverflow(slow.id));
  });
});

describe("a lagging endpoint watch", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness("dlvlag", defaultProvisionOptions.deliveryAckWaitMs, {
      watchDelayMs: 1_500,
    });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it("delivers the first task of a new endpoint instead of calling it missing", async () => {
    const now = new Date().toISOString();
    const record: EndpointRecord = {
      id: newEndpointId(),
      url: sink.url("/lagging"),
      eventTypes: [],
      secrets: [{ value: secretA, createdAt: now }],
      disabled: false,
      createdAt: now,
      updatedAt: now,
    };
    const outcomes = collectFailedOutcomes(h, record.id);
    await h.kv.put(record.id, JSON.stringify(record));
    expect(h.cache.get(record.id)).toBeUndefined();
    const { task } = await publishTask(h, record.id);

    const [delivery] = await sink.waitFor(1, { path: "/lagging", timeoutMs: 10_000 });
    expect(delivery?.webhookId).toBe(task.eventId);
    outcomes.stop();
    expect(outcomes.seen).toHaveLength(0);
  });
});

describe("shutdown with tasks waiting for their endpoint", () => {
  it("gives them back at once, so the next instance sends each exactly once", async () => {
    const fairness: FairnessLimits = {
      endpointMaxInFlight: 1,
      endpointMaxHeld: 50,
      maxHeld: 100,
      endpointLookupTimeoutMs: 5_000,
    };
    const ackWaitMs = defaultProvisionOptions.deliveryAckWaitMs;
    const first = await startHarness("dlvstop", ackWaitMs, { fairness });
    const endpoint = await putEndpoint(first, "/stop-slow");
    sink.setDefault("/stop-slow", { status: 200, delayMs: 500 });
    const tasks = 6;
    await Promise.all(Array.from({ length: tasks }, () => publishTask(first, endpoint.id)));
    await sink.waitFor(1, { path: "/stop-slow" });
    await pollUntil(async () => first.delivery.held() === tasks - 1, {
      timeoutMs: 5_000,
      what: "the other tasks to wait for the endpoint",
    });
    await first.stop();

    const started = Date.now();
    const second = await startHarness("dlvstop", ackWaitMs, { fairness });
    try {
      const received = await sink.waitFor(tasks, { path: "/stop-slow", timeoutMs: 15_000 });
      // Well before ack_wait (30 s): they were nakked, not left to expire.
      expect(Date.now() - started).toBeLessThan(ackWaitMs / 2);
      expect(new Set(received.map((d) => d.webhookId)).size).toBe(tasks);
      await new Promise((resolve) => setTimeout(resolve, 600));
      expect(sink.count("/stop-slow")).toBe(tasks);
    } finally {
      await second.stop();
    }
  });
});

describe("an endpoint deleted while its tasks wait", () => {
  it("sends none of the waiting tasks: each is reported endpoint_missing", async () => {
    const fairness: FairnessLimits = {
      endpointMaxInFlight: 1,
      endpointMaxHeld: 50,
      maxHeld: 100,
      endpointLookupTimeoutMs: 1_000,
    };
    const h = await startHarness("dlvgone", defaultProvisionOptions.deliveryAckWaitMs, {
      fairness,
    });
    try {
      // Fast enough to be delivered: only the deletion may keep the waiting tasks from it.
      const endpoint = await putEndpoint(h, "/gone-held");
      sink.setDefault("/gone-held", { status: 200, delayMs: 800 });
      const outcomes = collectFailedOutcomes(h, endpoint.id);
      const tasks = 6;
      const published = await Promise.all(
        Array.from({ length: tasks }, () =>
          publishTask(h, endpoint.id, { meta: { tenantId: "acme" } }),
        ),
      );
      const [first] = await sink.waitFor(1, { path: "/gone-held" });
      await pollUntil(async () => h.delivery.held() === tasks - 1, {
        timeoutMs: 5_000,
        what: "the other tasks to wait for the endpoint",
      });
      await h.kv.delete(endpoint.id);
      await pollUntil(async () => h.cache.get(endpoint.id) === undefined, {
        timeoutMs: 5_000,
        what: "the cache to drop the endpoint",
      });
      await pollUntil(async () => outcomes.seen.length === tasks - 1, {
        timeoutMs: 10_000,
        what: "an outcome for each waiting task",
      });
      outcomes.stop();
      await new Promise((resolve) => setTimeout(resolve, 900));
      expect(sink.count("/gone-held")).toBe(1);
      const waited = published.filter(({ task }) => task.eventId !== first?.webhookId);
      expect(new Set(outcomes.seen.map(({ meta }) => meta.taskId))).toEqual(
        new Set(waited.map(({ task }) => task.taskId)),
      );
      for (const { meta } of outcomes.seen) {
        expect(meta).toMatchObject({ result: "endpoint_missing", attempt: 0, tenantId: "acme" });
      }
    } finally {
      await h.stop();
    }
  });
});

describe("an endpoint that recovers", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness("dlvheal", defaultProvisionOptions.deliveryAckWaitMs);
  });
  afterAll(async () => {
    await h?.stop();
  });

  it("has its failingSince cleared by the next success", async () => {
    const since = new Date(Date.now() - 3_600_000).toISOString();
    const endpoint = await putEndpoint(h, "/healed", { failingSince: since });
    await publishTask(h, endpoint.id);
    await sink.waitFor(1, { path: "/healed" });
    await pollUntil(async () => h.cache.get(endpoint.id)?.record.failingSince === undefined, {
      timeoutMs: 5_000,
      what: "failingSince to be cleared",
    });
    expect(h.cache.get(endpoint.id)?.record).toMatchObject({ url: endpoint.url, disabled: false });
  });
});
