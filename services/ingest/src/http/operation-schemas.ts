import { z } from "@hono/zod-openapi";
import {
  breakerResetSchema,
  endpointGuardHealthSchema,
  instanceStatusSchema,
} from "@hookline/contracts";

const instanceId = {
  instanceId: z.string().openapi({ description: "The delivery instance (micro service id)" }),
  version: z.string(),
};

/** An instance found by discovery that gave no usable answer. */
const instanceFailureSchema = z.object({
  ...instanceId,
  answered: z.literal(false),
  error: z.string().openapi({
    description:
      "timeout (no answer within INGEST_CONTROL_TIMEOUT), gone (it stopped since discovery), " +
      "failed, unreadable, or `refused: …`",
    example: "timeout",
  }),
});

export const endpointHealthSchema = z
  .object({
    endpointId: z.string(),
    checkedAt: z.string(),
    instances: z.array(
      z.union([
        endpointGuardHealthSchema.extend({ ...instanceId, answered: z.literal(true) }),
        instanceFailureSchema,
      ]),
    ),
  })
  .openapi("EndpointHealth");

export const breakerResetResultSchema = z
  .object({
    endpointId: z.string(),
    /** Every instance discovery found answered and closed the breaker. */
    allReset: z.boolean(),
    instances: z.array(
      z.union([
        breakerResetSchema.extend({ ...instanceId, answered: z.literal(true) }),
        instanceFailureSchema,
      ]),
    ),
  })
  .openapi("BreakerReset");

const streamStateSchema = z.union([
  z.object({
    name: z.string(),
    exists: z.literal(true),
    messages: z.number(),
    bytes: z.number(),
    consumers: z.number(),
    maxBytes: z.number().openapi({ description: "-1: no limit" }),
    maxMessages: z.number().openapi({ description: "-1: no limit" }),
    discard: z.enum(["old", "new"]),
  }),
  z.object({ name: z.string(), exists: z.literal(false) }),
]);

export const systemHealthSchema = z
  .object({
    ready: z.boolean(),
    checkedAt: z.string(),
    services: z.array(
      z.object({
        service: z.enum(["ingest", "delivery", "classifier", "dlq"]),
        ready: z.boolean().openapi({ description: "At least one instance is ready" }),
        instances: z.array(
          z.union([
            instanceStatusSchema.extend({ answered: z.literal(true) }),
            instanceFailureSchema.extend({ ready: z.literal(false) }),
          ]),
        ),
      }),
    ),
    streams: z.array(streamStateSchema),
    notReady: z.array(z.string()).openapi({ description: "What is not ready; empty when ready" }),
  })
  .openapi("SystemHealth");
