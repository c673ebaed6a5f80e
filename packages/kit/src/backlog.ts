import type { JetStreamManager } from "@nats-io/jetstream";
import type { Logger } from "pino";
import type { ServiceMetrics } from "./metrics";

/** Polls consumer info so pending and ack-pending gauges show backlogs; stop() ends it. */
export function watchConsumerBacklog(options: {
  jsm: JetStreamManager;
  metrics: ServiceMetrics;
  consumers: { stream: string; consumer: string }[];
  logger: Logger;
  intervalMs?: number;
}): () => void {
  const poll = async () => {
    for (const { stream, consumer } of options.consumers) {
      try {
        const info = await options.jsm.consumers.info(stream, consumer);
        options.metrics.consumerPending.set({ stream, consumer }, info.num_pending);
        options.metrics.consumerAckPending.set({ stream, consumer }, info.num_ack_pending);
      } catch (error) {
        options.logger.debug({ err: error, stream, consumer }, "consumer info unavailable");
      }
    }
  };
  void poll();
  const timer = setInterval(poll, options.intervalMs ?? 10_000);
  timer.unref();
  return () => clearInterval(timer);
}
