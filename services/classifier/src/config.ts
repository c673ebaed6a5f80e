import { DEFAULT_RETRY_TIERS, RETRY_STRATEGIES } from "@hookline/contracts";
import { ConfigError, commonEnvShape, durationEnv, durationListEnv, portEnv } from "@hookline/kit";
import { z } from "zod";
import { longestTierMs, type RetryPolicy } from "./scheduling/retry-plan";
import type { RetryBackoff } from "./scheduling/retry-strategies";
import { parseRetryTiers } from "./scheduling/retry-tiers";

/** RETRY_TIERS: whole durations, used as they are written in subjects and consumer names. */
export const retryTiersEnv = z.string().transform((text, ctx) => {
  const parsed = parseRetryTiers(text);
  if (!parsed.ok) {
    ctx.addIssue({ code: "custom", message: parsed.error });
    return z.NEVER;
  }
  return parsed.tiers;
});

const count = (max: number) => z.coerce.number().int().min(1).max(max);

/** Defaults are written as text and parsed (`prefault`), so they read like the env they stand for. */
export const classifierEnvShape = {
  ...commonEnvShape,
  PORT: portEnv.default(8082),
  /**
   * The default retry policy; an endpoint's retryPolicy (or retrySchedule) replaces it. With
   * "schedule" the wait after attempt n is the n-th entry of RETRY_SCHEDULE.
   */
  RETRY_STRATEGY: z.enum(RETRY_STRATEGIES).default("schedule"),
  RETRY_SCHEDULE: durationListEnv.prefault("5s,5m,30m,2h,5h,10h,10h"),
  /** exponential, linear, fibonacci, fixed: the first wait, and the longest (default: longest tier). */
  RETRY_BASE_DELAY: durationEnv.prefault("5s"),
  RETRY_MAX_DELAY: durationEnv.optional(),
  /** Attempts in all; default: RETRY_SCHEDULE's length + 1 for "schedule", else 8. */
  RETRY_MAX_ATTEMPTS: count(100).optional(),
  RETRY_TIERS: retryTiersEnv.prefault(DEFAULT_RETRY_TIERS),
  RETRY_JITTER: z.coerce.number().min(0).lt(1).default(0.2),
  /** 503 and timeouts wait at least this. */
  RETRY_OVERLOAD_MIN_DELAY: durationEnv.prefault("60s"),
  /** 429 waits at least this; default: RETRY_OVERLOAD_MIN_DELAY (which covered 429 before). */
  RETRY_RATE_LIMITED_MIN_DELAY: durationEnv.optional(),
  /** Network errors wait at least this (none by default: the strategy decides). */
  RETRY_NETWORK_MIN_DELAY: durationEnv.prefault("0s"),
  DEFERRAL_MIN_DELAY: durationEnv.prefault("1s"),
  /** At most the longest tier; by default 10m or the longest tier, whichever is shorter. */
  DEFERRAL_MAX_DELAY: durationEnv.optional(),
  /** An endpoint failing without a success this long is disabled (as Svix does). */
  ENDPOINT_DISABLE_AFTER: durationEnv.prefault("5d"),
  RETRY_TIER_MAX_ACK_PENDING: count(10_000).default(50),
  CLASSIFIER_CONCURRENCY: count(10_000).default(64),
};

export type ClassifierEnv = z.infer<z.ZodObject<typeof classifierEnvShape>>;

const DEFAULT_DEFERRAL_MAX_MS = 600_000;
/** RETRY_MAX_ATTEMPTS' default for the strategies that have no schedule to count. */
const DEFAULT_STRATEGY_MAX_ATTEMPTS = 8;

/** The default backoff, and what is wrong with it (each problem names its variable). */
function defaultBackoffFromEnv(
  env: ClassifierEnv,
  longest: number,
): { backoff: RetryBackoff; problems: string[] } {
  const problems: string[] = [];
  const maxDelayMs = env.RETRY_MAX_DELAY ?? longest;
  if (maxDelayMs > longest) {
    problems.push(
      `RETRY_MAX_DELAY: ${maxDelayMs}ms is longer than the longest of RETRY_TIERS ` +
        `(${longest}ms); nothing may wait longer than its tier`,
    );
  }
  if (env.RETRY_STRATEGY !== "schedule" && env.RETRY_BASE_DELAY > maxDelayMs) {
    problems.push(
      `RETRY_BASE_DELAY: ${env.RETRY_BASE_DELAY}ms is longer than the longest wait ` +
        `(RETRY_MAX_DELAY or the longest of RETRY_TIERS, ${maxDelayMs}ms)`,
    );
  }
  const maxAttempts =
    env.RETRY_MAX_ATTEMPTS ??
    (env.RETRY_STRATEGY === "schedule"
      ? env.RETRY_SCHEDULE.length + 1
      : DEFAULT_STRATEGY_MAX_ATTEMPTS);
  return {
    backoff: {
      strategy: env.RETRY_STRATEGY,
      baseDelayMs: env.RETRY_BASE_DELAY,
      maxDelayMs,
      maxAttempts,
      jitter: env.RETRY_JITTER,
      schedule: env.RETRY_SCHEDULE,
    },
    problems,
  };
}

/**
 * The retry policy, with the rule that spans variables: nothing may wait longer than the
 * longest tier, or it would hold that tier's slots for the whole wait and block the retries
 * behind it. A configured deferral maximum beyond it is refused.
 */
export function retryPolicyFromEnv(env: ClassifierEnv): RetryPolicy {
  const longest = longestTierMs({ tiers: env.RETRY_TIERS });
  const { backoff, problems } = defaultBackoffFromEnv(env, longest);
  if (env.DEFERRAL_MAX_DELAY !== undefined && env.DEFERRAL_MAX_DELAY > longest) {
    problems.push(
      `DEFERRAL_MAX_DELAY: ${env.DEFERRAL_MAX_DELAY}ms is longer than the longest of RETRY_TIERS ` +
        `(${longest}ms); nothing may wait longer than its tier`,
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    backoff,
    tiers: env.RETRY_TIERS,
    jitter: env.RETRY_JITTER,
    rateLimitedMinDelayMs: env.RETRY_RATE_LIMITED_MIN_DELAY ?? env.RETRY_OVERLOAD_MIN_DELAY,
    overloadMinDelayMs: env.RETRY_OVERLOAD_MIN_DELAY,
    networkMinDelayMs: env.RETRY_NETWORK_MIN_DELAY,
    deferralMinDelayMs: env.DEFERRAL_MIN_DELAY,
    deferralMaxDelayMs: env.DEFERRAL_MAX_DELAY ?? Math.min(DEFAULT_DEFERRAL_MAX_MS, longest),
  };
}
