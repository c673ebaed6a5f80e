import { nextDelayMs, type RetryBackoff } from "./retry-strategies";
import { type RetryTier, retryTierFor } from "./retry-tiers";

/** Returns a number in [0, 1); tests pass a fixed one. */
export type RandomSource = () => number;

export interface RetryPolicy {
  /** The deployment's default (RETRY_STRATEGY…); an endpoint's retryPolicy or retrySchedule wins. */
  backoff: RetryBackoff;
  /** Shortest first (parseRetryTiers sorts them). */
  tiers: readonly RetryTier[];
  /** ±this fraction of a deferral, so retries of one outage don't arrive together. */
  jitter: number;
  /** 429 waits at least this long: the endpoint asked for fewer requests. */
  rateLimitedMinDelayMs: number;
  /** 503 and timeouts wait at least this long: the endpoint said it is overloaded. */
  overloadMinDelayMs: number;
  /** Network errors (refused, reset, DNS) wait at least this long. */
  networkMinDelayMs: number;
  /** Deferrals wait at least this, even when the breaker or limiter says "now". */
  deferralMinDelayMs: number;
  deferralMaxDelayMs: number;
}

export type RetryPlan =
  | { outcome: "scheduled"; delayMs: number; notBefore: number; tier: RetryTier }
  /** No attempts left in the schedule. */
  | { outcome: "exhausted" }
  /** The next try would come after the task's deadline. */
  | { outcome: "expired" };

/** Which per-result minimum a retryable failure waits: its kind of answer, or none. */
export type RetryFloor = "rate_limited" | "overloaded" | "network" | "none";

function floorMs(floor: RetryFloor, policy: RetryPolicy): number {
  switch (floor) {
    case "rate_limited":
      return policy.rateLimitedMinDelayMs;
    case "overloaded":
      return policy.overloadMinDelayMs;
    case "network":
      return policy.networkMinDelayMs;
    case "none":
      return 0;
  }
}

/** `delayMs` ± `fraction`, uniformly. */
export function jittered(delayMs: number, fraction: number, random: RandomSource): number {
  return Math.round(delayMs * (1 + fraction * (2 * random() - 1)));
}

/** A minimum wait spread upwards only, so a floor stays a floor and still doesn't stampede. */
function atLeastSpread(minimumMs: number, fraction: number, random: RandomSource): number {
  return Math.round(minimumMs * (1 + fraction * random()));
}

/** The longest tier: nothing may wait longer than it, or it would hold that tier's slots. */
export function longestTierMs(policy: Pick<RetryPolicy, "tiers">): number {
  return retryTierFor(policy.tiers, Number.POSITIVE_INFINITY).ms;
}

function scheduleAt(
  wantedMs: number,
  deadline: number,
  policy: RetryPolicy,
  now: number,
): RetryPlan {
  // A delay past the longest tier (an endpoint's own schedule, an overload floor) is shortened
  // to it: a retry never waits in a tier longer than that tier's length.
  const delayMs = Math.min(wantedMs, longestTierMs(policy));
  const notBefore = now + delayMs;
  if (notBefore > deadline) return { outcome: "expired" };
  return { outcome: "scheduled", delayMs, notBefore, tier: retryTierFor(policy.tiers, delayMs) };
}

/**
 * When to retry after a failed attempt. `attempt` counts attempts made, this one included.
 * The delay is the backoff's (its strategy's wait after `attempt`) ± its jitter, at least the
 * endpoint's Retry-After and the minimum for the failure's kind (429, 503 and timeouts, network
 * errors); never more than the longest tier.
 */
export function planAttemptRetry(
  failure: {
    attempt: number;
    deadline: number;
    floor: RetryFloor;
    retryAfterMs?: number | undefined;
  },
  backoff: RetryBackoff,
  policy: RetryPolicy,
  now: number,
  random: RandomSource,
): RetryPlan {
  const scheduled = nextDelayMs(backoff, failure.attempt);
  if (scheduled === undefined) return { outcome: "exhausted" };
  let delayMs = jittered(scheduled, backoff.jitter, random);
  if (failure.retryAfterMs !== undefined) {
    const asked = Math.min(
      atLeastSpread(failure.retryAfterMs, backoff.jitter, random),
      longestTierMs(policy),
    );
    delayMs = Math.max(delayMs, asked);
  }
  const minimumMs = floorMs(failure.floor, policy);
  if (minimumMs > 0) {
    delayMs = Math.max(delayMs, atLeastSpread(minimumMs, backoff.jitter, random));
  }
  return scheduleAt(delayMs, failure.deadline, policy, now);
}

/**
 * When to try again after a pass that made no request (rate limited, from an older delivery):
 * `min(reset × 2^deferrals, max)`, where reset is when the breaker half-opens or the limiter has
 * a token (the outcome's Retry-After-Ms, at least the floor). Jitter never brings it below reset.
 * It uses no attempt, so it is never `exhausted`; only the deadline ends it.
 */
export function planDeferral(
  deferral: { deferrals: number; deadline: number; retryAfterMs?: number | undefined },
  policy: RetryPolicy,
  now: number,
  random: RandomSource,
): RetryPlan {
  const resetMs = Math.max(deferral.retryAfterMs ?? 0, policy.deferralMinDelayMs);
  const backoffMs = Math.min(resetMs * 2 ** deferral.deferrals, policy.deferralMaxDelayMs);
  const delayMs = Math.min(
    Math.max(jittered(backoffMs, policy.jitter, random), resetMs),
    policy.deferralMaxDelayMs,
  );
  return scheduleAt(delayMs, deferral.deadline, policy, now);
}
