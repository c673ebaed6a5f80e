import {
  AckPolicy,
  type ConsumerConfig,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import { type NatsConnection, nanos } from "@nats-io/transport-node";
import type { HooklineNames } from "./names";

export interface ProvisionOptions {
  names: HooklineNames;
  /** JetStream's duplicate window on DISPATCH: a retried ingest POST within it is harmless. */
  dedupeWindowMs: number;
  /**
   * Byte budgets. Every stream that can hold a task's only copy refuses new messages beyond its
   * budget (`discard: new`) instead of evicting old ones, and its writer reacts: ingest answers
   * 503, delivery and the classifier nak and try again later, the dlq answers 503 to a replay.
   * Fresh tasks (DISPATCH) and everything else (DISPATCH_RETRY) have separate budgets, so
   * retries and replays can never make ingest refuse new events.
   */
  dispatchMaxBytes: number;
  dispatchRetryMaxBytes: number;
  retryMaxBytes: number;
  outcomesMaxBytes: number;
  deadletterMaxBytes: number;
  /** The attempt log's feed; the only stream that evicts (old first, or after 24 h). */
  attemptsMaxBytes: number;
  /** Fresh tasks one endpoint may have queued; past it ingest dead-letters as backlog_full. */
  endpointBacklogQuota: number;
  replicas: number;
  /** ack_wait of the delivery consumers; delivery calls working() on tasks it holds. */
  deliveryAckWaitMs: number;
  deliveryMaxAckPending: number;
}

const GIB = 1024 ** 3;

export const defaultProvisionOptions: Omit<ProvisionOptions, "names"> = {
  dedupeWindowMs: 10 * 60_000,
  dispatchMaxBytes: GIB,
  dispatchRetryMaxBytes: GIB,
  retryMaxBytes: GIB,
  outcomesMaxBytes: GIB,
  deadletterMaxBytes: GIB,
  attemptsMaxBytes: GIB,
  endpointBacklogQuota: 100_000,
  replicas: 1,
  deliveryAckWaitMs: 30_000,
  // Room for both lanes' slots plus the tasks an instance holds (DELIVERY_MAX_HELD).
  deliveryMaxAckPending: 5_000,
};

/** A task that crashes a worker this many times is poison. */
export const DISPATCH_MAX_DELIVER = 5;
export const ENDPOINT_KV_HISTORY = 5;
/** Attempt-log records a dlq holds unacked at once, across its batches. */
export const ATTEMPT_LOG_MAX_ACK_PENDING = 20_000;
const DAY_MS = 86_400_000;
/** Operational events are small and few (one per fact, minute or crossing). */
export const OPS_MAX_BYTES = 256 * 1024 ** 2;

type NamedStreamConfig = Partial<StreamConfig> & { name: string };

export function streamConfigs(options: ProvisionOptions): NamedStreamConfig[] {
  const { names, replicas } = options;
  const file = { storage: StorageType.File, num_replicas: replicas };
  // Holds tasks: removed once acked, and full means "refuse", never "evict".
  const taskQueue = {
    ...file,
    retention: RetentionPolicy.Workqueue,
    discard: DiscardPolicy.New,
    duplicate_window: nanos(options.dedupeWindowMs),
  };
  return [
    {
      ...taskQueue,
      name: names.streams.dispatch,
      subjects: [names.subjects.dispatchFreshAll],
      max_bytes: options.dispatchMaxBytes,
      // One subject per endpoint: the server itself enforces each endpoint's backlog quota.
      max_msgs_per_subject: options.endpointBacklogQuota,
      discard_new_per_subject: true,
    },
    {
      ...taskQueue,
      name: names.streams.dispatchRetry,
      subjects: [names.subjects.dispatchRetryAll, names.subjects.dispatchOverflowAll],
      max_bytes: options.dispatchRetryMaxBytes,
      // The quota holds for an endpoint's retries and its moved tasks too.
      max_msgs_per_subject: options.endpointBacklogQuota,
      discard_new_per_subject: true,
    },
    {
      ...taskQueue,
      name: names.streams.retry,
      subjects: [names.subjects.retryAll],
      max_bytes: options.retryMaxBytes,
    },
    {
      ...taskQueue,
      name: names.streams.outcomes,
      subjects: [names.subjects.outcomeFailedAll],
      max_bytes: options.outcomesMaxBytes,
    },
    {
      // Copies for the attempt log only: when the dlq (or Postgres) is behind past these bounds
      // the oldest go, and no writer ever waits for or is refused by the log.
      ...file,
      name: names.streams.attempts,
      subjects: [names.subjects.outcomeDeliveredAll, names.subjects.outcomeClassifiedAll],
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      max_age: nanos(DAY_MS),
      max_bytes: options.attemptsMaxBytes,
      duplicate_window: nanos(options.dedupeWindowMs),
    },
    {
      ...taskQueue,
      name: names.streams.deadletter,
      subjects: [names.subjects.deadletterAll],
      max_bytes: options.deadletterMaxBytes,
    },
    {
      // Operational events until ingest has made them webhooks: refused when full, never evicted.
      ...taskQueue,
      name: names.streams.ops,
      subjects: [names.subjects.opsAll],
      max_bytes: OPS_MAX_BYTES,
    },
    {
      ...file,
      name: names.streams.advisories,
      subjects: names.subjects.maxDeliveriesAdvisories,
      retention: RetentionPolicy.Limits,
      max_age: nanos(7 * DAY_MS),
      max_msgs: 1_000_000,
    },
  ];
}

type DurableConfig = Partial<ConsumerConfig> & { durable_name: string };

function deliveryConsumerConfig(options: ProvisionOptions) {
  return {
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(options.deliveryAckWaitMs),
    max_deliver: DISPATCH_MAX_DELIVER,
    max_ack_pending: options.deliveryMaxAckPending,
  };
}

export function consumerConfigs(
  options: ProvisionOptions,
): { stream: string; config: DurableConfig }[] {
  const { names } = options;
  const pull = { ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All };
  const delivery = deliveryConsumerConfig(options);
  return [
    {
      stream: names.streams.dispatch,
      config: {
        ...delivery,
        durable_name: names.consumers.deliveryFresh,
        filter_subject: names.subjects.dispatchFreshAll,
      },
    },
    {
      stream: names.streams.dispatchRetry,
      config: {
        ...delivery,
        durable_name: names.consumers.deliveryRetry,
        filter_subject: names.subjects.dispatchRetryAll,
      },
    },
    {
      stream: names.streams.outcomes,
      config: {
        ...pull,
        durable_name: names.consumers.classifier,
        filter_subject: names.subjects.outcomeFailedAll,
        ack_wait: nanos(30_000),
      },
    },
    {
      stream: names.streams.deadletter,
      config: {
        ...pull,
        durable_name: names.consumers.dlqStore,
        filter_subject: names.subjects.deadletterAll,
        ack_wait: nanos(30_000),
      },
    },
    {
      stream: names.streams.advisories,
      config: { ...pull, durable_name: names.consumers.classifierPoison, ack_wait: nanos(30_000) },
    },
    {
      stream: names.streams.ops,
      config: {
        ...pull,
        durable_name: names.consumers.ingestOps,
        filter_subject: names.subjects.opsAll,
        ack_wait: nanos(30_000),
      },
    },
    {
      stream: names.streams.attempts,
      config: {
        ...pull,
        durable_name: names.consumers.dlqAttempts,
        // One ack per written batch (its last record's acks every one before it): one dlq
        // instance pulls at a time (the attempt log's writer lock), and it never acks past a
        // record it has not written. No filter: every stream sequence is one of its records.
        ack_policy: AckPolicy.All,
        // Held while a batch is written to Postgres; a batch is at most a few thousand rows.
        ack_wait: nanos(60_000),
        max_ack_pending: ATTEMPT_LOG_MAX_ACK_PENDING,
      },
    },
  ];
}

/**
 * The consumer of one busy endpoint's moved tasks. Its max_ack_pending is the endpoint's
 * in-flight cap, so however many delivery instances pull from it, the server hands out no more
 * than that at once.
 */
export function overflowConsumerConfig(
  options: ProvisionOptions,
  endpointId: string,
  maxInFlight: number,
): { stream: string; config: DurableConfig } {
  const { names } = options;
  return {
    stream: names.streams.dispatchRetry,
    config: {
      ...deliveryConsumerConfig(options),
      durable_name: names.consumers.deliveryOverflow(endpointId),
      filter_subject: names.subjects.dispatchOverflow(endpointId),
      max_ack_pending: maxInFlight,
    },
  };
}

/**
 * The publish was refused because its subject, one endpoint's, holds ENDPOINT_BACKLOG_QUOTA
 * messages already: the writer dead-letters the task as `backlog_full` instead.
 */
export function isBacklogFull(error: unknown): boolean {
  return error instanceof JetStreamApiError && /messages per subject/i.test(error.message);
}

function isApiError(error: unknown, code: number): boolean {
  return error instanceof JetStreamApiError && error.code === code;
}

/** Creates a stream, or updates the fields JetStream lets change on an existing one. */
export async function ensureStream(jsm: JetStreamManager, config: NamedStreamConfig) {
  const name = config.name;
  try {
    const info = await jsm.streams.info(name);
    if (config.retention !== undefined && info.config.retention !== config.retention) {
      // JetStream cannot change a stream's retention in place; silently keeping the old one
      // would keep its old eviction rules.
      throw new Error(
        `stream ${name} has retention ${info.config.retention}, this version needs ` +
          `${config.retention}: let its consumers drain it, then delete it (nats stream rm ${name})`,
      );
    }
    const { retention: _retention, storage: _storage, ...changeable } = config;
    await jsm.streams.update(name, { ...info.config, ...changeable });
  } catch (error) {
    if (!isApiError(error, JetStreamApiCodes.StreamNotFound)) throw error;
    try {
      await jsm.streams.add(config);
    } catch (addError) {
      // Another service created it between our info and add: start-up order never matters.
      await jsm.streams.info(name).catch(() => {
        throw addError;
      });
    }
  }
}

/** Creates a durable pull consumer, or updates an existing one to this configuration. */
export async function ensureConsumer(jsm: JetStreamManager, stream: string, config: DurableConfig) {
  try {
    await jsm.consumers.info(stream, config.durable_name);
    const { durable_name, deliver_policy: _deliver, ack_policy: _ack, ...changeable } = config;
    await jsm.consumers.update(stream, durable_name, changeable);
  } catch (error) {
    if (!isApiError(error, JetStreamApiCodes.ConsumerNotFound)) throw error;
    try {
      await jsm.consumers.add(stream, config);
    } catch (addError) {
      await jsm.consumers.info(stream, config.durable_name).catch(() => {
        throw addError;
      });
    }
  }
}

/**
 * Deletes the streams earlier versions used and this one replaced; they held copies only (the
 * success audit), and the new streams cannot take their subjects while they exist.
 */
export async function removeRetiredStreams(jsm: JetStreamManager, names: HooklineNames) {
  for (const name of Object.values(names.retiredStreams)) {
    try {
      await jsm.streams.delete(name);
    } catch (error) {
      if (!isApiError(error, JetStreamApiCodes.StreamNotFound)) throw error;
    }
  }
}

/** Ingest's tenant registry. One revision per key: nothing reads older ones. */
export const TENANT_KV_HISTORY = 1;

export function ensureTenantBucket(
  nc: NatsConnection,
  names: HooklineNames,
  replicas = 1,
): Promise<KV> {
  return new Kvm(nc).create(names.kv.tenants, { history: TENANT_KV_HISTORY, replicas });
}

/** The stream a KV bucket keeps its entries in. */
export const kvStreamName = (bucket: string) => `KV_${bucket}`;

/** A resource the provision step has not created (yet): what verify mode waits for. */
export type ProvisionCheck = { outcome: "present" } | { outcome: "missing"; resource: string };

export async function checkStream(jsm: JetStreamManager, name: string): Promise<ProvisionCheck> {
  try {
    await jsm.streams.info(name);
    return { outcome: "present" };
  } catch (error) {
    if (!isApiError(error, JetStreamApiCodes.StreamNotFound)) throw error;
    return { outcome: "missing", resource: `stream ${name}` };
  }
}

export async function checkConsumer(
  jsm: JetStreamManager,
  stream: string,
  durable: string,
): Promise<ProvisionCheck> {
  try {
    await jsm.consumers.info(stream, durable);
    return { outcome: "present" };
  } catch (error) {
    if (isApiError(error, JetStreamApiCodes.StreamNotFound)) {
      return { outcome: "missing", resource: `stream ${stream}` };
    }
    if (!isApiError(error, JetStreamApiCodes.ConsumerNotFound)) throw error;
    return { outcome: "missing", resource: `consumer ${durable} on ${stream}` };
  }
}

/** Opens a bucket without creating it; missing when its stream does not exist. */
export async function openBucket(
  nc: NatsConnection,
  jsm: JetStreamManager,
  bucket: string,
): Promise<{ outcome: "present"; kv: KV } | { outcome: "missing"; resource: string }> {
  const check = await checkStream(jsm, kvStreamName(bucket));
  if (check.outcome === "missing") return { outcome: "missing", resource: `bucket ${bucket}` };
  return { outcome: "present", kv: await new Kvm(nc).open(bucket) };
}

export async function ensureEndpointBucket(
  nc: NatsConnection,
  names: HooklineNames,
  replicas = 1,
): Promise<KV> {
  return new Kvm(nc).create(names.kv.endpoints, { history: ENDPOINT_KV_HISTORY, replicas });
}

/**
 * Creates or updates every stream, durable consumer and the endpoint bucket. Every service
 * calls it at start-up, so start-up order never matters. Tier consumers belong to the
 * classifier, which knows its tiers, and are created there.
 */
export async function provision(
  nc: NatsConnection,
  jsm: JetStreamManager,
  options: ProvisionOptions,
): Promise<{ endpoints: KV }> {
  await removeRetiredStreams(jsm, options.names);
  for (const config of streamConfigs(options)) await ensureStream(jsm, config);
  for (const { stream, config } of consumerConfigs(options)) {
    await ensureConsumer(jsm, stream, config);
  }
  const endpoints = await ensureEndpointBucket(nc, options.names, options.replicas);
  return { endpoints };
}

/**
 * What `provision` creates, checked and never changed: verify mode, for a service whose NATS
 * user may not create or update streams. The first missing resource, or the endpoint bucket.
 */
export async function verifyProvisioned(
  nc: NatsConnection,
  jsm: JetStreamManager,
  options: ProvisionOptions,
): Promise<{ outcome: "present"; endpoints: KV } | { outcome: "missing"; resource: string }> {
  for (const config of streamConfigs(options)) {
    const check = await checkStream(jsm, config.name);
    if (check.outcome === "missing") return check;
  }
  for (const { stream, config } of consumerConfigs(options)) {
    const check = await checkConsumer(jsm, stream, config.durable_name);
    if (check.outcome === "missing") return check;
  }
  const bucket = await openBucket(nc, jsm, options.names.kv.endpoints);
  if (bucket.outcome === "missing") return bucket;
  return { outcome: "present", endpoints: bucket.kv };
}
