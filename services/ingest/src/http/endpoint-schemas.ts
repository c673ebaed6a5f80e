import { z } from "@hono/zod-openapi";
import {
  checkEndpointUrl,
  DEFAULT_BLOCKED_PORTS,
  ENDPOINT_FORMATS,
  type EndpointRecord,
  endpointHeadersSchema,
  endpointRecordSchema,
  formatPortList,
  MAX_ENDPOINT_URL_LENGTH,
  RETRY_STRATEGIES,
  retryPolicyInputSchema,
  tenantIdSchema,
  tenantOfEndpoint,
  urlWithoutCredentials,
} from "@hookline/contracts";
import { SECRET_MAX_BYTES, SECRET_MIN_BYTES, secretKeyBytes } from "../endpoints/secrets";

const record = endpointRecordSchema.shape;

const formatDescription =
  "The body's shape: `standard` (Standard Webhooks, the default), or `slack` or `discord` for " +
  "their incoming webhooks: `{text}` or `{content}`, one readable line with a link. Requests " +
  "are signed either way.";
const exampleId = "ep_01JD8Z6Q3V4W5X6Y7Z8A9B0C1D";

/**
 * What every read shows in place of a custom header's value: header values are write-only, as
 * they often hold credentials. The API refuses it as a value, so a record read and written back
 * can't store it by mistake.
 */
export const HEADER_VALUE_MASK = "<redacted>";

function maskedHeaders(headers: Record<string, string>): Record<string, string> {
  const masked: Record<string, string> = {};
  for (const name of Object.keys(headers)) masked[name] = HEADER_VALUE_MASK;
  return masked;
}

const retryPolicyDescription =
  "How failed deliveries are retried; replaces `retrySchedule` (setting one clears the other, " +
  "and a request may not give both). The wait after attempt n: exponential base·2^(n-1), " +
  "linear base·n, fibonacci base·fib(n), fixed base, each at most maxDelay; schedule: the n-th " +
  "entry. maxAttempts 1–20 counts attempts, the first included; jitter 0–1 spreads each wait " +
  "by ±that fraction; delays from 1s to the longest of RETRY_TIERS. Fields left out take the " +
  "deployment's defaults (RETRY_BASE_DELAY, RETRY_MAX_DELAY, RETRY_MAX_ATTEMPTS, RETRY_JITTER).";

/** The retry policy as reads show it: as written, absent fields being the deployment's. */
const retryPolicyViewSchema = z
  .object({
    strategy: z.enum(RETRY_STRATEGIES),
    baseDelay: z.string().optional(),
    maxDelay: z.string().optional(),
    maxAttempts: z.number().int().optional(),
    jitter: z.number().optional(),
    schedule: z.array(z.string()).optional(),
  })
  .openapi("RetryPolicy", {
    example: { strategy: "exponential", baseDelay: "5s", maxDelay: "1h", maxAttempts: 10 },
    description: retryPolicyDescription,
  });

/** An older record's retrySchedule reads as the policy it is. */
function retryPolicyView(endpoint: EndpointRecord): z.infer<typeof retryPolicyViewSchema> | null {
  if (endpoint.retryPolicy !== undefined) return endpoint.retryPolicy;
  if (endpoint.retrySchedule !== undefined) {
    return { strategy: "schedule", schedule: endpoint.retrySchedule };
  }
  return null;
}

