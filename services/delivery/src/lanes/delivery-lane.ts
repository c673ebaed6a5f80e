import type { EndpointRecord, TaskMeta } from "@hookline/contracts";
import type { Logger } from "@hookline/kit";
import type { Consumer, JetStreamClient, JsMsg } from "@nats-io/jetstream";
import type { EndpointSlots } from "./endpoint-slots";
import type { TaskRunner } from "./task-runner";

/** A decoded task waiting for its endpoint's turn or for a lane slot. */
export interface WaitingTask {
  msg: JsMsg;
  task: TaskMeta;
  endpoint: EndpointRecord;
  /** Called once the task's endpoint slot is taken for it. */
  resume(): void;
}

/**
 * A class rather than an object literal with a closure: tsx and the build keep function names,
 * which wraps every closure made per task in a defineProperty call.
 */
class Waiting implements WaitingTask {
  constructor(
    readonly msg: JsMsg,
    readonly task: TaskMeta,
    readonly endpoint: EndpointRecord,
    private readonly onResume: (waiting: WaitingTask) => void,
  ) {}

  resume(): void {
    this.onResume(this);
  }
}

export interface DeliveryLaneOptions {
  js: JetStreamClient;
  stream: string;
  consumer: string;
  /** Tasks this lane works on at once (sending, or deciding where a task goes). */
  concurrency: number;
  runner: TaskRunner;
  /** Shared by both lanes: an endpoint's cap counts all of its tasks in this instance. */
  slots: EndpointSlots<WaitingTask>;
  /** The endpoint's in-flight cap: its own override, else DELIVERY_ENDPOINT_MAX_IN_FLIGHT. */
  capOf(endpoint: EndpointRecord): number;
  /** Whether the endpoint's breaker is open: its tasks spend their attempt without waiting. */
  breakerOpen(endpointId: string): boolean;
  /** A task was delivered to an endpoint marked as failing: its run of failures is over. */
  recovered(endpoint: EndpointRecord): void;
  /** Moves a task its endpoint can't take now out of the lane's way; acks or naks the msg. */
  move(msg: JsMsg, task: TaskMeta, endpoint: EndpointRecord): Promise<void>;
  logger: Logger;
  onActiveChange?: (active: number) => void;
}

export interface DeliveryLane {
  /**
   * Takes a message pulled elsewhere (a busy endpoint's own consumer). It is never moved again:
   * it waits here for its endpoint, bounded by that consumer's max_ack_pending.
   */
  take(msg: JsMsg): void;
  /** Tasks waiting for a lane slot, for keeping them alive on the server. */
  waiting(): readonly WaitingTask[];
  active(): number;
  /** Stops pulling; resolves once the last pull has expired, so none can take more tasks. */
  stopPulling(): Promise<void>;
  /** Gives waiting tasks back to the server and waits for the running ones (after stopPulling). */
  stop(): Promise<void>;
}

const RESTART_DELAY_MS = 1_000;
/**
 * How long one pull waits on an empty stream before it is renewed. Shutdown waits for the last
 * pull to expire rather than abandon it: the server would go on handing an abandoned pull the
 * very tasks given back, into an inbox nobody reads, until their ack_wait ran out.
 */
const PULL_EXPIRES_MS = 2_000;
/**
 * How long a task of a fast-draining endpoint waits for room (keeping its lane slot) before it
 * is moved after all: bounds what the endpoint's backlog can delay the tasks behind it.
 */
export const ROOM_WAIT_MS = 1_000;
/** A handler that throws hit a bug or an outage: the message comes back after this. */
const FAILED_HANDLER_NAK_MS = 2_000;

/**
 * One lane: pulls exactly as many tasks as it has free slots (so no pulled task sits unattended
 * while its ack_wait runs), then for each: decode, find the endpoint, and either send now, wait
 * for the endpoint's turn (without holding a lane slot), or move it off the lane when the
 * endpoint already has as many waiting as it may.
 */
