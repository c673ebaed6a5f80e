import { z } from "zod";
import { parseDuration } from "./duration";
import { DEFAULT_TENANT_ID, endpointIdSchema, eventTypeSchema, tenantIdSchema } from "./ids";
import { retryPolicySchema } from "./retry-policy";

export const MAX_ENDPOINT_TIMEOUT_MS = 30_000;
export const DEFAULT_ENDPOINT_TIMEOUT_MS = 15_000;

/**
 * A value sealed with AES-256-GCM (kit's secret-box): `enc:v1:<kid>:<iv>:<ciphertext and tag>`,
 * base64url. Signing secrets and header values are stored this way; plain ones written before
 * encryption keep loading until they are re-encrypted.
 */
export const SEALED_VALUE_PATTERN =
  /^enc:v1:[A-Za-z0-9_-]{1,32}:[A-Za-z0-9_-]{16}:[A-Za-z0-9_-]{22,}$/;
/** Room for a sealed 1,024-character header value (~1,450 characters) and then some. */
export const MAX_SEALED_VALUE_LENGTH = 2_048;

export function isSealedValue(value: string): boolean {
  return value.length <= MAX_SEALED_VALUE_LENGTH && SEALED_VALUE_PATTERN.test(value);
}

const PLAIN_SECRET = /^whsec_[A-Za-z0-9+/]+={0,2}$/;

