import { z } from "@hono/zod-openapi";
import { endpointIdSchema, eventIdSchema, eventTypeSchema } from "@hookline/contracts";
import { MAX_PAYLOAD_DEPTH, nestsAtMost } from "../events/payload-depth";

export const MAX_BATCH_EVENTS = 500;
export const MAX_ENDPOINT_IDS = 1_000;

// http/event-checks.ts mirrors these schemas for the event routes' fast path: change both.
export const eventBodySchema = z
  .object({
    eventType: eventTypeSchema.meta({ example: "order.created" }),
    payload: z
      .unknown()
      .refine((value) => value !== undefined, { message: "required: any JSON value" })
      .refine((value) => nestsAtMost(value, MAX_PAYLOAD_DEPTH), {
        message: `nested deeper than ${MAX_PAYLOAD_DEPTH} levels of arrays and objects`,
      })
      .openapi({
        example: { orderId: "o_123", total: 4200 },
        description: `Any JSON value, nesting arrays and objects at most ${MAX_PAYLOAD_DEPTH} levels deep`,
      }),
    id: eventIdSchema.optional().meta({
      example: "order-o_123-created",
      description: "Idempotency: the same id within the dedupe window creates no new tasks",
    }),
    endpointIds: z
      .array(endpointIdSchema)
      .min(1)
      .max(MAX_ENDPOINT_IDS)
      .optional()
      .openapi({ description: "Deliver only to these of the subscribed endpoints" }),
  })
  .openapi("Event");

export const eventResultSchema = z
  .object({
    eventId: z.string().openapi({ example: "evt_01JD8Z6Q3V4W5X6Y7Z8A9B0C1D" }),
    tasks: z.number().int().openapi({ example: 2, description: "Endpoints the event fans out to" }),
    duplicate: z
      .boolean()
      .openapi({ description: "Every task was already stored by an earlier request" }),
  })
  .openapi("EventAccepted");

export const batchBodySchema = z
  .object({ events: z.array(eventBodySchema).min(1).max(MAX_BATCH_EVENTS) })
  .openapi("EventBatch");

export const batchResultSchema = z
  .object({ results: z.array(eventResultSchema) })
  .openapi("EventBatchAccepted");

export const idempotencyHeadersSchema = z.object({
  "idempotency-key": eventIdSchema.optional().meta({
    description: "The event id when the body has none",
    example: "order-o_123-created",
  }),
});
