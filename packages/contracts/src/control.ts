import { z } from "zod";
import { attemptResultSchema } from "./enums";

/**
 * The operators' control plane over NATS micro services (`@nats-io/services`): every service
 * instance registers as `<prefix>-<service>` (found with `$SRV.PING.<name>`), and answers
 * requests on subjects of its own, `<prefix>.control.<service>.<instanceId>.<endpoint>`, so a
 * caller can address each instance it found and tell which one did not answer.
 */
export const controlEndpoints = {
  /** Every service: readiness (its /readyz checks), version and uptime. */
  status: "status",
  /** Delivery: one endpoint's breaker, rate limiter and last attempts in this instance. */
  breakerHealth: "breaker-health",
  /** Delivery: closes one endpoint's breaker in this instance. */
  breakerReset: "breaker-reset",
} as const;
export type ControlEndpoint = (typeof controlEndpoints)[keyof typeof controlEndpoints];

/** The micro service name of one Hookline service in one deployment. */
export function controlServiceName(prefix: string, service: string): string {
  return `${prefix}-${service}`;
}

/** The group holding one instance's endpoints. */
export function controlGroup(prefix: string, service: string, instanceId: string): string {
  return `${prefix}.control.${service}.${instanceId}`;
}

export function controlSubject(
  prefix: string,
  service: string,
  instanceId: string,
  endpoint: ControlEndpoint,
): string {
  return `${controlGroup(prefix, service, instanceId)}.${endpoint}`;
}

/** The endpoint's subject in every instance of the service (for permissions). */
export function controlSubjectAll(
  prefix: string,
  service: string,
  endpoint: ControlEndpoint,
): string {
  return `${prefix}.control.${service}.*.${endpoint}`;
}

/** What `status` answers. */
export const instanceStatusSchema = z.object({
  service: z.string(),
  instanceId: z.string(),
  version: z.string(),
  startedAt: z.iso.datetime(),
  uptimeSeconds: z.number().nonnegative(),
  ready: z.boolean(),
  /** Each readiness check of the service's /readyz. */
  checks: z.record(z.string(), z.boolean()),
});
export type InstanceStatus = z.infer<typeof instanceStatusSchema>;

/** The request of `breaker-health` and `breaker-reset`. */
export const breakerRequestSchema = z.object({ endpointId: z.string().min(1) });
export type BreakerRequest = z.infer<typeof breakerRequestSchema>;

export const breakerStateSchema = z.enum(["closed", "open", "half_open"]);

export const breakerSnapshotSchema = z.object({
  state: breakerStateSchema,
  /** Counted in the rolling window (windowMs): requests sent, and those that failed. */
  requests: z.number().int().nonnegative(),
  failures: z.number().int().nonnegative(),
  windowMs: z.number().int().positive(),
  errorThresholdPercentage: z.number(),
  volumeThreshold: z.number().int(),
  /** When it opened; null unless open or half-open. */
  openedAt: z.iso.datetime().nullable(),
  /** When an open breaker lets its probe through (goes half-open); null unless open. */
  probeAt: z.iso.datetime().nullable(),
});
export type BreakerSnapshot = z.infer<typeof breakerSnapshotSchema>;

export const rateLimiterSnapshotSchema = z.object({
  ratePerSecond: z.number().positive(),
  /** Tokens a full bucket holds. */
  capacity: z.number().positive(),
  /** Tokens in the bucket now. */
  tokens: z.number().nonnegative(),
});
export type RateLimiterSnapshot = z.infer<typeof rateLimiterSnapshotSchema>;

export const recentAttemptSchema = z.object({
  at: z.iso.datetime(),
  result: attemptResultSchema,
  status: z.number().int().optional(),
  ms: z.number().nonnegative(),
});
export type RecentAttempt = z.infer<typeof recentAttemptSchema>;

/** What `breaker-health` answers: one endpoint as one delivery instance sees it. */
export const endpointGuardHealthSchema = z.object({
  /** False when this instance keeps nothing for the endpoint (never seen, or evicted). */
  known: z.boolean(),
  breaker: breakerSnapshotSchema,
  /** Null when the endpoint has no rate limit (or the instance has not seen it). */
  rateLimiter: rateLimiterSnapshotSchema.nullable(),
  /** The last attempts this instance made, newest first. */
  lastAttempts: z.array(recentAttemptSchema),
});
export type EndpointGuardHealth = z.infer<typeof endpointGuardHealthSchema>;

/** What `breaker-reset` answers. */
export const breakerResetSchema = z.object({
  known: z.boolean(),
  previousState: breakerStateSchema,
  state: breakerStateSchema,
});
export type BreakerReset = z.infer<typeof breakerResetSchema>;
