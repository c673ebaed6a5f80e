import type { JetStreamManager } from "@nats-io/jetstream";
import type { Logger } from "pino";
import type { ServiceMetrics } from "./metrics";

const POLL_INTERVAL_MS = 10_000;
const discardPolicies = ["new", "old"] as const;

/** Runs `poll` now and every `intervalMs`, never two at once; the returned function stops it. */
function pollEvery(poll: () => Promise<void>, intervalMs: number): () => void {
  let running = false;
  const tick = async () => {
    if (running) return;
    running = true;
    try {
      await poll();
    } finally {
      running = false;
    }
  };
  void tick();
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * Polls consumer info so pending and ack-pending gauges show backlogs; stop() ends it. With
 * `streams`, it watches their usage too (watchStreamUsage) and stop() ends both.
 */
export function watchConsumerBacklog(options: {
  jsm: JetStreamManager;
  metrics: ServiceMetrics;
  consumers: { stream: string; consumer: string }[];
  streams?: readonly string[];
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
  const stopConsumers = pollEvery(poll, options.intervalMs ?? POLL_INTERVAL_MS);
  const stopStreams =
    options.streams === undefined
      ? undefined
      : watchStreamUsage({ ...options, streams: options.streams });
  return () => {
    stopConsumers();
    stopStreams?.();
  };
}

/**
 * Polls stream info so the usage gauges show how full each stream is: bytes and messages held,
 * and the stream's limits with its `discard` policy, which says what happens at the limit: "new"
 * refuses writes (the task streams: ingest answers 503, other writers retry), "old" evicts the
 * oldest messages (the audit trail of successes, advisories), which is by design. A limit of -1
 * (none) exports no max series, so "used / limit" has no series for it.
 * HooklineStreamNearlyFull fires at 80 % of a "new" stream's limit.
 *
 * Every service watches every Hookline stream (`Object.values(names.streams)`), not only those it
 * reads or writes: a stream fills exactly when its reader is down (delivery for DISPATCH, the
 * classifier for OUTCOMES, dlq for DEADLETTER), so no one service can be the only watcher. Stream
 * info is the same from any instance; the alert and the dashboard take max by (stream). It costs
 * one small request per stream every 10 s per instance.
 */
export function watchStreamUsage(options: {
  jsm: JetStreamManager;
  metrics: ServiceMetrics;
  streams: readonly string[];
  logger: Logger;
  intervalMs?: number;
}): () => void {
  const { metrics } = options;
  const setLimit = (
    gauge: ServiceMetrics["streamMaxBytes"],
    stream: string,
    discard: string,
    limit: number,
  ) => {
    // One series per stream: a changed policy or a lifted limit replaces or removes it.
    for (const other of discardPolicies) gauge.remove({ stream, discard: other });
    if (limit > 0) gauge.set({ stream, discard }, limit);
  };
  const poll = async () => {
    for (const stream of options.streams) {
      try {
        const { state, config } = await options.jsm.streams.info(stream);
        metrics.streamBytes.set({ stream }, state.bytes);
        metrics.streamMessages.set({ stream }, state.messages);
        const discard = config.discard === "new" ? "new" : "old";
        setLimit(metrics.streamMaxBytes, stream, discard, config.max_bytes);
        setLimit(metrics.streamMaxMessages, stream, discard, config.max_msgs);
      } catch (error) {
        options.logger.debug({ err: error, stream }, "stream info unavailable");
      }
    }
  };
  return pollEvery(poll, options.intervalMs ?? POLL_INTERVAL_MS);
}
