import {
  checkConsumer,
  ensureConsumer,
  type HooklineNames,
  type ProvisionCheck,
} from "@hookline/contracts";
import {
  AckPolicy,
  type ConsumerConfig,
  DeliverPolicy,
  type JetStreamManager,
} from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import type { RetryTier } from "../scheduling/retry-tiers";

/**
 * How long a released retry may take to reach DISPATCH before the server hands it out again.
 * Waiting retries don't need more: a `nak(delay)` longer than ack_wait is honoured (checked on
 * 2.9.10: ack_wait 1 s, nak 3.5 s, redelivered after 3.5 s). A short ack_wait means a retry that
 * a crashed classifier held comes back in seconds, not after a tier's hours.
 */
export const TIER_ACK_WAIT_MS = 30_000;

export function tierConsumerConfig(
  names: HooklineNames,
  tier: RetryTier,
  maxAckPending: number,
): { stream: string; config: Partial<ConsumerConfig> & { durable_name: string } } {
  return {
    stream: names.streams.retry,
    config: {
      durable_name: names.consumers.retryTier(tier.name),
      filter_subject: names.subjects.retryTierAll(tier.name),
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(TIER_ACK_WAIT_MS),
      // Early messages are nakked with a delay and hold a slot until due; only a tier's head
      // waits like that, because within a tier messages come due roughly in publish order.
      max_ack_pending: maxAckPending,
      // Every early nak counts as a delivery, so there must be no limit here; no backoff either
      // (2.9.10 must not mix a backoff array with nak delays).
      max_deliver: -1,
    },
  };
}

/** Creates or updates one durable pull consumer per tier; idempotent. */
export async function ensureTierConsumers(
  jsm: JetStreamManager,
  names: HooklineNames,
  tiers: readonly RetryTier[],
  maxAckPending: number,
): Promise<void> {
  for (const tier of tiers) {
    const { stream, config } = tierConsumerConfig(names, tier, maxAckPending);
    await ensureConsumer(jsm, stream, config);
  }
}

/** Checks, never creates, the tier consumers (verify mode): the first missing one. */
export async function verifyTierConsumers(
  jsm: JetStreamManager,
  names: HooklineNames,
  tiers: readonly RetryTier[],
): Promise<ProvisionCheck> {
  for (const tier of tiers) {
    const check = await checkConsumer(
      jsm,
      names.streams.retry,
      names.consumers.retryTier(tier.name),
    );
    if (check.outcome === "missing") return check;
  }
  return { outcome: "present" };
}

/**
 * Tier consumers left from an earlier RETRY_TIERS. Messages may still wait in them, so they keep
 * being released until empty; they are never deleted here (an operator may, once drained).
 */
export async function formerTierConsumers(
  jsm: JetStreamManager,
  names: HooklineNames,
  tiers: readonly RetryTier[],
): Promise<string[]> {
  const current = new Set(tiers.map((tier) => names.consumers.retryTier(tier.name)));
  const prefix = names.consumers.retryTier("");
  const former: string[] = [];
  for await (const info of jsm.consumers.list(names.streams.retry)) {
    const name = info.name;
    if (name.startsWith(prefix) && !current.has(name)) former.push(name);
  }
  return former;
}
