import { ConfigError, commonEnvShape, durationEnv, durationListEnv, portEnv } from "@hookline/kit";
import { z } from "zod";
import { longestTierMs, type RetryPolicy } from "./scheduling/retry-plan";
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
  /** The wait after attempt n is the n-th entry; an endpoint's retrySchedule replaces it. */
  RETRY_SCHEDULE: durationListEnv.prefault("5s,5m,30m,2h,5h,10h,10h"),
  RETRY_TIERS: retryTiersEnv.prefault("5s,30s,2m,5m,30m,2h,5h,10h"),
  RETRY_JITTER: z.coerce.number().min(0).lt(1).default(0.2),
  RETRY_OVERLOAD_MIN_DELAY: durationEnv.prefault("60s"),
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

/**
 * The retry policy, with the rule that spans variables: nothing may wait longer than the
 * longest tier, or it would hold that tier's slots for the whole wait and block the retries
 * behind it. A configured deferral maximum beyond it is refused.
 */
export function retryPolicyFromEnv(env: ClassifierEnv): RetryPolicy {
  const longest = longestTierMs({ tiers: env.RETRY_TIERS });
  if (env.DEFERRAL_MAX_DELAY !== undefined && env.DEFERRAL_MAX_DELAY > longest) {
    throw new ConfigError([
      `DEFERRAL_MAX_DELAY: ${env.DEFERRAL_MAX_DELAY}ms is longer than the longest of RETRY_TIERS ` +
        `(${longest}ms); nothing may wait longer than its tier`,
    ]);
  }
  return {
    schedule: env.RETRY_SCHEDULE,
    tiers: env.RETRY_TIERS,
    jitter: env.RETRY_JITTER,
    overloadMinDelayMs: env.RETRY_OVERLOAD_MIN_DELAY,
    deferralMinDelayMs: env.DEFERRAL_MIN_DELAY,
    deferralMaxDelayMs: env.DEFERRAL_MAX_DELAY ?? Math.min(DEFAULT_DEFERRAL_MAX_MS, longest),
  };
}
