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
      dispatch: `${stream}_DISPATCH`,
      retry: `${stream}_RETRY`,
      outcomes: `${stream}_OUTCOMES`,
      deadletter: `${stream}_DEADLETTER`,
      advisories: `${stream}_ADVISORIES`,
    },
    consumers: {
      deliveryFresh: "delivery-fresh",
      deliveryRetry: "delivery-retry",
      classifier: "classifier",
      classifierPoison: "classifier-poison",
      dlqStore: "dlq-store",
      retryTier: (tier: string) => `retry-${tier}`,
    },
    kv: { endpoints: `${prefix}_endpoints` },
    subjects: {
      dispatchFresh: (endpointId: string) => `${prefix}.dispatch.fresh.${endpointId}`,
      dispatchRetry: (endpointId: string) => `${prefix}.dispatch.retry.${endpointId}`,
      dispatchFreshAll: `${prefix}.dispatch.fresh.>`,
      dispatchRetryAll: `${prefix}.dispatch.retry.>`,
      retry: (tier: string, endpointId: string) => `${prefix}.retry.${tier}.${endpointId}`,
      retryTierAll: (tier: string) => `${prefix}.retry.${tier}.>`,
      retryAll: `${prefix}.retry.>`,
      outcomeFailed: (endpointId: string) => `${prefix}.outcome.failed.${endpointId}`,
      outcomeDelivered: (endpointId: string) => `${prefix}.outcome.delivered.${endpointId}`,
      outcomeFailedAll: `${prefix}.outcome.failed.>`,
      outcomeAll: `${prefix}.outcome.>`,
      deadletter: (endpointId: string) => `${prefix}.deadletter.${endpointId}`,
      /** Where a consumer puts a message it cannot decode. */
      deadletterInvalid: `${prefix}.deadletter.invalid`,
      deadletterAll: `${prefix}.deadletter.>`,
      maxDeliveriesAdvisories: `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${stream}_DISPATCH.*`,
    },
  };
  return names;
}

export type HooklineNames = ReturnType<typeof hooklineNames>;
