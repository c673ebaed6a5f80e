import { type DeliveryLane, deliveryLanes, type HooklineNames } from "@hookline/contracts";
import {
  type ConsumerPump,
  type EndpointCache,
  type Logger,
  type ServiceMetrics,
  startConsumerPump,
  watchConsumerBacklog,
} from "@hookline/kit";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { EndpointGuards } from "./guards/endpoint-guards";
import { laneConcurrency } from "./lanes/lane-concurrency";
import { createTaskHandler } from "./lanes/task-handler";
import { createWriteCoalescer } from "./lanes/write-coalescer";
import { type DeliveryMetrics, laneRecorder } from "./metrics";

export interface DeliveryOptions {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  names: HooklineNames;
  endpoints: Pick<EndpointCache, "get">;
  /** Rate limits and circuit breakers around the HTTP client's send. */
  guards: EndpointGuards;
  serviceMetrics: ServiceMetrics;
  metrics: DeliveryMetrics;
  logger: Logger;
  /** DELIVERY_MAX_IN_FLIGHT, split between the lanes. */
  maxInFlight: number;
  /** DELIVERY_RETRY_SHARE: the retry lane's part of maxInFlight. */
  retryShare: number;
  /** ack_wait of the delivery consumers (provision's deliveryAckWaitMs). */
  ackWaitMs: number;
}

export interface RunningDelivery {
  concurrency: Record<DeliveryLane, number>;
  inFlight(): Record<DeliveryLane, number>;
  /** Stops pulling on both lanes and waits for the tasks in flight to finish. */
  stop(): Promise<void>;
}

/** Starts the fresh and retry lanes, each a consumer pump with its own share of slots. */
export function startDelivery(options: DeliveryOptions): RunningDelivery {
  const { names, logger, metrics } = options;
  const writes = createWriteCoalescer((error) =>
    logger.warn({ err: error }, "ack or audit publish failed; the task may be redelivered"),
  );
  const concurrency = laneConcurrency(options.maxInFlight, options.retryShare);
  const consumers: Record<DeliveryLane, string> = {
    fresh: names.consumers.deliveryFresh,
    retry: names.consumers.deliveryRetry,
  };
  const startLane = (lane: DeliveryLane): ConsumerPump => {
    const record = laneRecorder(metrics, lane);
    record.inFlight(0);
    return startConsumerPump({
      js: options.js,
      stream: names.streams.dispatch,
      consumer: consumers[lane],
      concurrency: concurrency[lane],
      handle: createTaskHandler({ ...options, writes }, lane, record),
      logger,
      onInFlightChange: record.inFlight,
    });
  };
  const pumps: Record<DeliveryLane, ConsumerPump> = {
    fresh: startLane("fresh"),
    retry: startLane("retry"),
  };
  const stopBacklog = watchConsumerBacklog({
    jsm: options.jsm,
    metrics: options.serviceMetrics,
    consumers: deliveryLanes.map((lane) => ({
      stream: names.streams.dispatch,
      consumer: consumers[lane],
    })),
    // Every service watches every stream's usage: kit's watchStreamUsage says why.
    streams: Object.values(names.streams),
    logger,
  });
  logger.info({ concurrency }, "delivery lanes started");
  return {
    concurrency,
    inFlight: () => ({ fresh: pumps.fresh.inFlight(), retry: pumps.retry.inFlight() }),
    async stop() {
      stopBacklog();
      await Promise.all(deliveryLanes.map((lane) => pumps[lane].stop()));
      await writes.flushed();
    },
  };
}
