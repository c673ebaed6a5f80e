import { createHmac, createSecretKey, type KeyObject } from "node:crypto";

const SECRET_PREFIX = "whsec_";

/** The HMAC key of a `whsec_<base64>` secret: the decoded bytes after the prefix. */
export function secretKey(secret: string): Buffer {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  return Buffer.from(encoded, "base64");
}

/** Keys of the secrets seen lately: decoding one per webhook showed up in profiles. */
const keys = new Map<string, KeyObject>();
/** Secrets are a few per endpoint; past this many the map starts over rather than grow. */
const MAX_KEYS = 10_000;

function keyOf(secret: string): KeyObject {
  let key = keys.get(secret);
  if (!key) {
    if (keys.size >= MAX_KEYS) keys.clear();
    key = createSecretKey(secretKey(secret));
    keys.set(secret, key);
  }
  return key;
}

export interface SignatureInput {
  /** `webhook-id`: the event id, stable across retries. */
  id: string;
  /** `webhook-timestamp`: unix seconds at send time. */
  timestamp: number;
  /** The exact body bytes that are sent; never decoded or re-serialised. */
  body: Uint8Array;
  /** `whsec_…` secrets, newest first; one signature each. */
  secrets: readonly string[];
}

/**
 * The `webhook-signature` value per Standard Webhooks: `v1,<base64 HMAC-SHA256 of
 * "<id>.<timestamp>.<body>">` for each secret, separated by spaces, so receivers that hold
 * either the old or the new secret verify during a rotation.
 */
export function webhookSignature(input: SignatureInput): string {
  const prefix = `${input.id}.${input.timestamp}.`;
  return input.secrets
    .map((secret) => {
      const mac = createHmac("sha256", keyOf(secret));
      mac.update(prefix);
      mac.update(input.body);
      return `v1,${mac.digest("base64")}`;
    })
    .join(" ");
}
