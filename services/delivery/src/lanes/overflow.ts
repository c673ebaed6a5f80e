import {
  encodeTask,
  ensureConsumer,
  type HooklineNames,
  isBacklogFull,
  overflowConsumerConfig,
  type ProvisionOptions,
  type TaskMeta,
} from "@hookline/contracts";
import { type Logger, publishTaskDeadLetter } from "@hookline/kit";
import {
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from "@nats-io/jetstream";

/**
 * Per-endpoint consumers for busy endpoints.
 *
 * A lane pulls tasks in stream order. When one endpoint has more tasks than it may send and
 * hold, the rest are moved to `dispatch.overflow.<ep>`, which only that endpoint's durable
 * consumer reads. Its max_ack_pending is the endpoint's in-flight cap, so the server hands out
 * no more than that across every delivery instance, and the lanes go on with other endpoints.
 * Instances find each other's overflow consumers by listing them, delete them once drained and
 * idle, and recreate any whose subject still holds messages (a delete that raced a move).
 */
export interface Overflow {
  /** Stores the task on its endpoint's overflow subject, then acks it (or naks on failure). */
  move(msg: JsMsg, task: TaskMeta, cap: number, lane: "f" | "r"): Promise<void>;
  /** Endpoints whose overflow this instance consumes now. */
  consuming(): string[];
  stop(): Promise<void>;
}

export interface OverflowOptions {
  js: JetStreamClient;
  jsm: JetStreamManager;
  provision: ProvisionOptions;
  /** Hands a pulled overflow task to the retry lane, where it waits for its endpoint. */
  take(msg: JsMsg): void;
  logger: Logger;
  /** How often consumers are discovered, retired and repaired. */
  sweepIntervalMs?: number;
  /** A drained overflow consumer is deleted after this long idle. */
  idleMs?: number;
}

/** When the overflow subject can't be written (NATS down, stream full), the task comes back. */
export const MOVE_FAILED_NAK_MS = 5_000;
/** Short, because stop() waits for the last pull to expire (see delivery-lane). */
const PULL_EXPIRES_MS = 2_000;
const RESTART_DELAY_MS = 1_000;

function isNotFound(error: unknown): boolean {
  return (
    error instanceof JetStreamApiError &&
    (error.code === JetStreamApiCodes.ConsumerNotFound ||
      error.code === JetStreamApiCodes.StreamNotFound)
  );
}

export function startOverflow(options: OverflowOptions): Overflow {
  const { js, jsm, logger } = options;
  const names: HooklineNames = options.provision.names;
  const stream = names.streams.dispatchRetry;
  const prefix = names.consumers.deliveryOverflow("");
  const subjectPrefix = names.subjects.dispatchOverflow("");
  let stopped = false;
  /** Endpoint id → its running pull loop. */
  const loops = new Map<string, { stop(): void; done: Promise<void>; lastTaskAt: number }>();
  const idleSince = new Map<string, number>();
  /** Consumers this instance has made sure of; forgotten when their loop ends. */
  const ensured = new Map<string, Promise<void>>();

  const ensure = (endpointId: string, cap: number): Promise<void> => {
    let ready = ensured.get(endpointId);
    if (!ready) {
      const { config } = overflowConsumerConfig(options.provision, endpointId, cap);
      ready = ensureConsumer(jsm, stream, config);
      ready.catch(() => ensured.delete(endpointId));
      ensured.set(endpointId, ready);
    }
    return ready;
  };

  const startLoop = (endpointId: string, cap: number) => {
    if (stopped || loops.has(endpointId)) return;
    let stopping = false;
    const entry = {
      lastTaskAt: Date.now(),
      stop() {
        stopping = true;
      },
      done: Promise.resolve(),
    };
    entry.done = (async () => {
      const durable = names.consumers.deliveryOverflow(endpointId);
      while (!stopping && !stopped) {
        try {
          const consumer = await js.consumers.get(stream, durable);
          const batch = await consumer.fetch({ max_messages: cap, expires: PULL_EXPIRES_MS });
          for await (const msg of batch) {
            entry.lastTaskAt = Date.now();
            options.take(msg);
          }
        } catch (error) {
          if (isNotFound(error)) break; // retired by some instance; the sweep repairs if needed
          if (!stopping && !stopped) {
            logger.warn({ err: error, endpointId }, "overflow pull failed; retrying");
            await new Promise((resolve) => setTimeout(resolve, RESTART_DELAY_MS));
          }
        }
      }
      loops.delete(endpointId);
      ensured.delete(endpointId);
    })();
    loops.set(endpointId, entry);
  };

  const sweep = async () => {
    const present = new Set<string>();
    const idleMs = options.idleMs ?? 30_000;
    for await (const info of jsm.consumers.list(stream)) {
      if (!info.name.startsWith(prefix)) continue;
      const endpointId = info.name.slice(prefix.length);
      present.add(endpointId);
      const cap = info.config.max_ack_pending ?? 1;
      if (info.num_pending > 0 || info.num_ack_pending > 0) {
        idleSince.delete(endpointId);
        startLoop(endpointId, cap);
        continue;
      }
      const since = idleSince.get(endpointId) ?? Date.now();
      idleSince.set(endpointId, since);
      const lastTaskAt = loops.get(endpointId)?.lastTaskAt ?? 0;
      if (Date.now() - Math.max(since, lastTaskAt) < idleMs) {
        startLoop(endpointId, cap);
        continue;
      }
      // Drained and idle: retire it. A move racing this leaves a message the repair below
      // (on this or another instance) finds on the next sweep.
      loops.get(endpointId)?.stop();
      idleSince.delete(endpointId);
      await jsm.consumers.delete(stream, info.name).catch(() => undefined);
    }
    const state = (await jsm.streams.info(stream, { subjects_filter: `${subjectPrefix}>` })).state;
    for (const [subject, count] of Object.entries(state.subjects ?? {})) {
      const endpointId = subject.slice(subjectPrefix.length);
      if (count === 0 || present.has(endpointId)) continue;
      logger.info({ endpointId, waiting: count }, "overflow tasks without a consumer; repairing");
      await ensure(endpointId, 1);
      startLoop(endpointId, 1);
    }
  };

  let sweeping: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    sweeping = sweep().catch((error: unknown) =>
      logger.debug({ err: error }, "overflow sweep failed; next time"),
    );
  }, options.sweepIntervalMs ?? 5_000);
  timer.unref();

  return {
    async move(msg, task, cap, lane) {
      // The source's lane and sequence keep ids unique per message and stable on redelivery.
      const source = `${lane}${msg.seq}`;
      try {
        await ensure(task.endpointId, cap);
        try {
          await js.publish(names.subjects.dispatchOverflow(task.endpointId), msg.data, {
            headers: encodeTask(task, `${task.taskId}#moved${task.attempt}@${source}`),
          });
        } catch (error) {
          if (!isBacklogFull(error)) throw error;
          // Its own consumer already holds the endpoint's whole quota: nothing is lost and
          // nothing else waits if this one is dead-lettered.
          await publishTaskDeadLetter({
            js,
            names,
            task,
            body: msg.data,
            reason: "backlog_full",
            msgId: `${task.taskId}#backlog@${source}`,
          });
        }
      } catch (error) {
        logger.warn(
          { err: error, taskId: task.taskId, endpointId: task.endpointId },
          "cannot move a task off a busy endpoint's way; it will come back",
        );
        msg.nak(MOVE_FAILED_NAK_MS);
        return;
      }
      msg.ack();
      startLoop(task.endpointId, cap);
    },
    consuming: () => [...loops.keys()],
    async stop() {
      stopped = true;
      clearInterval(timer);
      await sweeping;
      for (const loop of loops.values()) loop.stop();
      await Promise.all([...loops.values()].map((loop) => loop.done));
    },
  };
}