export const endpointSecretSchema = z.object({
  value: z.string().refine((value) => PLAIN_SECRET.test(value) || isSealedValue(value), {
    message: "whsec_ followed by base64, or a sealed value (enc:v1:…)",
  }),
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

export const MAX_ENDPOINT_HEADERS = 20;
const MAX_HEADER_NAME_LENGTH = 64;
const MAX_HEADER_VALUE_LENGTH = 1024;

/** RFC 9110 token characters: what undici's isValidHTTPToken takes as a header name. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/**
 * Visible ASCII with spaces and tabs inside. undici refuses control characters and DEL; it would
 * send latin-1 bytes but refuses the rest of Unicode, so non-ASCII is refused as a whole. Leading
 * or trailing whitespace is refused rather than trimmed, so what is stored is what is sent.
 */
const HEADER_VALUE = /^(?:[\x21-\x7e](?:[\t\x20-\x7e]*[\x21-\x7e])?)?$/;

/**
 * Headers the sender owns. Signing depends on webhook-* and content-type. The rest are hop-by-hop
 * or framing headers: undici refuses transfer-encoding, keep-alive, upgrade and expect outright,
 * and host, content-length, connection, te, trailer and proxy-connection would change how the
 * request is framed, routed or kept alive.
 */
const SENDER_HEADERS = new Set([
  "connection",
  "content-length",
  "content-type",
  "expect",
  "host",
  "keep-alive",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/** Why a header cannot be sent with every delivery, or undefined when it can. */
export function endpointHeaderProblem(name: string, value: string): string | undefined {
  const quoted = JSON.stringify(name);
  if (name.length === 0 || name.length > MAX_HEADER_NAME_LENGTH || !HEADER_NAME.test(name)) {
    return `${quoted} is not a header name: 1-${MAX_HEADER_NAME_LENGTH} letters, digits or !#$%&'*+-.^_\`|~`;
  }
  const lower = name.toLowerCase();
  if (SENDER_HEADERS.has(lower) || lower.startsWith("webhook-")) {
    return `${quoted} is set by Hookline for each delivery and cannot be configured`;
  }
  if (value.length > MAX_HEADER_VALUE_LENGTH) {
    return `the value of ${quoted} is longer than ${MAX_HEADER_VALUE_LENGTH} characters`;
  }
  if (!HEADER_VALUE.test(value)) {
    return (
      `the value of ${quoted} must be printable ASCII (spaces and tabs only inside it), ` +
      "without control characters, line breaks or non-ASCII characters"
    );
  }
  return undefined;
}

function checkHeaders(headers: Record<string, string>, context: z.RefinementCtx) {
  const names = Object.keys(headers);
  if (names.length > MAX_ENDPOINT_HEADERS) {
    context.addIssue({
      code: "custom",
      message: `at most ${MAX_ENDPOINT_HEADERS} headers`,
      path: [],
    });
  }
  const seen = new Map<string, string>();
  for (const name of names) {
    const problem = endpointHeaderProblem(name, headers[name] ?? "");
    if (problem !== undefined) context.addIssue({ code: "custom", message: problem, path: [name] });
    const earlier = seen.get(name.toLowerCase());
    if (earlier !== undefined) {
      const message = `${JSON.stringify(earlier)} and ${JSON.stringify(name)} are the same header`;
      context.addIssue({ code: "custom", message, path: [name] });
    }
    seen.set(name.toLowerCase(), name);
  }
}

/**
 * Headers an endpoint sends with every delivery, as the API takes them: only what undici will
 * send unchanged, and nothing the sender owns. Each issue's path is the header's name.
 */
export const endpointHeadersSchema = z
  .record(z.string(), z.string())
  .superRefine((headers, context) => checkHeaders(headers, context));

/** What endpointHeadersSchema reserved before it followed undici's rules. */
const formerlyReservedHeader =
  /^(webhook-|content-length$|content-type$|host$|connection$|transfer-encoding$)/i;

/**
 * Headers as stored records may hold them: the rules before endpointHeadersSchema followed
 * undici's, so that records written then still load, keep delivering and can be edited. Values
 * are sealed (isSealedValue) or, in records from before encryption, plain.
 */
export const storedEndpointHeadersSchema = z
  .record(
    z
      .string()
      .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$/, "a header name")
      .refine((name) => !formerlyReservedHeader.test(name), { message: "a reserved header name" }),
    z
      .string()
      .regex(/^[^\r\n]*$/, "a header value without line breaks")
      .refine((value) => value.length <= MAX_HEADER_VALUE_LENGTH || isSealedValue(value), {
        message: `at most ${MAX_HEADER_VALUE_LENGTH} characters (a sealed value: ${MAX_SEALED_VALUE_LENGTH})`,
      }),
  )
  .refine((headers) => Object.keys(headers).length <= MAX_ENDPOINT_HEADERS, {
    message: `at most ${MAX_ENDPOINT_HEADERS} headers`,
  });

export const ENDPOINT_FORMATS = ["standard", "slack", "discord"] as const;
export type EndpointFormat = (typeof ENDPOINT_FORMATS)[number];
export const endpointFormatSchema = z.enum(ENDPOINT_FORMATS);

/** The endpoint as stored in the KV bucket, secrets included. */
export const endpointRecordSchema = z.object({
  id: endpointIdSchema,
  /** Absent on records from before tenants: they belong to DEFAULT_TENANT_ID. */
  tenantId: tenantIdSchema.optional(),
  url: z.url({ protocol: /^https?$/ }),
  description: z.string().max(500).optional(),
  eventTypes: z.array(eventTypeSchema).max(100),
  secrets: z.array(endpointSecretSchema).min(1),
  headers: storedEndpointHeadersSchema.optional(),
  disabled: z.boolean(),
  disabledReason: z.string().max(200).optional(),
  rateLimitPerSecond: z.number().int().min(1).max(100_000).optional(),
  timeoutMs: z.number().int().min(100).max(MAX_ENDPOINT_TIMEOUT_MS).optional(),
  retrySchedule: retryScheduleSchema.optional(),
  /** Replaces retrySchedule; the classifier uses it when both are present (ingest writes one). */
  retryPolicy: retryPolicySchema.optional(),
  /** Tasks of this endpoint sent at once per delivery instance; DELIVERY_ENDPOINT_MAX_IN_FLIGHT. */
  maxInFlight: z.number().int().min(1).max(1_000).optional(),
  /** Tasks it may have waiting, below the deployment's ENDPOINT_BACKLOG_QUOTA; more dead-letter. */
  backlogQuota: z.number().int().min(1).max(100_000_000).optional(),
  /** When its current run of failures began; cleared by a success (ENDPOINT_DISABLE_AFTER). */
  failingSince: z.iso.datetime().optional(),
  /** The body's shape: Standard Webhooks (absent), or a Slack or Discord incoming webhook's. */
  format: endpointFormatSchema.optional(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});
export type EndpointRecord = z.infer<typeof endpointRecordSchema>;

/** The endpoint's tenant: records from before tenants belong to DEFAULT_TENANT_ID. */
export function tenantOfEndpoint(endpoint: Pick<EndpointRecord, "tenantId">): string {
  return endpoint.tenantId ?? DEFAULT_TENANT_ID;
}

/** Secrets that still verify at `now`: the newest first, rotated ones until they expire. */
export function activeSecrets(endpoint: EndpointRecord, now: number): EndpointSecret[] {
  return endpoint.secrets.filter(
    (secret) => secret.expiresAt === undefined || Date.parse(secret.expiresAt) > now,
  );
}
