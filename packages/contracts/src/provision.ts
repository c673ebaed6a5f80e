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
  /** DISPATCH refuses new messages (`discard: new`) beyond this, so ingest can answer 503. */
  dispatchMaxBytes: number;
  outcomesMaxBytes: number;
  replicas: number;
  /** ack_wait of the delivery consumers; delivery calls working() on calls longer than half. */
  deliveryAckWaitMs: number;
  deliveryMaxAckPending: number;
}

export const defaultProvisionOptions: Omit<ProvisionOptions, "names"> = {
  dedupeWindowMs: 10 * 60_000,
  dispatchMaxBytes: 1024 ** 3,
  outcomesMaxBytes: 1024 ** 3,
  replicas: 1,
  deliveryAckWaitMs: 30_000,
  deliveryMaxAckPending: 2_000,
};

/** A task that crashes a worker this many times is poison. */
export const DISPATCH_MAX_DELIVER = 5;
export const ENDPOINT_KV_HISTORY = 5;
const DAY_MS = 86_400_000;

type NamedStreamConfig = Partial<StreamConfig> & { name: string };

export function streamConfigs(options: ProvisionOptions): NamedStreamConfig[] {
  const { names, replicas } = options;
  const file = { storage: StorageType.File, num_replicas: replicas };
  return [
    {
      ...file,
      name: names.streams.dispatch,
      subjects: [names.subjects.dispatchFreshAll, names.subjects.dispatchRetryAll],
      retention: RetentionPolicy.Workqueue,
      discard: DiscardPolicy.New,
      max_bytes: options.dispatchMaxBytes,
      duplicate_window: nanos(options.dedupeWindowMs),
    },
    {
      ...file,
      name: names.streams.retry,
      subjects: [names.subjects.retryAll],
      retention: RetentionPolicy.Workqueue,
      duplicate_window: nanos(options.dedupeWindowMs),
    },
    {
      ...file,
      name: names.streams.outcomes,
      subjects: [names.subjects.outcomeAll],
      retention: RetentionPolicy.Limits,
      max_age: nanos(DAY_MS),
      max_bytes: options.outcomesMaxBytes,
      duplicate_window: nanos(options.dedupeWindowMs),
    },
    {
      ...file,
      name: names.streams.deadletter,
      subjects: [names.subjects.deadletterAll],
      retention: RetentionPolicy.Workqueue,
      duplicate_window: nanos(options.dedupeWindowMs),
    },
    {
      ...file,
      name: names.streams.advisories,
      subjects: [names.subjects.maxDeliveriesAdvisories],
      retention: RetentionPolicy.Limits,
      max_age: nanos(7 * DAY_MS),
    },
  ];
}

type DurableConfig = Partial<ConsumerConfig> & { durable_name: string };

export function consumerConfigs(
  options: ProvisionOptions,
): { stream: string; config: DurableConfig }[] {
  const { names } = options;
  const pull = { ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All };
  const delivery = {
    ...pull,
    ack_wait: nanos(options.deliveryAckWaitMs),
    max_deliver: DISPATCH_MAX_DELIVER,
    max_ack_pending: options.deliveryMaxAckPending,
  };
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
      stream: names.streams.dispatch,
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
  ];
}

function isApiError(error: unknown, code: number): boolean {
  return error instanceof JetStreamApiError && error.code === code;
}

/** Creates a stream, or updates the fields JetStream lets change on an existing one. */
export async function ensureStream(jsm: JetStreamManager, config: NamedStreamConfig) {
  const name = config.name;
  try {
    const info = await jsm.streams.info(name);
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
  for (const config of streamConfigs(options)) await ensureStream(jsm, config);
  for (const { stream, config } of consumerConfigs(options)) {
    await ensureConsumer(jsm, stream, config);
  }
  const endpoints = await ensureEndpointBucket(nc, options.names, options.replicas);
  return { endpoints };
}
