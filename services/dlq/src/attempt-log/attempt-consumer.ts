import { createOutageWarning, type Logger, type ServiceMetrics } from "@hookline/kit";
import type { Consumer, ConsumerMessages, JetStreamClient, JsMsg } from "@nats-io/jetstream";
import type { Kysely } from "kysely";
import { isDatabaseOutage } from "../db/outage";
import type { Database, NewAttemptRow } from "../db/schema";
import type { DlqMetrics } from "../metrics";
import { type EventBody, writeAttempts } from "./attempt-writer";
import { dayOf, type PartitionKeeper } from "./partitions";
import { type LoggedRecord, readRecordMessage } from "./record-reader";
import { createSignal } from "./signal";

export interface AttemptConsumerOptions {
  js: JetStreamClient;
  stream: string;
  /** The durable `dlq-attempts`. */
  consumer: string;
  db: Kysely<Database>;
  partitions: PartitionKeeper;
  /** ATTEMPT_LOG_BODIES: store each event's body (from its first attempt's record). */
  bodies: boolean;
  /** ATTEMPT_LOG_BATCH: rows per statement at most, and records per pull. */
  batchSize: number;
  metrics: DlqMetrics;
  serviceMetrics: ServiceMetrics;
  logger: Logger;
  /** How long a batch that is not full waits for more records before it is written. */
  lingerMs?: number;
  /** A failed batch is tried again after this, doubling up to maxRetryDelayMs. */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
}

export interface AttemptConsumer {
  /**
   * Stops pulling (the last pull runs out, within a second), writes what it holds (or, if that
   * fails, gives it back to JetStream at once), then resolves.
   */
  stop(): Promise<void>;
}

interface Held {
  msg: JsMsg;
  record: LoggedRecord;
  arrivedAt: number;
}

const DEFAULT_LINGER_MS = 100;
const DEFAULT_RETRY_DELAY_MS = 250;
const DEFAULT_MAX_RETRY_DELAY_MS = 5_000;
/**
 * A pull waits this long for records (nats.js's least). stop() lets the last one run out rather
 * than end it: the server would go on sending to a pull it still holds (records given back
 * included), and those would come back only after ack_wait.
 */
const FETCH_EXPIRES_MS = 1_000;
/** A pull that has not ended this long after stop() (NATS away) is ended from here. */
const FETCH_GRACE_MS = FETCH_EXPIRES_MS + 2_000;
const PULL_RETRY_DELAY_MS = 1_000;
/** Held records are marked in progress this often (the consumer's ack_wait is 60 s). */
const KEEP_ALIVE_MS = 20_000;
/** A write failing for another reason than an outage (a bug) is logged this often. */
const FAILURE_LOG_INTERVAL_MS = 10_000;

/**
 * Pulls ATTEMPTS records, writes them to Postgres a batch (one statement) at a time, then acks
 * them; nothing on the send path waits for it. Pulling and writing overlap: the next batch
 * gathers while one is written, up to a batch more, and then pulling waits. A batch is written
 * when full or `lingerMs` after its first record arrived.
 *
 * A write that fails keeps its records unacked and is tried again with backoff (they stay
 * JetStream's until written), so an outage of Postgres loses nothing and catches up after. A
 * record that cannot be read is counted, logged and acked: it is a copy, the task is elsewhere.
 */