/** The endpoint as the API shows it: no secrets, no header values, absent optionals as null. */
export const endpointSchema = z
  .object({
    id: z.string().openapi({ example: exampleId }),
    tenantId: z.string().openapi({ example: "acme", description: "The tenant it belongs to" }),
    url: z.string().openapi({ example: "https://example.com/webhooks" }),
    description: z.string().nullable().openapi({ example: "Orders to the ERP" }),
    eventTypes: z
      .array(z.string())
      .openapi({ example: ["order.created"], description: "Empty: every event type" }),
    headers: z
      .record(z.string(), z.string())
      .nullable()
      .openapi({
        example: { authorization: HEADER_VALUE_MASK },
        description: `Header names; every value shows as ${JSON.stringify(HEADER_VALUE_MASK)} (write-only)`,
      }),
    disabled: z.boolean().openapi({ example: false }),
    disabledReason: z.string().nullable().openapi({ example: null }),
    rateLimitPerSecond: z.number().int().nullable().openapi({ example: 50 }),
    timeoutMs: z.number().int().nullable().openapi({ example: 10_000 }),
    retrySchedule: z.array(z.string()).nullable().openapi({
      example: null,
      description: "The older form of retryPolicy (strategy schedule), kept for its clients",
    }),
    retryPolicy: retryPolicyViewSchema.nullable(),
    maxInFlight: z.number().int().nullable().openapi({
      example: 16,
      description: "Tasks sent to it at once per delivery instance; null: the default",
    }),
    backlogQuota: z.number().int().nullable().openapi({
      example: null,
      description: "Tasks it may have waiting; null: ENDPOINT_BACKLOG_QUOTA",
    }),
    failingSince: z.string().nullable().openapi({
      example: null,
      description: "When its current run of failed attempts began; null after a success",
    }),
    format: z
      .enum(ENDPOINT_FORMATS)
      .openapi({ example: "standard", description: formatDescription }),
    createdAt: z.string().openapi({ example: "2025-01-01T12:00:00.000Z" }),
    updatedAt: z.string().openapi({ example: "2025-01-01T12:00:00.000Z" }),
  })
  .openapi("Endpoint");
export type PublicEndpoint = z.infer<typeof endpointSchema>;

export function publicEndpoint(endpoint: EndpointRecord): PublicEndpoint {
  return {
    id: endpoint.id,
    tenantId: tenantOfEndpoint(endpoint),
    url: urlWithoutCredentials(endpoint.url),
    description: endpoint.description ?? null,
    eventTypes: endpoint.eventTypes,
    headers: endpoint.headers === undefined ? null : maskedHeaders(endpoint.headers),
    disabled: endpoint.disabled,
    disabledReason: endpoint.disabledReason ?? null,
    rateLimitPerSecond: endpoint.rateLimitPerSecond ?? null,
    timeoutMs: endpoint.timeoutMs ?? null,
    retrySchedule: endpoint.retrySchedule ?? null,
    retryPolicy: retryPolicyView(endpoint),
    maxInFlight: endpoint.maxInFlight ?? null,
    backlogQuota: endpoint.backlogQuota ?? null,
    failingSince: endpoint.failingSince ?? null,
    format: endpoint.format ?? "standard",
    createdAt: endpoint.createdAt,
    updatedAt: endpoint.updatedAt,
  };
}

const headersDescription =
  "Sent with every delivery, at most 20. Names are HTTP tokens; values printable ASCII. " +
  "Headers Hookline sets are refused: webhook-*, content-type, content-length, host, " +
  "connection, keep-alive, proxy-connection, transfer-encoding, upgrade, te, trailer, expect. " +
  `Values are write-only: reads show ${JSON.stringify(HEADER_VALUE_MASK)}, which is refused ` +
  "as a value; send the whole map again to change one.";

/** endpointHeadersSchema, refusing the mask reads show: it is never a value anyone meant. */
const headersInputSchema = endpointHeadersSchema.superRefine((headers, context) => {
  for (const [name, value] of Object.entries(headers)) {
    if (value === HEADER_VALUE_MASK) {
      context.addIssue({
        code: "custom",
        path: [name],
        message: `${JSON.stringify(HEADER_VALUE_MASK)} is what reads show in place of a value; send the real value`,
      });
    }
  }
});

/**
 * The URL as the API takes it. Stored records keep the looser record schema, so records written
 * before these rules still load; delivery refuses to send to them instead. Ports are checked by
 * the routes, against the deployment's policy.
 */
const endpointUrlInputSchema = record.url
  .max(MAX_ENDPOINT_URL_LENGTH, `longer than ${MAX_ENDPOINT_URL_LENGTH} characters`)
  .superRefine((url, context) => {
    const verdict = checkEndpointUrl(url, { blocked: [] });
    if (verdict.outcome === "refused" && verdict.problem === "credentials") {
      context.addIssue({ code: "custom", message: verdict.message });
    }
  })
  .meta({
    example: "https://example.com/webhooks",
    description:
      `http or https, at most ${MAX_ENDPOINT_URL_LENGTH} characters, without user:password@ ` +
      "(send credentials in `headers`). A port the deployment refuses gets a 400; by default " +
      `${formatPortList(DEFAULT_BLOCKED_PORTS).replaceAll(",", ", ")}.`,
  });

