import { z } from "zod";

/** A prefix must be a valid subject token, stream-name part and KV bucket part. */
export const prefixSchema = z
  .string()
  .regex(/^[a-z][a-z0-9_]{0,31}$/, "lower-case letters, digits and _, starting with a letter");

/**
 * Every subject, stream, consumer and bucket name for one deployment. Subjects use the prefix
 * lower-case and streams upper-case, so two deployments or two tests can share one server.
 */
export function hooklineNames(prefix = "hookline") {
  const stream = prefix.toUpperCase();
  const names = {
    prefix,
    streams: {
      /** Fresh tasks only, so retries and replays never use up the budget of new events. */
      dispatch: `${stream}_DISPATCH`,
      /** Released retries, replays and tasks moved off a busy endpoint's way. */
      dispatchRetry: `${stream}_DISPATCH_RETRY`,
      retry: `${stream}_RETRY`,
      /** Failed attempts waiting for the classifier: a task's only copy. */
      outcomes: `${stream}_OUTCOMES`,
      /**
       * The attempt log's feed: delivery's successes and the classifier's classified failures.
       * Never a task's only copy, so it may evict (old first, or after a day).
       */
      attempts: `${stream}_ATTEMPTS`,
      deadletter: `${stream}_DEADLETTER`,
      advisories: `${stream}_ADVISORIES`,
      /** Operational events (ops-events.ts) waiting for ingest to make them webhooks. */
      ops: `${stream}_OPS`,
    },
    consumers: {
      deliveryFresh: "delivery-fresh",
      deliveryRetry: "delivery-retry",
      classifier: "classifier",
      classifierPoison: "classifier-poison",
      dlqStore: "dlq-store",
      /** The dlq's attempt log, fed from ATTEMPTS. */
      dlqAttempts: "dlq-attempts",
      /** Ingest's reader of operational events. */
      ingestOps: "ingest-ops",
      /** A busy endpoint's own consumer of its moved tasks, shared by every delivery instance. */
      deliveryOverflow: (endpointId: string) => `delivery-overflow-${endpointId}`,
      retryTier: (tier: string) => `retry-${tier}`,
    },
    /** Streams of earlier versions that provisioning removes (they held evictable copies only). */
    retiredStreams: {
      /** Successes only; ATTEMPTS took its subjects. */
      delivered: `${stream}_DELIVERED`,
    },
    kv: {
      endpoints: `${prefix}_endpoints`,
      /** Ingest's tenant records, keyed by tenantKvKey(id). */
      tenants: `${prefix}_tenants`,
    },
    subjects: {
      dispatchFresh: (endpointId: string) => `${prefix}.dispatch.fresh.${endpointId}`,
      dispatchRetry: (endpointId: string) => `${prefix}.dispatch.retry.${endpointId}`,
      dispatchOverflow: (endpointId: string) => `${prefix}.dispatch.overflow.${endpointId}`,
      dispatchFreshAll: `${prefix}.dispatch.fresh.>`,
      dispatchRetryAll: `${prefix}.dispatch.retry.>`,
      dispatchOverflowAll: `${prefix}.dispatch.overflow.>`,
      retry: (tier: string, endpointId: string) => `${prefix}.retry.${tier}.${endpointId}`,
      retryTierAll: (tier: string) => `${prefix}.retry.${tier}.>`,
      retryAll: `${prefix}.retry.>`,
      outcomeFailed: (endpointId: string) => `${prefix}.outcome.failed.${endpointId}`,
      outcomeDelivered: (endpointId: string) => `${prefix}.outcome.delivered.${endpointId}`,
      /** A failed attempt with the classifier's decision (retry, dead letter): for the log. */
      outcomeClassified: (endpointId: string) => `${prefix}.outcome.classified.${endpointId}`,
      outcomeFailedAll: `${prefix}.outcome.failed.>`,
      outcomeClassifiedAll: `${prefix}.outcome.classified.>`,
      outcomeDeliveredAll: `${prefix}.outcome.delivered.>`,
      deadletter: (endpointId: string) => `${prefix}.deadletter.${endpointId}`,
      /** Where a consumer puts a message it cannot decode. */
      deadletterInvalid: `${prefix}.deadletter.invalid`,
      deadletterAll: `${prefix}.deadletter.>`,
      /** An operational event of one kind (ops-events.ts), e.g. `<prefix>.ops.breaker.opened`. */
      ops: (kind: string) => `${prefix}.ops.${kind}`,
      opsAll: `${prefix}.ops.>`,
      maxDeliveriesAdvisories: [
        `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${stream}_DISPATCH.*`,
        `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${stream}_DISPATCH_RETRY.*`,
      ],
    },
  };
  return names;
}

export type HooklineNames = ReturnType<typeof hooklineNames>;
