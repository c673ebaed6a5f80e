// The held-retries scenario: a large number of tasks waiting in a retry tier, written straight
// into HOOKLINE_RETRY as the classifier writes them (a task after its first failed attempt, due
// at one moment), then released by the classifier and delivered. It records every service's RSS
// and nats-server's storage before, while held, while released and after, and the release rate.
import { encodeTask, hooklineNames, type TaskMeta, taskIdFor } from "@hookline/contracts";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import type { Hookline } from "./hookline";
import { type BenchChild, startCpuWindow } from "./processes";
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
  /** Retries still in the tier when the last was written; less than count if some came due early. */
  heldAfterWrite: number;
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
  /** From the moment they were due until the last was delivered. */
  cpuMsPerEvent: Record<string, number>;
  boxCpuPercent: number;
  lost: number;
  duplicates: number;
}

const WRITE_WINDOW = 5_000;
const POLL_MS = 250;

/** A generous guess (4,000 writes/s; this box does 10–15,000): all must be written when due. */
export function estimatedWriteMsFor(count: number): number {
  return Math.max(5_000, count / 4);
}

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
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const heldInTier = async () => (await jsm.streams.info(names.streams.retry)).state.messages;

  const rssBefore = hookline.rss();
  const storageBefore = await hookline.storageMb();
  const writeStarted = Date.now();
  // Everything comes due at one moment, well after the last write.
  const estimatedWriteMs = estimatedWriteMsFor(options.count);
  const notBefore = writeStarted + estimatedWriteMs + options.dueAfterMs;
  const pad = "x".repeat(100);
  // Up to WRITE_WINDOW PubAcks outstanding: a refused write fails the run (core publishes, tried
  // first, were dropped silently by nats-server 2.9.10 at this rate). The count is checked too.
  const pending = new Set<Promise<unknown>>();
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
    const stored = js.publish(names.subjects.retry(options.tier, endpointId), body, {
      headers: encodeTask(task, `${task.taskId}#1@bench`),
    });
    pending.add(stored);
    void stored.finally(() => pending.delete(stored));
    if (pending.size >= WRITE_WINDOW) await Promise.race(pending);
  }
  await Promise.all(pending);
  const heldAfterWrite = await heldInTier();
  const writeSeconds = (Date.now() - writeStarted) / 1_000;
  if (heldAfterWrite < options.count) {
    console.warn(
      `held retries: writing took longer than estimated; ${options.count - heldAfterWrite} came due early`,
    );
  }

  // Held: give the tier consumer a moment to settle on its head, then look.
  await new Promise((resolve) => setTimeout(resolve, Math.min(5_000, options.dueAfterMs / 2)));
  const rssHeld = hookline.rss();
  const storageHeld = await hookline.storageMb();
  const peak = { ...rssHeld };

  await new Promise((resolve) => setTimeout(resolve, Math.max(0, notBefore - Date.now())));
  const cpuWindow = startCpuWindow({ ...hookline.pids(), receiver: receiver.pid });
  let tierEmptyAt = 0;
  let received: ReceiverReport | undefined;
  const giveUpAt = Date.now() + options.drainTimeoutMs;
  for (;;) {
    const held = await heldInTier();
    if (tierEmptyAt === 0 && held === 0) tierEmptyAt = Date.now();
    for (const [name, mb] of Object.entries(hookline.rss())) {
      peak[name] = Math.max(peak[name] ?? 0, mb);
    }
    received = await receiver.ask<ReceiverReport>({ type: "report" }, "report");
    if (process.env.BENCH_DEBUG_MEMORY) {
      for (const name of ["classifier", "delivery"]) {
        const text = await (await fetch(`${hookline.stack.url(name)}/metrics`)).text();
        const pick = (metric: string) =>
          Math.round(
            Number(new RegExp(`^${metric}(?:\\{[^}]*\\})? (\\S+)`, "m").exec(text)?.[1]) / 1e6,
          );
        console.log(
          `${name}: rss ${pick("process_resident_memory_bytes")} heapTotal ${pick("nodejs_heap_size_total_bytes")} heapUsed ${pick("nodejs_heap_size_used_bytes")} external ${pick("nodejs_external_memory_bytes")}`,
        );
      }
    }
    if (received.unique >= options.count || Date.now() > giveUpAt) break;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  const cpu = cpuWindow();
  // Let acks and deletions settle before looking at the storage again.
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  const result: HeldRetriesResult = {
    count: options.count,
    endpoints: options.endpoints,
    tier: options.tier,
    writeSeconds,
    heldAfterWrite,
    rssMb: { before: rssBefore, held: rssHeld, peak, after: hookline.rss() },
    storageMb: { before: storageBefore, held: storageHeld, after: await hookline.storageMb() },
    // From when they came due until the tier was seen empty (polled every POLL_MS).
    releasedPerSecond: options.count / (((tierEmptyAt || Date.now()) - notBefore) / 1_000),
    deliveredPerSecond: received.unique / ((received.lastAt - notBefore) / 1_000),
    delivered: received.unique,
    cpuMsPerEvent: Object.fromEntries(
      Object.entries(cpu.seconds).map(([name, sec]) => [
        name,
        (sec * 1_000) / Math.max(1, received?.unique ?? 0),
      ]),
    ),
    boxCpuPercent: cpu.boxPercent,
    lost: options.count - received.unique,
    duplicates: received.duplicates,
  };
  await nc.drain();
  return result;
}
