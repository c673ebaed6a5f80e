import { z } from "zod";
import { parseDuration } from "./duration";
import { endpointIdSchema, eventTypeSchema } from "./ids";

export const MAX_ENDPOINT_TIMEOUT_MS = 30_000;
export const DEFAULT_ENDPOINT_TIMEOUT_MS = 15_000;

export const endpointSecretSchema = z.object({
  value: z.string().regex(/^whsec_[A-Za-z0-9+/]+={0,2}$/, "whsec_ followed by base64"),
  createdAt: z.iso.datetime(),
  expiresAt: z.iso.datetime().optional(),
});
export type EndpointSecret = z.infer<typeof endpointSecretSchema>;

export const retryScheduleSchema = z
  .array(
    z.string().refine((value) => parseDuration(value) !== undefined, {
      message: "a duration such as 200ms, 5s, 5m or 2h",
    }),
  )
  .min(1)
  .max(20);

/** Header names an endpoint may not override, because signing and routing depend on them. */
const reservedHeader =
  /^(webhook-|content-length$|content-type$|host$|connection$|transfer-encoding$)/i;

export const endpointHeadersSchema = z
  .record(
    z
      .string()
      .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$/, "a header name")
      .refine((name) => !reservedHeader.test(name), { message: "a reserved header name" }),
    z
      .string()
      .max(1024)
      .regex(/^[^\r\n]*$/, "a header value without line breaks"),
  )
  .refine((headers) => Object.keys(headers).length <= 20, { message: "at most 20 headers" });

/** The endpoint as stored in the KV bucket, secrets included. */
export const endpointRecordSchema = z.object({
  id: endpointIdSchema,
  url: z.url({ protocol: /^https?$/ }),
  description: z.string().max(500).optional(),
  eventTypes: z.array(eventTypeSchema).max(100),
  secrets: z.array(endpointSecretSchema).min(1),
  headers: endpointHeadersSchema.optional(),
  disabled: z.boolean(),
  disabledReason: z.string().max(200).optional(),
  rateLimitPerSecond: z.number().int().min(1).max(100_000).optional(),
  timeoutMs: z.number().int().min(100).max(MAX_ENDPOINT_TIMEOUT_MS).optional(),
  retrySchedule: retryScheduleSchema.optional(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});
export type EndpointRecord = z.infer<typeof endpointRecordSchema>;

/** Secrets that still verify at `now`: the newest first, rotated ones until they expire. */
export function activeSecrets(endpoint: EndpointRecord, now: number): EndpointSecret[] {
  return endpoint.secrets.filter(
    (secret) => secret.expiresAt === undefined || Date.parse(secret.expiresAt) > now,
  );
}
