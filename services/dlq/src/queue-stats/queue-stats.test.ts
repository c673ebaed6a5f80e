import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  defaultProvisionOptions,
  hooklineNames,
  kvStreamName,
  overflowConsumerConfig,
  provision,
} from "@hookline/contracts";
import {
  createLogger,
  type EndpointCache,
  HOOKLINE_NATS_USERS,
  natsInboxPrefix,
  natsPasswordVariable,
  natsUsersConfig,
  startEndpointCache,
} from "@hookline/kit";
import { type NatsServerHandle, pollUntil, startNatsServer } from "@hookline/testkit";
import {
  AckPolicy,
  type ConsumerMessages,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
} from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { endpointId, putEndpoint } from "../testing/letters";
import { type ConsumerStats, createQueueStatsReader, type QueueStats } from "./queue-stats";

const names = hooklineNames("qstats");
const logger = createLogger({ service: "dlq", level: "silent", pretty: false });
/** The reader's clock: ages are this minus the messages' stream timestamps, exactly. */
const NOW = Date.parse("2030-01-01T00:00:00.000Z");
const DLQ_PASSWORD = "dlq-test-password";
const ACME = [endpointId(1), endpointId(3)];
const OTHER = endpointId(2);
/** Queued but unknown to the registry (deleted, say). */
const UNKNOWN = endpointId(9);

let nats: NatsServerHandle;
let configDir: string;
let admin: NatsConnection;
let dlqUser: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;
let kv: KV;
let cache: EndpointCache;
let waitingPull: ConsumerMessages;

/**
 * The users file the deployment runs (natsUsersConfig), so the reader works with exactly the
 * dlq user's permissions; plus an admin without limits that sets the scene.
 */
async function startNatsWithUsers(): Promise<NatsServerHandle> {
  configDir = await mkdtemp(join(tmpdir(), "qstats-"));
  const config = natsUsersConfig(names).replace(
    "  users = [\n",
    "  users = [\n    { user: admin, password: admin }\n",
  );
  const configFile = join(configDir, "users.conf");
  await writeFile(configFile, config);
  return startNatsServer({
    configFile,
    env: Object.fromEntries(
      HOOKLINE_NATS_USERS.map((user) => [
        natsPasswordVariable(user),
        user === "dlq" ? DLQ_PASSWORD : `${user}-unused`,
      ]),
    ),
  });
}

async function publish(subject: string, times = 1): Promise<void> {
  for (let i = 0; i < times; i++) await js.publish(subject, `task ${i}`);
}

async function fetch(stream: string, consumer: string, count: number) {
  const messages = await (await js.consumers.get(stream, consumer)).fetch({
    max_messages: count,
    expires: 5_000,
  });
  const fetched = [];
  for await (const message of messages) fetched.push(message);
  return fetched;
}

/** The stored message's timestamp as the reader reports it, and its age at NOW. */
async function stamp(stream: string, seq: number) {
  const message = await jsm.streams.getMessage(stream, { seq });
  if (message === null) throw new Error(`no message ${seq} on ${stream}`);
  return {
    oldestWaitingSeq: seq,
    oldestWaitingAt: message.time.toISOString(),
    oldestWaitingAgeMs: NOW - message.time.getTime(),
  };
}

const nothingWaits = { oldestWaitingSeq: null, oldestWaitingAt: null, oldestWaitingAgeMs: null };

