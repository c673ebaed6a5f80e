import type { ConsumerMessages, JetStreamClient, JsMsg } from "@nats-io/jetstream";
import type { Logger } from "pino";

export interface ConsumerPumpOptions {
  js: JetStreamClient;
  stream: string;
  consumer: string;
  /** At most this many handlers run at once; also the prefetch, since ack_wait starts on pull. */
  concurrency: number;
  handle: (msg: JsMsg) => Promise<void>;
  logger: Logger;
  onInFlightChange?: (inFlight: number) => void;
}

export interface ConsumerPump {
  /** Stops pulling, then waits for handlers in flight to finish. */
  stop(): Promise<void>;
  inFlight(): number;
}

const RESTART_DELAY_MS = 1_000;
/** A handler that throws hit a bug or an outage: the message comes back after this. */
const FAILED_HANDLER_NAK_MS = 2_000;

/**
 * Pulls from a durable consumer and runs handlers with bounded concurrency. If the pull loop
 * ends unexpectedly (consumer recreated, NATS restarted) it starts again.
 */
export function startConsumerPump(options: ConsumerPumpOptions): ConsumerPump {
  const { js, stream, consumer, concurrency, logger } = options;
  let stopping = false;
  let messages: ConsumerMessages | undefined;
  let inFlight = 0;
  let slotFreed: (() => void) | undefined;
  let drained: (() => void) | undefined;

  const changed = () => options.onInFlightChange?.(inFlight);
  const release = () => {
    inFlight--;
    changed();
    slotFreed?.();
    slotFreed = undefined;
    if (inFlight === 0) drained?.();
  };
  const waitForSlot = () =>
    inFlight < concurrency
      ? Promise.resolve()
      : new Promise<void>((resolve) => (slotFreed = resolve));

  const run = async (msg: JsMsg) => {
    try {
      await options.handle(msg);
    } catch (error) {
      logger.error(
        { err: error, stream, consumer, seq: msg.seq },
        "handler failed; message will be redelivered",
      );
      msg.nak(FAILED_HANDLER_NAK_MS);
    } finally {
      release();
    }
  };

  const loop = (async () => {
    while (!stopping) {
      try {
        const source = await js.consumers.get(stream, consumer);
        messages = await source.consume({ max_messages: concurrency });
        // stop() may have run while consume() was starting, before `messages` existed.
        if (stopping) messages.stop();
        for await (const msg of messages) {
          await waitForSlot();
          inFlight++;
          changed();
          void run(msg);
          if (stopping) break;
        }
      } catch (error) {
        if (!stopping)
          logger.warn({ err: error, stream, consumer }, "consumer loop failed; restarting");
      }
      if (!stopping) await new Promise((resolve) => setTimeout(resolve, RESTART_DELAY_MS));
    }
  })();

  return {
    inFlight: () => inFlight,
    async stop() {
      stopping = true;
      messages?.stop();
      await loop;
      if (inFlight > 0) await new Promise<void>((resolve) => (drained = resolve));
    },
  };
}