const secretExample = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

export const secretInputSchema = z
  .string()
  .refine(
    (secret) => {
      const bytes = secretKeyBytes(secret);
      return bytes !== undefined && bytes >= SECRET_MIN_BYTES && bytes <= SECRET_MAX_BYTES;
    },
    { message: `whsec_ followed by the base64 of ${SECRET_MIN_BYTES}–${SECRET_MAX_BYTES} bytes` },
  )
  .openapi({ example: secretExample });

export const createEndpointBodySchema = z
  .strictObject({
    url: endpointUrlInputSchema,
    eventTypes: record.eventTypes
      .default([])
      .meta({ example: ["order.created"], description: "Empty or absent: every event type" }),
    description: record.description,
    headers: headersInputSchema.optional().meta({ description: headersDescription }),
    rateLimitPerSecond: record.rateLimitPerSecond,
    timeoutMs: record.timeoutMs,
    retrySchedule: record.retrySchedule.meta({
      example: ["5s", "1m", "10m"],
      description: 'The older form of `retryPolicy: {strategy: "schedule", schedule}`',
    }),
    retryPolicy: retryPolicyInputSchema.optional().meta({ description: retryPolicyDescription }),
    maxInFlight: record.maxInFlight.meta({
      description: "Tasks sent to it at once per delivery instance (1–1000)",
    }),
    backlogQuota: record.backlogQuota.meta({
      description:
        "Tasks it may have waiting before more are dead-lettered as backlog_full; " +
        "ENDPOINT_BACKLOG_QUOTA is the most it can be",
    }),
    format: record.format.meta({ description: formatDescription }),
    secret: secretInputSchema
      .optional()
      .openapi({ description: "Generated (whsec_ + 24 random bytes) when absent" }),
  })
  .openapi("CreateEndpoint");

export const updateEndpointBodySchema = z
  .strictObject({
    url: endpointUrlInputSchema.optional(),
    eventTypes: record.eventTypes.optional(),
    description: record.description.unwrap().nullable().optional(),
    headers: headersInputSchema.nullable().optional().meta({ description: headersDescription }),
    rateLimitPerSecond: record.rateLimitPerSecond.unwrap().nullable().optional(),
    timeoutMs: record.timeoutMs.unwrap().nullable().optional(),
    retrySchedule: record.retrySchedule.unwrap().nullable().optional(),
    retryPolicy: retryPolicyInputSchema
      .nullable()
      .optional()
      .meta({ description: retryPolicyDescription }),
    maxInFlight: record.maxInFlight.unwrap().nullable().optional(),
    backlogQuota: record.backlogQuota.unwrap().nullable().optional(),
    format: record.format.unwrap().nullable().optional().meta({ description: formatDescription }),
    disabled: z.boolean().optional().openapi({ description: "false also clears disabledReason" }),
    secret: secretInputSchema.optional().openapi({
      description: "Becomes the newest secret; the previous one stays valid for 24 hours",
    }),
  })
  .openapi("UpdateEndpoint", { description: "null clears an optional field" });

export const createdEndpointSchema = endpointSchema
  .extend({ secret: z.string().openapi({ example: secretExample }) })
  .openapi("CreatedEndpoint");

export const endpointSecretSchema = z
  .object({ secret: z.string().openapi({ example: secretExample }) })
  .openapi("EndpointSecret");

export const endpointIdParamsSchema = z.object({
  id: z.string().openapi({ param: { name: "id", in: "path" }, example: exampleId }),
});

export const tenantIdParamSchema = tenantIdSchema.meta({
  param: { name: "tenantId", in: "path" },
  example: "acme",
});

export const tenantParamsSchema = z.object({ tenantId: tenantIdParamSchema });

export const tenantEndpointIdParamsSchema = endpointIdParamsSchema.extend({
  tenantId: tenantIdParamSchema,
});
