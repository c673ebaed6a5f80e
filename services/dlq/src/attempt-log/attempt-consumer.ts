import { RECORD_BATCH_MAX_BYTES } from "@hookline/contracts";
import { createOutageWarning, type Logger, type ServiceMetrics } from "@hookline/kit";
import {
  AckPolicy,
  type Consumer,
  type ConsumerInfo,
  type ConsumerMessages,
  type FetchOptions,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from "@nats-io/jetstream";
import { isDatabaseOutage } from "../db/outage";
import type { NewAttemptRow } from "../db/schema";
import type { DlqMetrics } from "../metrics";
import { type AckFrontier, createAckFrontier } from "./ack-frontier";
import { type AttemptLogDatabase, bodyKey, storedBodyKeys, writeAttempts } from "./attempt-writer";
import { dayOf, type PartitionKeeper } from "./partitions";
import { type LoggedRecord, readRecordsOfMessage } from "./record-reader";
import { createSignal } from "./signal";
import { createStoredBodies } from "./stored-bodies";
import { streamSequence } from "./stream-sequence";

export interface AttemptConsumerOptions {
  js: JetStreamClient;
  stream: string;
  /** The durable `dlq-attempts`. */
  consumer: string;
  database: AttemptLogDatabase;
  partitions: PartitionKeeper;
  /** ATTEMPT_LOG_BODIES: store each event's body (from its first attempt's record). */
  bodies: boolean;
  /** ATTEMPT_LOG_BATCH: rows per write at most (unless one message holds more), and per pull. */
  batchSize: number;
  metrics: DlqMetrics;
  serviceMetrics: ServiceMetrics;
  logger: Logger;
  /** How long a batch that is not full waits for more records before it is written. */
  lingerMs?: number;
  /**
   * While new records come, they are pulled at most this often, each time as many as have
   * arrived (the durable's pending count): they come in bursts, and the dlq and Postgres wake
   * a few times a second instead of for every record. 0 pulls continuously.
   */
  burstIntervalMs?: number;
  /** A failed batch is tried again after this, doubling up to maxRetryDelayMs. */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
  /**
   * A batch's rows once written (committed), before its ack: the failure-rate window counts
   * them. Called once per batch, synchronously; keep it cheap.
   */
  onWritten?: (rows: readonly NewAttemptRow[]) => void;
}

export interface AttemptConsumer {
  /**
   * Stops pulling (the last pull runs out, within a second), writes what it holds (or, if that
   * fails, gives it back to JetStream at once), then resolves.
   */
  stop(): Promise<void>;
  /**
   * The writer lock is lost: pulls no more (the last pull runs out), acks nothing more, and
   * gives every record it holds back to JetStream, written or not, for the next writer.
   */
  abandon(): Promise<void>;
}

interface Held {
  msg: JsMsg;
  /** One, or a record batch's; none when it cannot be read (done without a row). */
  records: LoggedRecord[];
  arrivedAt: number;
}

/** What a held message counts for in a batch: its records, or one if it has none it can read. */
const recordsIn = (held: Held) => Math.max(1, held.records.length);

const DEFAULT_LINGER_MS = 100;
const DEFAULT_BURST_INTERVAL_MS = 250;
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
/** Keys of stored bodies per generation: 15–30 s at 3,000 events/s, ~15 MB at most for two. */
const RECENT_BODIES = 50_000;
/** How far apart the hosts' clocks may be, for what this writer can be sure of. */
const CLOCK_MARGIN_MS = 5_000;
/** What one pull may bring at most, were every message a record batch of the largest size. */
const PULL_MAX_BYTES = 64 * 1024 * 1024;
const MAX_MESSAGES_PER_PULL = Math.floor(PULL_MAX_BYTES / RECORD_BATCH_MAX_BYTES);
/** Records held or waiting to be acked are marked in progress this often (ack_wait is 60 s). */
const KEEP_ALIVE_MS = 20_000;
/** While the ack frontier waits for a record, the durable's state is read this often. */
const GAP_CHECK_MS = 2_000;
/** A write failing for another reason than an outage (a bug) is logged this often. */
const FAILURE_LOG_INTERVAL_MS = 10_000;

/**
 * Pulls ATTEMPTS records, writes them to Postgres a batch (one statement) at a time, then acks
 * them with ONE ack (the durable acks all: see ack-frontier.ts for what it may ack); nothing on
 * the send path waits for it. Pulling and writing overlap: the next batch gathers while one is
 * written, up to a batch more, and then pulling waits. A batch is written when full or
 * `lingerMs` after its first record arrived. Run it only while holding the writer lock: with
 * two running, each stops acking at the first record the other has.
 *
 * A write that fails keeps its records unacked and is tried again with backoff (they stay
 * JetStream's until written), so an outage of Postgres loses nothing and catches up after. A
 * record that cannot be read is counted, logged and acked: it is a copy, the task is elsewhere.
 */
export function startAttemptConsumer(options: AttemptConsumerOptions): AttemptConsumer {
  const { database, partitions, metrics, logger, batchSize } = options;
  const lingerMs = options.lingerMs ?? DEFAULT_LINGER_MS;
  const burstIntervalMs = options.burstIntervalMs ?? DEFAULT_BURST_INTERVAL_MS;
  const retryDelayMs = options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS;
  const maxRetryDelayMs = options.maxRetryDelayMs ?? DEFAULT_MAX_RETRY_DELAY_MS;
  const warnOutage = createOutageWarning(logger);
  let failureLoggedAt = Number.NEGATIVE_INFINITY;
  const warnPull = createOutageWarning(logger);
  const warnInvalid = createOutageWarning(logger);
  const warnGap = createOutageWarning(logger);
  const invalidMessages = options.serviceMetrics.invalidMessages.labels({
    consumer: options.consumer,
  });
  const skippedInvalid = metrics.attemptsSkipped.labels({ reason: "invalid" });
  const skippedExpired = metrics.attemptsSkipped.labels({ reason: "expired" });

  /** Which events' bodies are stored: each is kept once, on the first row that brings it. */
  const storedBodies = createStoredBodies({
    limit: RECENT_BODIES,
    // Another writer may have stored the bodies of events before this one began (and clocks
    // on different hosts differ a little).
    certainFrom: Date.now() + CLOCK_MARGIN_MS,
  });
  let pending: Held[] = [];
  /** The records held in `pending`, as recordsIn counts them. */
  let pendingRecords = 0;
  /**
   * Records per message in the last burst: pulls are sized in records. Until one is seen,
   * about what delivery's record batches hold under load.
   */
  let recordsPerMessage = 40;
  let pulledMessages = 0;
  let pulledRecords = 0;
  let stopping = false;
  /** The writer lock is lost: nothing is acked any more. */
  let abandoned = false;
  let pullDone = false;
  let failing = false;
  let fetching: ConsumerMessages | undefined;
  /** From the durable's ack floor, read before the first pull. */
  let frontier: AckFrontier<JsMsg> | undefined;
  /** A durable made by an earlier build acks explicitly: then each record is acked. */
  let ackEach = false;
  let jsm: JetStreamManager | undefined;
  let gapCheckedAt = Number.NEGATIVE_INFINITY;
  let waitingKeptAliveAt = Date.now();
  /** Wakes the writer: a first record, a full batch, or the pulls are over. */
  const toWriter = createSignal();
  /** Wakes the puller: room for more, or stopping. */
  const toPuller = createSignal();

  const begin = (info: ConsumerInfo) => {
    frontier = createAckFrontier(info.ack_floor.stream_seq);
    ackEach = info.config.ack_policy !== AckPolicy.All;
    if (ackEach) {
      logger.error(
        { consumer: options.consumer, ackPolicy: info.config.ack_policy },
        "the attempt log's durable acks explicitly (made by an earlier build): each record is " +
          "acked; delete it (nats consumer rm) and let provisioning make it again to ack per batch",
      );
    }
  };

  const accept = (msg: JsMsg) => {
    if (abandoned) {
      settleOne(msg, "nak");
      return;
    }
    const read = readRecordsOfMessage(msg);
    if (read.errors.length > 0) {
      skippedInvalid.inc(read.errors.length);
      invalidMessages.inc();
      warnInvalid(
        new Error(read.errors.join("; ")),
        `an attempt record cannot be read; acked without a row (seq ${msg.seq})`,
      );
    }
    const held: Held = { msg, records: read.records, arrivedAt: Date.now() };
    const records = recordsIn(held);
    const before = pendingRecords;
    pending.push(held);
    pendingRecords += records;
    pulledMessages++;
    pulledRecords += records;
    if (pending.length === 1 || (before < batchSize && pendingRecords >= batchSize)) {
      toWriter.notify();
    }
  };

  /**
   * How many records the next pull asks for: as many as wait undelivered, after the burst
   * interval (at once after a full pull: a backlog). With none undelivered but some delivered
   * and unacked (held here, or given back by a writer before: those come again only to a
   * pull), a whole batch with the usual wait, as a continuous pull would.
   */
  let burstAt = Number.NEGATIVE_INFINITY;
  /**
   * Messages for about a batch of records (delivery's success records come many a message), and
   * never so many that record batches of the largest size would pass PULL_MAX_BYTES.
   */
  const messagesFor = (perMessage: number) =>
    Math.max(1, Math.min(MAX_MESSAGES_PER_PULL, Math.floor(batchSize / perMessage)));
  let lastBurstFull = false;
  const nextPullSize = async (source: Consumer): Promise<number | "later"> => {
    if (burstIntervalMs <= 0) return messagesFor(recordsPerMessage);
    const wait = burstAt + burstIntervalMs - Date.now();
    if (!lastBurstFull && wait > 0) {
      await toPuller.wait(wait);
      return "later";
    }
    burstAt = Date.now();
    if (pulledMessages > 0) recordsPerMessage = pulledRecords / pulledMessages;
    pulledMessages = 0;
    pulledRecords = 0;
    const batchMessages = messagesFor(recordsPerMessage);
    const info = await source.info(false);
    lastBurstFull = info.num_pending >= batchMessages;
    if (info.num_pending > 0) return Math.min(batchMessages, info.num_pending);
    return info.num_ack_pending > 0 ? batchMessages : "later";
  };

  const pull = async () => {
    let source: Consumer | undefined;
    while (!stopping) {
      if (pendingRecords >= batchSize) {
        await toPuller.wait();
        continue;
      }
      try {
        if (source === undefined) {
          const found = await options.js.consumers.get(options.stream, options.consumer);
          // The info consumers.get read: the floor can only have moved up since, which is safe.
          if (frontier === undefined) begin(await found.info(true));
          source = found;
        }
        if (stopping) break;
        const size = await nextPullSize(source);
        if (size === "later") continue;
        const messages = await source.fetch({
          max_messages: size,
          expires: FETCH_EXPIRES_MS,
          // nats.js hands each record to a callback when given one, as consume() does: no
          // async iteration per record (~1.5 µs each). FetchOptions does not list it; the
          // consumer's tests stall if a nats.js upgrade stops honouring it.
          callback: accept,
        } as FetchOptions);
        fetching = messages;
        const ended = await messages.closed();
        if (ended instanceof Error) throw ended;
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
      if (abandoned) {
        giveBack([]);
        if (pullDone) return;
        await toWriter.wait();
        continue;
      }
      await tendWaiting();
      const first = pending[0];
      if (first === undefined) {
        if (pullDone) {
          // Written, but past a record this instance never had: the next writer's, at once.
          giveBack([]);
          return;
        }
        await toWriter.wait(frontier?.waiting ? GAP_CHECK_MS : undefined);
        continue;
      }
      if (pendingRecords < batchSize && !pullDone) {
        const wait = first.arrivedAt + lingerMs - Date.now();
        if (wait > 0) {
          await toWriter.wait(wait);
          continue;
        }
      }
      const batch = takeBatch();
      toPuller.notify();
      await writeUntilDone(batch);
    }
  };

  /** The oldest messages held, up to a batch of records (at least one message). */
  const takeBatch = (): Held[] => {
    if (pendingRecords <= batchSize) {
      const all = pending;
      pending = [];
      pendingRecords = 0;
      return all;
    }
    let records = 0;
    let count = 0;
    for (const held of pending) {
      const size = recordsIn(held);
      if (count > 0 && records + size > batchSize) break;
      records += size;
      count++;
    }
    const batch = pending.slice(0, count);
    pending = pending.slice(count);
    pendingRecords -= records;
    return batch;
  };

  /** Writes a batch and acks it, trying again until it is written or the consumer stops. */
  const writeUntilDone = async (batch: Held[]) => {
    let failures = 0;
    let keptAliveAt = Date.now();
    for (;;) {
      if (abandoned) {
        giveBack(batch);
        return;
      }
      const oldest = partitions.oldestKeptDay();
      const rows: NewAttemptRow[] = [];
      /** The rows to carry their event's body, by its key: the first of the event's here. */
      const carriers = new Map<string, NewAttemptRow>();
      /** Carriers whose event's body another batch (or writer) may have stored. */
      const unsure: NewAttemptRow[] = [];
      const days = new Set<number>();
      let expired = 0;
      for (const record of batch.flatMap((held) => held.records)) {
        const row = record.row;
        const day = dayOf(row.attempted_at.getTime());
        // Past retention its partition is gone (or about to be): a late record is not kept.
        if (day < oldest) {
          expired++;
          continue;
        }
        if (!partitions.has(day)) days.add(day);
        rows.push(row);
        row.body = null;
        if (record.body === undefined || !options.bodies) continue;
        const key = bodyKey(row);
        if (carriers.has(key)) continue;
        const stored = storedBodies.lookup(key, row.event_created_at.getTime());
        if (stored === "stored") continue;
        carriers.set(key, row);
        row.body = record.body;
        if (stored === "unknown") unsure.push(row);
      }
      const started = performance.now();
      try {
        if (days.size > 0) await partitions.ensure(days);
        if (unsure.length > 0) {
          const elsewhere = await storedBodyKeys(database.db, unsure);
          for (const row of unsure) if (elsewhere.has(bodyKey(row))) row.body = null;
        }
        const written = await writeAttempts(database, rows);
        if (written === "inserted") metrics.attemptLogRewrites.inc();
        for (const [key, row] of carriers) storedBodies.add(key, row.event_created_at.getTime());
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
        if (pullDone || abandoned) {
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
      options.onWritten?.(rows);
      metrics.attemptsLogged.inc(rows.length);
      if (expired > 0) skippedExpired.inc(expired);
      if (failing) {
        logger.info({ failures }, "attempt records are written again");
        failing = false;
      }
      acknowledge(batch);
      return;
    }
  };

  /** A batch is written: one ack as far as the frontier allows (or one per record, see ackEach). */
  const acknowledge = (batch: Held[]) => {
    if (abandoned) {
      giveBack(batch);
      return;
    }
    if (ackEach || frontier === undefined) {
      settle(batch, "ack");
      return;
    }
    for (const { msg } of batch) frontier.done(streamSequence(msg), msg);
    ackNext();
  };

  const ackNext = () => {
    const msg = frontier?.take();
    if (msg !== undefined) settleOne(msg, "ack");
  };

  /**
   * Records written past one this instance does not have: kept from being delivered again, and
   * the durable read now and then, which tells when the missing ones are acked or gone.
   */
  const tendWaiting = async () => {
    if (frontier === undefined || frontier.waiting === 0) return;
    if (Date.now() - waitingKeptAliveAt >= KEEP_ALIVE_MS) {
      waitingKeptAliveAt = Date.now();
      settleAll(frontier.waitingItems(), "working");
    }
    if (Date.now() - gapCheckedAt < GAP_CHECK_MS) return;
    gapCheckedAt = Date.now();
    try {
      jsm ??= await options.js.jetstreamManager(false);
      const [consumer, stream] = await Promise.all([
        jsm.consumers.info(options.stream, options.consumer),
        jsm.streams.info(options.stream, { deleted_details: true }),
      ]);
      // Acked by an earlier writer (or purged), or no longer in the stream: none can come.
      frontier.skipTo(Math.max(consumer.ack_floor.stream_seq, stream.state.first_seq - 1));
      const deleted = new Set(stream.state.deleted ?? []);
      while (deleted.has(frontier.through + 1)) frontier.skipTo(frontier.through + 1);
      ackNext();
    } catch (error) {
      warnGap(error, "cannot read the attempt log durable's state; trying again");
    }
  };

  /** Every record held goes back to JetStream (stopped and failing, or the lock lost). */
  const giveBack = (batch: Held[]) => {
    settle(batch, "nak");
    settle(pending, "nak");
    pending = [];
    pendingRecords = 0;
    if (frontier !== undefined && frontier.waiting > 0) {
      settleAll(frontier.waitingItems(), "nak");
      frontier.clearWaiting();
    }
  };

  /** Acks are buffered publishes; one on a closed connection throws, and the record returns. */
  const settleOne = (msg: JsMsg, how: "ack" | "nak" | "working") => {
    try {
      msg[how]();
    } catch (error) {
      warnPull(error, "cannot ack attempt records; JetStream will deliver them again");
    }
  };
  const settle = (held: readonly Held[], how: "ack" | "nak" | "working") => {
    try {
      for (const { msg } of held) msg[how]();
    } catch (error) {
      warnPull(error, "cannot ack attempt records; JetStream will deliver them again");
    }
  };
  const settleAll = (msgs: Iterable<JsMsg>, how: "nak" | "working") => {
    try {
      for (const msg of msgs) msg[how]();
    } catch (error) {
      warnPull(error, "cannot ack attempt records; JetStream will deliver them again");
    }
  };

  const pulling = pull();
  const writing = write();

  const finish = async (lockLost: boolean) => {
    if (lockLost) abandoned = true;
    stopping = true;
    toPuller.notify();
    // A write waiting to try again gives its batch back at once when the lock is lost.
    if (lockLost) toWriter.notify();
    const grace = setTimeout(() => fetching?.stop(), FETCH_GRACE_MS);
    await pulling;
    clearTimeout(grace);
    toWriter.notify();
    await writing;
  };

  return {
    stop: () => finish(false),
    abandon: () => finish(true),
  };
}
