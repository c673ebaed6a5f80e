import {
  type DeliveryLane,
  deliveryLanes,
  type EndpointRecord,
  type HooklineNames,
  type ProvisionOptions,
} from "@hookline/contracts";
import {
  type EndpointCache,
  type EndpointWriter,
  type Logger,
  type ServiceMetrics,
  watchConsumerBacklog,
} from "@hookline/kit";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { EndpointGuards } from "./guards/endpoint-guards";
import {
  type DeliveryLane as Lane,
  ROOM_WAIT_MS,
  startDeliveryLane,
  type WaitingTask,
} from "./lanes/delivery-lane";
import { createEndpointSlots } from "./lanes/endpoint-slots";
import { laneConcurrency } from "./lanes/lane-concurrency";
import { type Overflow, startOverflow } from "./lanes/overflow";
import { createSuccessRecords } from "./lanes/success-records";
import { createTaskRunner } from "./lanes/task-runner";
import { createWriteCoalescer } from "./lanes/write-coalescer";
import { type DeliveryMetrics, laneRecorder } from "./metrics";
import type { EndpointCredentials } from "./signing/endpoint-credentials";

export interface FairnessLimits {
  /** DELIVERY_ENDPOINT_MAX_IN_FLIGHT: an endpoint's tasks sent at once, unless it overrides. */
  endpointMaxInFlight: number;
  /** DELIVERY_ENDPOINT_MAX_HELD: an endpoint's tasks waiting here before more are moved. */
  endpointMaxHeld: number;
  /** DELIVERY_MAX_HELD: tasks of all endpoints waiting here before more are moved. */
  maxHeld: number;
  /** DELIVERY_ENDPOINT_LOOKUP_TIMEOUT: how long a task waits for an endpoint the cache lacks. */
  endpointLookupTimeoutMs: number;
}

export const defaultFairnessLimits: FairnessLimits = {
  endpointMaxInFlight: 64,
  endpointMaxHeld: 1_000,
  maxHeld: 2_000,
  endpointLookupTimeoutMs: 5_000,
};

export interface DeliveryOptions {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  names: HooklineNames;
  /** The stream settings, for the per-endpoint overflow consumers. */
  provision: ProvisionOptions;
  endpoints: Pick<EndpointCache, "lookup">;
  /** Writes endpoint records (compare-and-set): clears `failingSince` after a success. */
  endpointWriter: EndpointWriter;
  /** Rate limits and circuit breakers around the HTTP client's send. */
  guards: EndpointGuards;
  /** Opens sealed secrets and header values (HOOKLINE_ENCRYPTION_KEYS); default: plain only. */
  credentials?: EndpointCredentials | undefined;
  serviceMetrics: ServiceMetrics;
  metrics: DeliveryMetrics;
  logger: Logger;
  /** DELIVERY_MAX_IN_FLIGHT, split between the lanes. */
  maxInFlight: number;
  /** DELIVERY_RETRY_SHARE: the retry lane's part of maxInFlight. */
  retryShare: number;
  /** ack_wait of the delivery consumers (provision's deliveryAckWaitMs). */
  ackWaitMs: number;
  fairness?: FairnessLimits;
  /** How often overflow consumers are discovered and retired (tests shorten it). */
  overflowSweepMs?: number;
}

export interface RunningDelivery {
  concurrency: Record<DeliveryLane, number>;
  inFlight(): Record<DeliveryLane, number>;
  /** Tasks waiting in this instance for their endpoint's turn or a lane slot. */
  held(): number;
  /** Endpoints whose overflow consumer this instance reads. */
  overflowing(): string[];
  /** Stops pulling, gives waiting tasks back and waits for the tasks in flight to finish. */
  stop(): Promise<void>;
}

/**
 * Starts the fresh and retry lanes. Each has its own share of slots, so retries and replays
 * never take the slots of new traffic; within both, no endpoint sends more than its cap at once,
 * and its further tasks wait without holding a slot, or are moved to its own consumer.
 */