export function startAttemptConsumer(options: AttemptConsumerOptions): AttemptConsumer {
  const { db, partitions, metrics, logger, batchSize } = options;
  const lingerMs = options.lingerMs ?? DEFAULT_LINGER_MS;
  const retryDelayMs = options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS;
  const maxRetryDelayMs = options.maxRetryDelayMs ?? DEFAULT_MAX_RETRY_DELAY_MS;
  const warnOutage = createOutageWarning(logger);
  let failureLoggedAt = Number.NEGATIVE_INFINITY;
  const warnPull = createOutageWarning(logger);
  const warnInvalid = createOutageWarning(logger);
  const invalidMessages = options.serviceMetrics.invalidMessages.labels({
    consumer: options.consumer,
  });
  const skippedInvalid = metrics.attemptsSkipped.labels({ reason: "invalid" });
  const skippedExpired = metrics.attemptsSkipped.labels({ reason: "expired" });

  let pending: Held[] = [];
  let stopping = false;
  let pullDone = false;
  let failing = false;
  let fetching: ConsumerMessages | undefined;
  /** Wakes the writer: a first record, a full batch, or the pulls are over. */
  const toWriter = createSignal();
  /** Wakes the puller: room for more, or stopping. */
  const toPuller = createSignal();

  const accept = (msg: JsMsg) => {
    const read = readRecordMessage(msg);
    if (!read.ok) {
      skippedInvalid.inc();
      invalidMessages.inc();
      warnInvalid(
        new Error(read.error),
        `an attempt record cannot be read; acked without a row (seq ${msg.seq})`,
      );
      try {
        msg.ack();
      } catch (error) {
        warnPull(error, "cannot ack attempt records; JetStream will deliver them again");
      }
      return;
    }
    pending.push({ msg, record: read.record, arrivedAt: Date.now() });
    if (pending.length === 1 || pending.length === batchSize) toWriter.notify();
  };

  const pull = async () => {
    let source: Consumer | undefined;
    while (!stopping) {
      if (pending.length >= batchSize) {
        await toPuller.wait();
        continue;
      }
      try {
        source ??= await options.js.consumers.get(options.stream, options.consumer);
        if (stopping) break;
        const messages = await source.fetch({
          max_messages: batchSize,
          expires: FETCH_EXPIRES_MS,
        });
        fetching = messages;
        for await (const msg of messages) accept(msg);
      } catch (error) {
        source = undefined;
        if (stopping) break;
        warnPull(error, "pulling attempt records failed; trying again");
        await toPuller.wait(PULL_RETRY_DELAY_MS);
      } finally {
        fetching = undefined;
      }
    }
    pullDone = true;
    toWriter.notify();
  };

  const write = async () => {
    for (;;) {
      const first = pending[0];
      if (first === undefined) {
        if (pullDone) return;
        await toWriter.wait();
        continue;
      }
      if (pending.length < batchSize && !pullDone) {
        const wait = first.arrivedAt + lingerMs - Date.now();
        if (wait > 0) {
          await toWriter.wait(wait);
          continue;
        }
      }
      const batch = pending.length <= batchSize ? pending : pending.slice(0, batchSize);
      pending = pending.length <= batchSize ? [] : pending.slice(batchSize);
      toPuller.notify();
      await writeUntilDone(batch);
    }
  };

  /** Writes a batch and acks it, trying again until it is written or the consumer stops. */
  const writeUntilDone = async (batch: Held[]) => {
    let failures = 0;
    let keptAliveAt = Date.now();
    for (;;) {
      const oldest = partitions.oldestKeptDay();
      const rows: NewAttemptRow[] = [];
      const bodies: EventBody[] = [];
      const days = new Set<number>();
      let expired = 0;
      for (const { record } of batch) {
        const row = record.row;
        const day = dayOf(row.attempted_at.getTime());
        // Past retention its partition is gone (or about to be): a late record is not kept.
        if (day < oldest) {
          expired++;
          continue;
        }
        if (!partitions.has(day)) days.add(day);
        rows.push(row);
        if (record.body === undefined || !options.bodies) continue;
        const bodyDay = dayOf(row.event_created_at.getTime());
        if (bodyDay < oldest) continue;
        if (!partitions.has(bodyDay)) days.add(bodyDay);
        bodies.push({
          tenantId: row.tenant_id,
          eventId: row.event_id,
          createdAt: row.event_created_at,
          eventType: row.event_type,
          body: record.body,
        });
      }
      const started = performance.now();
      try {
        if (days.size > 0) await partitions.ensure(days);
        await writeAttempts(db, rows, bodies);
      } catch (error) {
        failures++;
        metrics.attemptLogWriteFailures.inc();
        failing = true;
        if (isDatabaseOutage(error)) {
          warnOutage(error, "database unavailable; attempt records wait in JetStream");
        } else {
          if (Date.now() - failureLoggedAt >= FAILURE_LOG_INTERVAL_MS) {
            failureLoggedAt = Date.now();
            logger.error(
              { err: error, records: batch.length },
              "writing attempt records failed; trying again",
            );
          }
          // A partition may have gone under us (dropped by another instance): check again.
          partitions.forget();
        }
        if (pullDone) {
          giveBack(batch);
          return;
        }
        if (Date.now() - keptAliveAt >= KEEP_ALIVE_MS) {
          keptAliveAt = Date.now();
          settle(batch, "working");
          settle(pending, "working");
        }
        await toWriter.wait(Math.min(maxRetryDelayMs, retryDelayMs * 2 ** (failures - 1)));
        continue;
      }
      if (rows.length > 0) metrics.attemptLogWrite.observe((performance.now() - started) / 1_000);
      metrics.attemptsLogged.inc(rows.length);
      if (expired > 0) skippedExpired.inc(expired);
      if (failing) {
        logger.info({ failures }, "attempt records are written again");
        failing = false;
      }
      settle(batch, "ack");
      return;
    }
  };

  /** Stopped, pulls over, and the write failed: every record held goes back to JetStream. */
  const giveBack = (batch: Held[]) => {
    settle(batch, "nak");
    settle(pending, "nak");
    pending = [];
  };

  /** Acks are buffered publishes; one on a closed connection throws, and the record returns. */
  const settle = (held: readonly Held[], how: "ack" | "nak" | "working") => {
    try {
      for (const { msg } of held) msg[how]();
    } catch (error) {
      warnPull(error, "cannot ack attempt records; JetStream will deliver them again");
    }
  };

  const pulling = pull();
  const writing = write();

  return {
    async stop() {
      stopping = true;
      toPuller.notify();
      const grace = setTimeout(() => fetching?.stop(), FETCH_GRACE_MS);
      await pulling;
      clearTimeout(grace);
      toWriter.notify();
      await writing;
    },
  };
}
