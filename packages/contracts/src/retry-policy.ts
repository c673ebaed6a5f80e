import { z } from "zod";
import { parseDuration } from "./duration";

/** How the wait after each failed attempt grows; `schedule` lists the waits one by one. */
export const RETRY_STRATEGIES = [
  "exponential",
  "linear",
  "fibonacci",
  "fixed",
  "schedule",
] as const;
export type RetryStrategyName = (typeof RETRY_STRATEGIES)[number];

/** RETRY_TIERS when unset: the classifier holds retries in these; ingest bounds delays by them. */
export const DEFAULT_RETRY_TIERS = "5s,30s,2m,5m,30m,2h,5h,10h";
export const MAX_RETRY_ATTEMPTS = 20;
/** An endpoint's own delays start here: shorter ones would only hammer a failing receiver. */
export const MIN_RETRY_POLICY_DELAY_MS = 1_000;

const delayMessage = "a duration from 1s up to the longest retry tier, such as 5s, 5m or 2h";
const policyDelay = z.string().refine(
  (text) => {
    const ms = parseDuration(text);
    return ms !== undefined && ms >= MIN_RETRY_POLICY_DELAY_MS;
  },
  { message: delayMessage },
);

const attemptsMessage = `must be between 1 and ${MAX_RETRY_ATTEMPTS}`;
const jitterMessage = "must be between 0 and 1";

const retryPolicyShape = {
  strategy: z.enum(RETRY_STRATEGIES),
  /** The first wait, which the strategy grows; absent: the deployment's RETRY_BASE_DELAY. */
  baseDelay: policyDelay.optional(),
  /** No wait is longer; absent: the deployment's RETRY_MAX_DELAY. */
  maxDelay: policyDelay.optional(),
  /** Attempts in all, the first included; absent: RETRY_MAX_ATTEMPTS (schedule: its length + 1). */
  maxAttempts: z
    .number()
    .int({ message: attemptsMessage })
    .min(1, { message: attemptsMessage })
    .max(MAX_RETRY_ATTEMPTS, { message: attemptsMessage })
    .optional(),
  /** ±this fraction of each wait; absent: RETRY_JITTER. */
  jitter: z
    .number()
    .min(0, { message: jitterMessage })
    .max(1, { message: jitterMessage })
    .optional(),
  /** strategy "schedule" only: the wait after attempt n is the n-th entry. */
  schedule: z.array(policyDelay).min(1).max(MAX_RETRY_ATTEMPTS).optional(),
};

type RetryPolicyFields = z.infer<z.ZodObject<typeof retryPolicyShape>>;

/** The rules across fields; each issue names its field. */
function checkRetryPolicy(policy: RetryPolicyFields, context: z.RefinementCtx): void {
  if (policy.strategy === "schedule") {
    if (policy.schedule === undefined) {
      context.addIssue({
        code: "custom",
        path: ["schedule"],
        message: 'required when strategy is "schedule"',
      });
    }
    for (const field of ["baseDelay", "maxDelay"] as const) {
      if (policy[field] !== undefined) {
        context.addIssue({
          code: "custom",
          path: [field],
          message: 'not used by strategy "schedule"; its delays are the schedule\'s',
        });
      }
    }
    return;
  }
  if (policy.schedule !== undefined) {
    context.addIssue({
      code: "custom",
      path: ["schedule"],
      message: 'only for strategy "schedule"',
    });
  }
  const base = policy.baseDelay === undefined ? undefined : parseDuration(policy.baseDelay);
  const max = policy.maxDelay === undefined ? undefined : parseDuration(policy.maxDelay);
  if (base !== undefined && max !== undefined && max < base) {
    context.addIssue({ code: "custom", path: ["maxDelay"], message: "must be at least baseDelay" });
  }
}

/** An endpoint's retry policy as stored; it replaces `retrySchedule`. */
export const retryPolicySchema = z.object(retryPolicyShape).superRefine(checkRetryPolicy);
export type EndpointRetryPolicy = z.infer<typeof retryPolicySchema>;

/** The same, as the API takes it: unknown fields are refused, not dropped. */
export const retryPolicyInputSchema = z
  .strictObject(retryPolicyShape)
  .superRefine(checkRetryPolicy);

/** "10h", "90s", "1500ms": the largest unit that writes `ms` whole. */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [
    ["d", 86_400_000],
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1_000],
  ] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/**
 * The rule the schema can't know: no delay longer than the deployment's longest retry tier
 * (a retry may not wait longer than its tier). The first offending field, or undefined.
 */
export function retryPolicyDelayProblem(
  policy: EndpointRetryPolicy,
  longestTierMs: number,
): { path: string; message: string } | undefined {
  const message = `must be between 1s and ${formatDuration(longestTierMs)} (the longest of RETRY_TIERS)`;
  const tooLong = (text: string | undefined) =>
    text !== undefined && (parseDuration(text) ?? 0) > longestTierMs;
  if (tooLong(policy.baseDelay)) return { path: "retryPolicy.baseDelay", message };
  if (tooLong(policy.maxDelay)) return { path: "retryPolicy.maxDelay", message };
  const index = policy.schedule?.findIndex((text) => tooLong(text)) ?? -1;
  if (index >= 0) return { path: `retryPolicy.schedule.${index}`, message };
  return undefined;
}