export function startDelivery(options: DeliveryOptions): RunningDelivery {
  const { names, logger, metrics } = options;
  const fairness = options.fairness ?? defaultFairnessLimits;
  const successRecords = createSuccessRecords({ nc: options.nc, names, logger });
  const writes = createWriteCoalescer(
    (error) =>
      logger.warn({ err: error }, "ack or audit publish failed; the task may be redelivered"),
    { afterWrites: successRecords.publish },
  );
  const concurrency = laneConcurrency(options.maxInFlight, options.retryShare);
  const consumers: Record<DeliveryLane, { stream: string; consumer: string }> = {
    fresh: { stream: names.streams.dispatch, consumer: names.consumers.deliveryFresh },
    retry: { stream: names.streams.dispatchRetry, consumer: names.consumers.deliveryRetry },
  };
  const slots = createEndpointSlots<WaitingTask>({
    maxHeldPerEndpoint: fairness.endpointMaxHeld,
    maxHeld: fairness.maxHeld,
    // An endpoint that empties its full queue within the wait is not moved: see ROOM_WAIT_MS.
    drainMs: ROOM_WAIT_MS,
    start: (waiting) => waiting.resume(),
  });
  const capOf = (endpoint: EndpointRecord) => endpoint.maxInFlight ?? fairness.endpointMaxInFlight;

  // One write per endpoint at a time; the next success after it tries again if it failed.
  const recovering = new Set<string>();
  const recovered = (endpoint: EndpointRecord) => {
    if (recovering.has(endpoint.id)) return;
    recovering.add(endpoint.id);
    void options.endpointWriter
      .write(endpoint.id, (record) => {
        if (record.failingSince === undefined) return undefined;
        const { failingSince: _over, ...rest } = record;
        return rest;
      })
      .catch((error: unknown) =>
        logger.debug({ err: error, endpointId: endpoint.id }, "cannot clear failingSince"),
      )
      .finally(() => recovering.delete(endpoint.id));
  };

  let overflow: Overflow | undefined;
  let stopping = false;
  const startLane = (lane: DeliveryLane): Lane => {
    const record = laneRecorder(metrics, lane);
    record.inFlight(0);
    const runner = createTaskRunner(
      {
        ...options,
        writes,
        successRecords,
        endpointLookupTimeoutMs: fairness.endpointLookupTimeoutMs,
        stopping: () => stopping,
      },
      lane,
      record,
    );
    return startDeliveryLane({
      js: options.js,
      ...consumers[lane],
      concurrency: concurrency[lane],
      runner,
      slots,
      capOf,
      breakerOpen: (endpointId) => options.guards.stateOf(endpointId) === "open",
      recovered,
      move: async (msg, task, endpoint) => {
        record.moved();
        await overflow?.move(msg, task, capOf(endpoint), lane === "fresh" ? "f" : "r");
      },
      logger,
      onActiveChange: record.inFlight,
    });
  };
  const lanes: Record<DeliveryLane, Lane> = {
    fresh: startLane("fresh"),
    retry: startLane("retry"),
  };
  overflow = startOverflow({
    js: options.js,
    jsm: options.jsm,
    provision: options.provision,
    take: (msg) => lanes.retry.take(msg),
    logger,
    sweepIntervalMs: options.overflowSweepMs,
  });

  // Waiting tasks stay ours on the server: ack_wait is renewed well before it runs out.
  const heldGauge = metrics.heldTasks;
  const keepAlive = setInterval(
    () => {
      for (const waiting of slots.held()) waiting.msg.working();
      for (const lane of deliveryLanes) {
        for (const waiting of lanes[lane].waiting()) waiting.msg.working();
      }
      heldGauge.set(slots.heldCount());
    },
    Math.max(100, Math.floor(options.ackWaitMs / 3)),
  );
  keepAlive.unref();

  const stopBacklog = watchConsumerBacklog({
    jsm: options.jsm,
    metrics: options.serviceMetrics,
    consumers: deliveryLanes.map((lane) => consumers[lane]),
    // Every service watches every stream's usage: kit's watchStreamUsage says why.
    streams: Object.values(names.streams),
    logger,
  });
  logger.info({ concurrency, fairness }, "delivery lanes started");
  return {
    concurrency,
    inFlight: () => ({ fresh: lanes.fresh.active(), retry: lanes.retry.active() }),
    held: () => slots.heldCount(),
    overflowing: () => overflow?.consuming() ?? [],
    async stop() {
      stopping = true;
      stopBacklog();
      // No pull of ours may be left open when tasks go back, or the server hands them to it.
      await Promise.all([
        overflow?.stop(),
        ...deliveryLanes.map((lane) => lanes[lane].stopPulling()),
      ]);
      // Tasks waiting for their endpoint go back to the server at once, for another instance.
      for (const waiting of slots.takeAllHeld()) waiting.msg.nak();
      await Promise.all(deliveryLanes.map((lane) => lanes[lane].stop()));
      clearInterval(keepAlive);
      slots.close();
      heldGauge.set(0);
      await writes.flushed();
    },
  };
}