beforeAll(async () => {
  nats = await startNatsWithUsers();
  admin = await connect({ servers: nats.url, user: "admin", pass: "admin" });
  dlqUser = await connect({
    servers: nats.url,
    user: "dlq",
    pass: DLQ_PASSWORD,
    inboxPrefix: natsInboxPrefix(names.prefix, "dlq"),
  });
  jsm = await jetstreamManager(admin);
  js = jetstream(admin);
  ({ endpoints: kv } = await provision(admin, jsm, { ...defaultProvisionOptions, names }));
  for (const id of ACME) await putEndpoint(kv, id, "acme");
  await putEndpoint(kv, OTHER, "other");
  cache = await startEndpointCache(kv, logger);
  await cache.ready;
  await cache.waitForRevision(3);

  // Two retry tiers, as the classifier's provision step makes them.
  for (const tier of ["5s", "1m"]) {
    await jsm.consumers.add(names.streams.retry, {
      durable_name: names.consumers.retryTier(tier),
      filter_subject: names.subjects.retryTierAll(tier),
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
    });
  }
  const overflow = overflowConsumerConfig({ ...defaultProvisionOptions, names }, OTHER, 10);
  await jsm.consumers.add(overflow.stream, overflow.config);

  // DISPATCH: seqs 1-5 endpoint 1, 6-7 endpoint 2, 8 endpoint 3, 9 unknown.
  await publish(names.subjects.dispatchFresh(endpointId(1)), 5);
  await publish(names.subjects.dispatchFresh(OTHER), 2);
  await publish(names.subjects.dispatchFresh(endpointId(3)));
  await publish(names.subjects.dispatchFresh(UNKNOWN));
  // delivery-fresh takes 1-3, acks 1, naks 2 and takes it again: 2 and 3 await their ack.
  const [first, second] = await fetch(names.streams.dispatch, names.consumers.deliveryFresh, 3);
  await first?.ackAck();
  second?.nak();
  await admin.flush();
  const again = await fetch(names.streams.dispatch, names.consumers.deliveryFresh, 1);
  expect(again.map((message) => message.seq)).toEqual([2]);

  await publish(names.subjects.dispatchRetry(endpointId(1)), 2);
  await publish(names.subjects.dispatchOverflow(OTHER), 3);

  // RETRY, interleaved: seq 1 1m/2, 2 5s/1, 3 1m/3, 4 5s/1, 5-7 1m/3.
  await publish(names.subjects.retry("1m", OTHER));
  await publish(names.subjects.retry("5s", endpointId(1)));
  await publish(names.subjects.retry("1m", endpointId(3)));
  await publish(names.subjects.retry("5s", endpointId(1)));
  await publish(names.subjects.retry("1m", endpointId(3)), 3);
  // The 5s tier's first retry is released and acked: its ack floor is 2, and the oldest it
  // still holds is 4, found past seq 3 (another tier's) by next_by_subj.
  const [released] = await fetch(names.streams.retry, names.consumers.retryTier("5s"), 1);
  expect(released?.seq).toBe(2);
  await released?.ackAck();

  // dlq-attempts has no filter subject: its oldest is found with next_by_subj ">".
  await publish(names.subjects.outcomeDelivered(endpointId(1)), 2);

  // A pull waiting on the empty dead-letter stream.
  const store = await js.consumers.get(names.streams.deadletter, names.consumers.dlqStore);
  waitingPull = await store.fetch({ max_messages: 1, expires: 60_000 });
  void (async () => {
    for await (const _ of waitingPull);
  })();
  await pollUntil(
    async () =>
      (await jsm.consumers.info(names.streams.deadletter, names.consumers.dlqStore)).num_waiting ===
      1,
    { timeoutMs: 10_000, what: "one waiting pull on dlq-store" },
  );
}, 60_000);

afterAll(async () => {
  waitingPull?.stop();
  cache?.stop();
  await dlqUser?.close();
  await admin?.close();
  await nats?.stop();
  if (configDir !== undefined) await rm(configDir, { recursive: true, force: true });
});

async function readAs(tenantId?: string): Promise<QueueStats> {
  const reader = createQueueStatsReader({
    jsm: await jetstreamManager(dlqUser),
    names,
    endpoints: cache,
    now: () => NOW,
  });
  const read = await reader.read({ tenantId });
  if (read.outcome !== "ok") throw read.error;
  return read.stats;
}

const consumerNamed = (stats: QueueStats, name: string): ConsumerStats | undefined =>
  stats.consumers?.find((consumer) => consumer.name === name);

