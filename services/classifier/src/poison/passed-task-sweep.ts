import type { HooklineNames } from "@hookline/contracts";
import type { Logger } from "@hookline/kit";
import type { JetStreamManager, MsgRequest } from "@nats-io/jetstream";
import type { PoisonTask } from "./poison-handler";

export interface PassedTaskSweepOptions {
  jsm: JetStreamManager;
  names: HooklineNames;
  /** Dead-letters a poison task and deletes it (the advisory handler's own step). */
  settle: (poison: PoisonTask) => Promise<void>;
  logger: Logger;
  intervalMs?: number;
  /** Tasks settled per sweep at most, so one sweep never runs long. */
  maxPerSweep?: number;
}

export interface PassedTaskSweep {
  /** One pass over every delivery consumer; resolves to the tasks it settled. */
  sweepOnce(): Promise<number>;
  stop(): void;
}

/**
 * Cleans up what a crash leaves behind. A dispatch stream is a work queue: an acked task is
 * removed. One its consumer has passed without an ack (max_deliver reached) stays for good, and
 * normally its MAX_DELIVERIES advisory has the classifier dead-letter it as poison. An advisory
 * can be missed (the server emits it only while a pull is waiting, and a crash can lose it), so
 * this sweep looks for tasks each consumer has passed and settles them the same way. While a
 * consumer is busy it may have to wait for a quiet moment (see `floor`); it never takes a task
 * still in flight.
 */
export function startPassedTaskSweep(options: PassedTaskSweepOptions): PassedTaskSweep {
  const { jsm, names, logger } = options;
  const maxPerSweep = options.maxPerSweep ?? 1_000;

  const sweepOnce = async (): Promise<number> => {
    let settled = 0;
    for (const stream of [names.streams.dispatch, names.streams.dispatchRetry]) {
      const firstSeq = (await jsm.streams.info(stream)).state.first_seq;
      for await (const consumer of jsm.consumers.list(stream)) {
        const filter = consumer.config.filter_subject;
        // Passed: below the ack floor, or, with nothing awaiting an ack, anything delivered.
        // (2.9 leaves the ack floor below a task that reached max_deliver; later servers move
        // it past.) Tasks in flight or held by delivery are awaiting an ack, so never taken.
        const floor = Math.max(
          consumer.ack_floor.stream_seq,
          consumer.num_ack_pending === 0 ? consumer.delivered.stream_seq : 0,
        );
        if (!filter || floor < firstSeq) continue;
        for (let seq = firstSeq; settled < maxPerSweep; ) {
          // STREAM.MSG.GET takes next_by_subj (the server since 2.9); nats.js types it only
          // for direct gets.
          const next = { seq, next_by_subj: filter } as unknown as MsgRequest;
          const passed = await jsm.streams.getMessage(stream, next);
          if (passed === null || passed.seq > floor) break;
          await options.settle({
            stream,
            consumer: consumer.name,
            stream_seq: passed.seq,
            deliveries: consumer.config.max_deliver ?? 0,
          });
          settled++;
          seq = passed.seq + 1;
        }
      }
    }
    if (settled > 0) logger.warn({ settled }, "passed tasks without an advisory dead-lettered");
    return settled;
  };

  let running: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    running = sweepOnce().catch((error: unknown) =>
      logger.debug({ err: error }, "passed-task sweep failed; next time"),
    );
  }, options.intervalMs ?? 60_000);
  timer.unref();

  return {
    sweepOnce: () => {
      running = running.then(sweepOnce, sweepOnce);
      return running as Promise<number>;
    },
    stop: () => clearInterval(timer),
  };
}
