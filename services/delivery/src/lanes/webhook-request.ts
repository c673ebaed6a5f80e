import {
  activeSecrets,
  DEFAULT_ENDPOINT_TIMEOUT_MS,
  type EndpointRecord,
  MAX_ENDPOINT_TIMEOUT_MS,
  type TaskMeta,
} from "@hookline/contracts";
import type { WebhookRequest } from "../http/webhook-client";
import {
  createEndpointCredentials,
  type EndpointCredentials,
} from "../signing/endpoint-credentials";
import { webhookSignature } from "../signing/signature";

export const USER_AGENT = "Hookline/0.1";

/** For records without sealed values only (HOOKLINE_ALLOW_PLAINTEXT_SECRETS, tests). */
export const plaintextCredentials: EndpointCredentials = createEndpointCredentials(undefined);

export function endpointTimeoutMs(endpoint: EndpointRecord): number {
  return Math.min(endpoint.timeoutMs ?? DEFAULT_ENDPOINT_TIMEOUT_MS, MAX_ENDPOINT_TIMEOUT_MS);
}

/**
 * The signed request for one attempt. `webhook-id` is the event id, so a receiver dedupes
 * retries; the timestamp is taken now, at send time. The endpoint's own headers go first so
 * that ours win (the schema already refuses webhook-*, content-type and the like). Sealed
 * secrets and header values are opened through `credentials`, which keeps them in memory.
 */
export function webhookRequestFor(
  endpoint: EndpointRecord,
  task: TaskMeta,
  body: Uint8Array,
  now: number,
  credentials: EndpointCredentials = plaintextCredentials,
): WebhookRequest {
  const headers: Record<string, string> = { ...credentials.headers(endpoint) };
  const active = activeSecrets(endpoint, now);
  // Every secret expired can only be a rotation gone wrong; signing with the newest keeps the
  // receiver able to verify instead of sending an unsigned webhook.
  const keys = (active.length > 0 ? active : endpoint.secrets.slice(0, 1)).map((secret) =>
    credentials.signingKey(endpoint.id, secret.value),
  );
  const timestamp = Math.floor(now / 1_000);
  headers["content-type"] = "application/json";
  headers["user-agent"] = USER_AGENT;
  headers["webhook-id"] = task.eventId;
  headers["webhook-timestamp"] = String(timestamp);
  headers["webhook-signature"] = webhookSignature({ id: task.eventId, timestamp, body, keys });
  return { url: endpoint.url, headers, body, timeoutMs: endpointTimeoutMs(endpoint) };
}