export function startDeliveryLane(options: DeliveryLaneOptions): DeliveryLane {
  const { runner, slots, logger } = options;
  let stopping = false;
  let active = 0;
  const ready: WaitingTask[] = [];
  /** Tasks that arrived after stop began. */
  const late: JsMsg[] = [];
  let capacityFreed: (() => void) | undefined;
  let drained: (() => void) | undefined;

  const changed = () => options.onActiveChange?.(active);
  const release = () => {
    const next = ready.shift();
    if (next) {
      void sendAfterWait(next); // the slot passes straight on
      return;
    }
    active--;
    changed();
    capacityFreed?.();
    capacityFreed = undefined;
    if (active === 0) drained?.();
  };

  const failed = (msg: JsMsg, error: unknown) => {
    logger.error(
      { err: error, stream: options.stream, consumer: options.consumer, seq: msg.seq },
      "task handling failed; it will be redelivered",
    );
    msg.nak(FAILED_HANDLER_NAK_MS);
  };

  /** Runs with a lane slot and the endpoint's slot held; gives both back. */
  const send = async (waiting: WaitingTask, endpoint = waiting.endpoint) => {
    const { msg, task } = waiting;
    try {
      const summary = await runner.attempt(msg, task, endpoint);
      if (summary.result === "rate_limited") {
        if (stopping) {
          // Shutting down: another instance sends it once a token is due.
          slots.done(endpoint.id);
          msg.nak();
          return;
        }
        // Paced here, never cycled through the classifier: wait for the token and resend.
        slots.pause(endpoint.id, summary.retryAfterMs ?? 1, waiting);
        return;
      }
      slots.done(endpoint.id);
      if (summary.result === "delivered" && endpoint.failingSince !== undefined) {
        options.recovered(endpoint);
      }
      await runner.record(msg, task, summary);
    } catch (error) {
      slots.done(endpoint.id);
      failed(msg, error);
    } finally {
      release();
    }
  };

  /**
   * send() for a task that waited: its endpoint may have been deleted (its tenant too), disabled
   * or changed meanwhile, and a task queued before a deletion must not go out after it. The
   * lookup is the cache's, so this costs a map read unless the endpoint is gone.
   */
  const sendAfterWait = async (waiting: WaitingTask) => {
    const { msg, task } = waiting;
    let current: EndpointRecord | undefined;
    try {
      current = await runner.lookup(task);
    } catch (error) {
      slots.done(waiting.endpoint.id);
      failed(msg, error);
      release();
      return;
    }
    const settled = runner.withoutRequest(current);
    if (settled === undefined && current !== undefined) return send(waiting, current);
    slots.done(waiting.endpoint.id);
    try {
      if (settled !== undefined) await runner.record(msg, task, settled);
    } catch (error) {
      failed(msg, error);
    } finally {
      release();
    }
  };

  /** A waiting task whose endpoint slot is now taken: send it when the lane has a slot. */
  const resume = (waiting: WaitingTask) => {
    if (stopping || active >= options.concurrency) {
      ready.push(waiting);
      return;
    }
    active++;
    changed();
    void sendAfterWait(waiting);
  };

  /** Runs with a lane slot held; gives it back unless the task goes on to send. */
  const handle = async (msg: JsMsg, movable: boolean) => {
    let sending = false;
    try {
      const task = await runner.decode(msg);
      if (!task) return;
      const endpoint = await runner.lookup(task);
      const settled = runner.withoutRequest(endpoint);
      if (settled !== undefined) {
        await runner.record(msg, task, settled);
        return;
      }
      if (endpoint === undefined) throw new Error("withoutRequest settles a missing endpoint");
      const waiting = new Waiting(msg, task, endpoint, resume);
      if (options.breakerOpen(endpoint.id)) {
        // The attempt comes due now and counts without a request; nothing to wait for. (Had
        // the breaker just half-opened, the probe went out; a rate-limited one waits below.)
        const summary = await runner.attempt(msg, task, endpoint);
        if (summary.result !== "rate_limited") {
          await runner.record(msg, task, summary);
          return;
        }
      }
      switch (slots.admit(endpoint.id, options.capOf(endpoint), waiting, movable)) {
        case "run":
          sending = true;
          await send(waiting);
          return;
        case "held":
          return;
        case "wait":
          // The lane slot is kept while waiting, so the lane pulls no faster than the endpoint
          // drains; only when it slows down is the task moved.
          switch (await slots.room(endpoint.id, waiting, ROOM_WAIT_MS)) {
            case "held":
            case "taken": // shutdown gives it back
              return;
            case "timeout":
              await options.move(msg, task, endpoint);
              return;
          }
          return;
        case "full":
          await options.move(msg, task, endpoint);
          return;
      }
    } catch (error) {
      failed(msg, error);
    } finally {
      if (!sending) release();
    }
  };

  const loop = (async () => {
    let consumer: Consumer | undefined;
    while (!stopping) {
      try {
        consumer ??= await options.js.consumers.get(options.stream, options.consumer);
        const free = options.concurrency - active - ready.length;
        if (free <= 0) {
          await new Promise<void>((resolve) => (capacityFreed = resolve));
          continue;
        }
        const batch = await consumer.fetch({ max_messages: free, expires: PULL_EXPIRES_MS });
        for await (const msg of batch) {
          if (stopping) {
            // Given back once no pull of ours is left for the server to hand it to.
            late.push(msg);
            continue;
          }
          active++;
          changed();
          void handle(msg, true);
        }
      } catch (error) {
        consumer = undefined;
        if (!stopping) {
          logger.warn(
            { err: error, stream: options.stream, consumer: options.consumer },
            "pull failed; retrying",
          );
          await new Promise((resolve) => setTimeout(resolve, RESTART_DELAY_MS));
        }
      }
    }
  })();

  return {
    take(msg) {
      if (stopping) {
        late.push(msg);
        return;
      }
      // Bounded by the busy endpoint's consumer, not by the lane: it may briefly exceed it.
      active++;
      changed();
      void handle(msg, false);
    },
    waiting: () => ready,
    active: () => active,
    async stopPulling() {
      stopping = true;
      capacityFreed?.();
      await loop;
    },
    async stop() {
      await this.stopPulling();
      // Given back at once, so another instance can take them now instead of after ack_wait.
      for (const msg of late.splice(0)) msg.nak();
      for (const waiting of ready.splice(0)) {
        slots.done(waiting.endpoint.id);
        waiting.msg.nak();
      }
      if (active > 0) await new Promise<void>((resolve) => (drained = resolve));
    },
  };
}
