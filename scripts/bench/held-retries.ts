// The held-retries scenario: a large number of tasks waiting in a retry tier, written straight
// into HOOKLINE_RETRY as the classifier writes them (a task after its first failed attempt, due
// at one moment), then released by the classifier and delivered. It records every service's RSS
// and nats-server's storage before, while held, while released and after, and the release rate.
import { encodeTask, hooklineNames, type TaskMeta, taskIdFor } from "@hookline/contracts";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import type { Hookline } from "./hookline";
import type { BenchChild } from "./processes";
import type { ReceiverReport } from "./protocol";

export interface HeldRetriesOptions {
  hookline: Hookline;
  receiver: BenchChild;
  receiverOrigin: string;
  count: number;
  endpoints: number;
  /** The tier they wait in, and how long after the last one is written they come due. */
  tier: string;
  dueAfterMs: number;
  drainTimeoutMs: number;
}

export interface HeldRetriesResult {
  count: number;
  endpoints: number;
  tier: string;
  writeSeconds: number;
  rssMb: {
    before: Record<string, number>;
    held: Record<string, number>;
    peak: Record<string, number>;
    after: Record<string, number>;
  };
  storageMb: { before: number; held: number; after: number };
  /** Tasks that left the tier per second, from the first release until the tier was empty. */
  releasedPerSecond: number;
  /** Delivered per second from the moment they were due until the last one arrived. */
  deliveredPerSecond: number;
  delivered: number;
  lost: number;
  duplicates: number;
}

const FLUSH_EVERY = 5_000;

export async function heldRetries(options: HeldRetriesOptions): Promise<HeldRetriesResult> {
  const { hookline, receiver } = options;
  const names = hooklineNames(hookline.prefix);
  const endpointIds = await hookline.createEndpoints(
    Array.from({ length: options.endpoints }, (_, i) => ({
      url: `${options.receiverOrigin}/hook/held-${i}`,
      eventTypes: [`bench.held-${i}`],
    })),
  );
  const run = `held-${Date.now().toString(36)}-`;
  await receiver.ask({ type: "reset", run }, "reset-done");
  const nc = await connect({ servers: hookline.nats.url });
  const jsm = await jetstreamManager(nc);
  const heldInTier = async () => (await jsm.streams.info(names.streams.retry)).state.messages;

  const rssBefore = hookline.rss();
  const storageBefore = await hookline.storageMb();
  const writeStarted = Date.now();
  // Everything comes due at one moment, well after the last write.
  const estimatedWriteMs = Math.max(5_000, options.count / 15);
  const notBefore = writeStarted + estimatedWriteMs + options.dueAfterMs;
  const pad = "x".repeat(100);
  // Core publishes, flushed every few thousand: the stream stores them without a PubAck each,
  // and the count in the stream is checked afterwards, so a refused write cannot go unnoticed.
  for (let n = 0; n < options.count; n++) {
    const endpointId = endpointIds[n % endpointIds.length] ?? "";
    const eventId = `${run}${n}`;
    const task: TaskMeta = {
      taskId: taskIdFor(eventId, endpointId),
      eventId,
      eventType: `bench.held-${n % endpointIds.length}`,
      endpointId,
      attempt: 1,
      deferrals: 0,
      createdAt: writeStarted,
      deadline: writeStarted + 24 * 3_600_000,
      notBefore,
      history: [{ n: 1, at: writeStarted, result: "http_error", status: 500, ms: 1 }],
    };
    const body = `{"type":"${task.eventType}","timestamp":"${new Date(writeStarted).toISOString()}","data":{"sentAt":${notBefore},"pad":"${pad}"}}`;
    nc.publish(names.subjects.retry(options.tier, endpointId), body, {
      headers: encodeTask(task, `${task.taskId}#1@bench`),
    });
    if (n % FLUSH_EVERY === FLUSH_EVERY - 1) await nc.flush();
  }
  await nc.flush();
  for (let tries = 0; (await heldInTier()) < options.count; tries++) {
    if (tries > 50) {
      throw new Error(`held retries: the tier holds ${await heldInTier()} of ${options.count}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const writeSeconds = (Date.now() - writeStarted) / 1_000;
  if (Date.now() > notBefore) {
    console.warn("held retries: writing took longer than estimated; some came due early");
  }

  // Held: give the tier consumer a moment to settle on its head, then look.
  await new Promise((resolve) => setTimeout(resolve, Math.min(5_000, options.dueAfterMs / 2)));
  const rssHeld = hookline.rss();
  const storageHeld = await hookline.storageMb();
  const peak = { ...rssHeld };

  await new Promise((resolve) => setTimeout(resolve, Math.max(0, notBefore - Date.now())));
  let firstReleaseAt = 0;
  let tierEmptyAt = 0;
  let received: ReceiverReport | undefined;
  const giveUpAt = Date.now() + options.drainTimeoutMs;
  for (;;) {
    const held = await heldInTier();
    if (firstReleaseAt === 0 && held < options.count) firstReleaseAt = Date.now();
    if (tierEmptyAt === 0 && held === 0) tierEmptyAt = Date.now();
    for (const [name, mb] of Object.entries(hookline.rss())) {
      peak[name] = Math.max(peak[name] ?? 0, mb);
    }
    received = await receiver.ask<ReceiverReport>({ type: "report" }, "report");
    if (received.unique >= options.count || Date.now() > giveUpAt) break;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
  // Let acks and deletions settle before looking at the storage again.
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  const result: HeldRetriesResult = {
    count: options.count,
    endpoints: options.endpoints,
    tier: options.tier,
    writeSeconds,
    rssMb: { before: rssBefore, held: rssHeld, peak, after: hookline.rss() },
    storageMb: { before: storageBefore, held: storageHeld, after: await hookline.storageMb() },
    releasedPerSecond:
      options.count / (((tierEmptyAt || Date.now()) - (firstReleaseAt || notBefore)) / 1_000),
    deliveredPerSecond: received.unique / ((received.lastAt - notBefore) / 1_000),
    delivered: received.unique,
    lost: options.count - received.unique,
    duplicates: received.duplicates,
  };
  await nc.drain();
  return result;
}
