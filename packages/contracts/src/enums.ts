import { z } from "zod";

export const attemptResults = [
  "delivered",
  "http_error",
  "timeout",
  "network_error",
  "circuit_open",
  "rate_limited",
  "endpoint_disabled",
  "endpoint_missing",
  "blocked_destination",
] as const;
export const attemptResultSchema = z.enum(attemptResults);
export type AttemptResult = z.infer<typeof attemptResultSchema>;

export const deadLetterReasons = [
  "non_retryable",
  "exhausted",
  "expired",
  "endpoint_disabled",
  "endpoint_deleted",
  "endpoint_gone",
  "poison",
  "invalid_message",
  /** The endpoint already had ENDPOINT_BACKLOG_QUOTA tasks waiting. */
  "backlog_full",
] as const;
export const deadLetterReasonSchema = z.enum(deadLetterReasons);
export type DeadLetterReason = z.infer<typeof deadLetterReasonSchema>;

export const deliveryLanes = ["fresh", "retry"] as const;
export type DeliveryLane = (typeof deliveryLanes)[number];