describe("queue stats, every tenant (as the dlq's NATS user)", () => {
  let stats: QueueStats;
  beforeAll(async () => {
    stats = await readAs();
  });

  it("answers each stream's messages, bytes, sequences and times from its info", async () => {
    expect(stats.generatedAt).toBe(new Date(NOW).toISOString());
    expect(stats.tenantId).toBeNull();
    const streamNames = [...Object.values(names.streams), kvStreamName(names.kv.endpoints)];
    expect(stats.streams?.map((stream) => stream.name)).toEqual(streamNames);

    const dispatch = stats.streams?.find((stream) => stream.name === names.streams.dispatch);
    const info = await jsm.streams.info(names.streams.dispatch);
    // Seq 1 was acked, so the work queue removed it.
    expect(dispatch).toEqual({
      name: names.streams.dispatch,
      messages: 8,
      bytes: info.state.bytes,
      firstSeq: 2,
      firstAt: (await stamp(names.streams.dispatch, 2)).oldestWaitingAt,
      lastSeq: 9,
      lastAt: (await stamp(names.streams.dispatch, 9)).oldestWaitingAt,
      consumers: 1,
    });
    expect(dispatch?.bytes).toBeGreaterThan(0);
    const deadletter = stats.streams?.find((stream) => stream.name === names.streams.deadletter);
    expect(deadletter).toMatchObject({ messages: 0, bytes: 0, firstAt: null, lastAt: null });
    const registry = stats.streams?.find(
      (stream) => stream.name === kvStreamName(names.kv.endpoints),
    );
    expect(registry?.messages).toBe(3);
  });

  it("lists every durable consumer (no ephemeral ones) with its pending figures", () => {
    expect(stats.consumers?.map((consumer) => consumer.name).sort()).toEqual(
      [
        names.consumers.deliveryFresh,
        names.consumers.deliveryRetry,
        names.consumers.deliveryOverflow(OTHER),
        names.consumers.retryTier("5s"),
        names.consumers.retryTier("1m"),
        names.consumers.classifier,
        names.consumers.dlqAttempts,
        names.consumers.dlqStore,
        names.consumers.classifierPoison,
        names.consumers.ingestOps,
      ].sort(),
    );
    // The endpoint cache's watch is an ephemeral consumer on the registry's stream.
    const registry = stats.streams?.find(
      (stream) => stream.name === kvStreamName(names.kv.endpoints),
    );
    expect(registry?.consumers).toBeGreaterThan(0);
  });

  it("gives a consumer's pending figures and its oldest unacked message", async () => {
    expect(consumerNamed(stats, names.consumers.deliveryFresh)).toEqual({
      stream: names.streams.dispatch,
      name: names.consumers.deliveryFresh,
      filterSubject: names.subjects.dispatchFreshAll,
      pending: 6,
      ackPending: 2,
      redelivered: 1,
      waitingPulls: 0,
      ackFloor: 1,
      ...(await stamp(names.streams.dispatch, 2)),
    });
    expect(consumerNamed(stats, names.consumers.retryTier("5s"))).toMatchObject({
      pending: 1,
      ackPending: 0,
      ackFloor: 2,
      ...(await stamp(names.streams.retry, 4)),
    });
    expect(consumerNamed(stats, names.consumers.retryTier("1m"))).toMatchObject({
      pending: 5,
      ackPending: 0,
      ackFloor: 0,
      ...(await stamp(names.streams.retry, 1)),
    });
    expect(consumerNamed(stats, names.consumers.dlqAttempts)).toMatchObject({
      filterSubject: null,
      pending: 2,
      ...(await stamp(names.streams.attempts, 1)),
    });
    expect(consumerNamed(stats, names.consumers.deliveryOverflow(OTHER))).toMatchObject({
      pending: 3,
      // Seqs 1-2 are the endpoint 1's released retries, not this consumer's.
      ...(await stamp(names.streams.dispatchRetry, 3)),
    });
    expect(consumerNamed(stats, names.consumers.dlqStore)).toEqual({
      stream: names.streams.deadletter,
      name: names.consumers.dlqStore,
      filterSubject: names.subjects.deadletterAll,
      pending: 0,
      ackPending: 0,
      redelivered: 0,
      waitingPulls: 1,
      ackFloor: 0,
      ...nothingWaits,
    });
  });

  it("gives each retry tier's messages, waiting count and oldest, shortest first", async () => {
    expect(stats.retryTiers).toEqual([
      {
        tier: "5s",
        consumer: "retry-5s",
        messages: 1,
        waiting: 1,
        oldestWaitingAt: (await stamp(names.streams.retry, 4)).oldestWaitingAt,
        oldestWaitingAgeMs: (await stamp(names.streams.retry, 4)).oldestWaitingAgeMs,
      },
      {
        tier: "1m",
        consumer: "retry-1m",
        messages: 5,
        waiting: 5,
        oldestWaitingAt: (await stamp(names.streams.retry, 1)).oldestWaitingAt,
        oldestWaitingAgeMs: (await stamp(names.streams.retry, 1)).oldestWaitingAgeMs,
      },
    ]);
  });

  it("ranks the endpoints by backlog over the task streams' subjects, with the split", () => {
    expect(stats.topBacklogs).toEqual([
      {
        endpointId: endpointId(1),
        tenantId: "acme",
        // fresh 2-5 (1 was acked), two released retries, one 5s retry
        total: 7,
        fresh: 4,
        retry: 2,
        overflow: 0,
        delayed: 1,
        delayedByTier: { "5s": 1 },
      },
      {
        endpointId: OTHER,
        tenantId: "other",
        total: 6,
        fresh: 2,
        retry: 0,
        overflow: 3,
        delayed: 1,
        delayedByTier: { "1m": 1 },
      },
      {
        endpointId: endpointId(3),
        tenantId: "acme",
        total: 5,
        fresh: 1,
        retry: 0,
        overflow: 0,
        delayed: 4,
        delayedByTier: { "1m": 4 },
      },
      {
        endpointId: UNKNOWN,
        tenantId: null,
        total: 1,
        fresh: 1,
        retry: 0,
        overflow: 0,
        delayed: 0,
        delayedByTier: {},
      },
    ]);
  });
});

describe("queue stats for one tenant", () => {
  it("holds its endpoints' backlogs and tier messages only, no stream or consumer", async () => {
    const stats = await readAs("acme");
    expect(stats).toEqual({
      generatedAt: new Date(NOW).toISOString(),
      tenantId: "acme",
      retryTiers: [
        { tier: "5s", consumer: "retry-5s", messages: 1 },
        { tier: "1m", consumer: "retry-1m", messages: 4 },
      ],
      topBacklogs: [
        expect.objectContaining({ endpointId: endpointId(1), total: 7 }),
        expect.objectContaining({ endpointId: endpointId(3), total: 5 }),
      ],
    });
    const none = await readAs("nobody");
    expect(none.topBacklogs).toEqual([]);
    expect(none.retryTiers.map((tier) => tier.messages)).toEqual([0, 0]);
  });
});

describe("queue stats without NATS", () => {
  it("is unavailable, not an error thrown", async () => {
    const closed = await connect({ servers: nats.url, user: "admin", pass: "admin" });
    const closedJsm = await jetstreamManager(closed);
    await closed.close();
    const reader = createQueueStatsReader({ jsm: closedJsm, names, endpoints: cache });
    expect(await reader.read({})).toMatchObject({ outcome: "unavailable", dependency: "nats" });
  });
});
